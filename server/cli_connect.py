"""Where the CLI connects (`--target`), and why a connection failed: no server, or a TLS mismatch."""

from __future__ import annotations

import socket
import ssl

DEFAULT_PORT = 50051  # `make run`'s port (SFDEST_LISTEN's default)
PROBE_SECONDS = 5.0
# The HTTP/2 connection preface and an empty SETTINGS frame: a plaintext gRPC server answers with SETTINGS.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_SETTINGS = 0x4


def host_port(target: str) -> tuple[str, int] | None:
    """(host, port) of a HOST[:PORT] target (IPv6 in brackets, or bare without a port); None for gRPC URIs."""
    if "://" in target or target.startswith(("unix:", "unix-abstract:", "vsock:", "ipv4:", "ipv6:", "dns:")):
        return None
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif target.count(":") > 1:  # a bare IPv6 address: it cannot carry a port
        host, port = target, ""
    else:
        host, _, port = target.partition(":")
    if not port.isdigit():
        return (host, DEFAULT_PORT) if not port else None
    return host, int(port)


def with_default_port(target: str) -> str:
    """`localhost` -> `localhost:50051` (gRPC itself would take 443); targets with a port or a scheme unchanged."""
    address = host_port(target)
    if address is None:
        return target
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _connect(address: tuple[str, int]) -> socket.socket | None:
    try:
        return socket.create_connection(address, timeout=PROBE_SECONDS)
    except OSError:
        return None


def speaks_tls(address: tuple[str, int]) -> bool:
    """Whether a TLS handshake (certificates not checked: only the protocol is asked) completes."""
    sock = _connect(address)
    if sock is None:
        return False
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a probe: nothing is sent over it
    context.set_alpn_protocols(["h2"])
    try:
        with context.wrap_socket(sock, server_hostname=address[0]):
            return True
    except OSError:  # ssl.SSLError included: not TLS, or the handshake was refused
        return False
    finally:
        sock.close()


def speaks_plaintext_http2(address: tuple[str, int]) -> bool:
    """Whether the server answers the HTTP/2 preface in the clear with a SETTINGS frame (a plaintext gRPC port)."""
    sock = _connect(address)
    if sock is None:
        return False
    try:
        sock.sendall(_H2_PREFACE)
        header = b""
        while len(header) < 9:
            chunk = sock.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
        return header[3] == _H2_SETTINGS
    except OSError:
        return False
    finally:
        sock.close()


def unavailable_reason(target: str, used_tls: bool, details: str) -> str:
    """What to tell the operator when a call to `target` failed UNAVAILABLE."""
    address = host_port(target)
    if address is not None and not used_tls and speaks_tls(address):
        return (f"the server at {target} speaks TLS but this call was plaintext: add --ca-file PEM (or --tls to "
                "trust the system's CAs)")
    if address is not None and used_tls and speaks_plaintext_http2(address):
        return (f"the server at {target} speaks plaintext, not TLS, but this call used TLS: drop --tls, --ca-file, "
                "--cert-file and --key-file")
    if address is not None and used_tls and speaks_tls(address):
        return (f"the TLS handshake with {target} failed: {details} (check --ca-file, and --cert-file/--key-file if "
                "the server requires client certificates)")
    return f"cannot reach a server at {target}: {details} (is `make run` running?)"
