"""The `sfdest` command: serve, apply and validate (against a running server or in-process)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import descriptor_pool, json_format
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from server import cli_connect, errors
from server.cli_output import Progress, Tally, diagnostics_text, result_json
from server.config import LOG_LEVELS, ConfigError, Settings, settings_table
from server.eventfile import EventFile, UsageError, parse_events
from server.logs import configure_logging

DEFAULT_CONNECTION = {"instance_url": "https://demo.my.salesforce.com"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class ArgumentsError(UsageError):
    """Arguments that do not go together: reported with the command's usage, as argparse reports its own."""


# Input files -----------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


_UNKNOWN_ENUM = re.compile(r"Invalid enum value (\S+) for enum type ([\w.]+)")


def _valid_enum_values(error: str) -> str:
    """For json_format's "Invalid enum value X for enum type T": the values T does accept."""
    found = _UNKNOWN_ENUM.search(error)
    if found is None:
        return ""
    try:
        enum = descriptor_pool.Default().FindEnumTypeByName(found.group(2))
    except KeyError:
        return ""
    return f" (valid values: {', '.join(v.name for v in enum.values if v.number != 0)})"


def _parse_message(path: str, message: Any) -> Any:
    try:
        return json_format.Parse(_read(path), message)
    except json_format.ParseError as exc:
        raise UsageError(f"{path}: {exc}{_valid_enum_values(str(exc))}") from None


def _connection(args: argparse.Namespace) -> pb.Connection | None:
    if getattr(args, "no_connection", False):
        return None
    if args.connection:
        return _parse_message(args.connection, pb.Connection())
    return json_format.ParseDict(DEFAULT_CONNECTION, pb.Connection())


# Calling ---------------------------------------------------------------------------------------
def _client_token(args: argparse.Namespace) -> str:
    """--token-file, else SFDEST_AUTH_TOKEN_FILE, else SFDEST_AUTH_TOKEN (never a command-line value: ps shows it)."""
    path = args.token_file or os.environ.get("SFDEST_AUTH_TOKEN_FILE", "").strip()
    return _read(path).strip() if path else os.environ.get("SFDEST_AUTH_TOKEN", "").strip()


def _uses_tls(args: argparse.Namespace) -> bool:
    return bool(args.tls or args.ca_file or args.cert_file)


def _channel(args: argparse.Namespace) -> grpc.Channel:
    if not _uses_tls(args):
        return grpc.insecure_channel(args.target)
    if bool(args.cert_file) != bool(args.key_file):
        raise ArgumentsError("--cert-file and --key-file go together (mutual TLS)")
    files = [Path(f).read_bytes() if f else None for f in (args.ca_file, args.key_file, args.cert_file)]
    return grpc.secure_channel(args.target, grpc.ssl_channel_credentials(*files))


def _caller(args: argparse.Namespace, method: str) -> Callable[[Any], Any]:
    """A function sending one request: over gRPC with --target, else to an in-process servicer."""
    if args.target:
        args.target = cli_connect.with_default_port(args.target)
        token = _client_token(args)
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        stub = destination_pb2_grpc.DestinationServiceStub(_channel(args))
        return lambda request: getattr(stub, method)(request, timeout=args.timeout, metadata=metadata)
    from server.container import build_container
    from server.local import LocalContext

    servicer = build_container(Settings.from_env()).servicer()
    return lambda request: getattr(servicer, method)(request, LocalContext(args.timeout))


def _print_rpc_error(exc: grpc.RpcError, args: argparse.Namespace, out: TextIO) -> None:
    code = exc.code()
    if code is grpc.StatusCode.UNAVAILABLE and args.target:
        print(f"sfdest: {cli_connect.unavailable_reason(args.target, _uses_tls(args), exc.details())}", file=out)
        return
    print(f"sfdest: {code.name}: {exc.details()}", file=out)
    try:
        status = rpc_status.from_call(exc)
    except ValueError:
        status = None
    if status is not None:
        for v in errors.details_of(status)[1]:
            print(f"  {v.field}: {v.description}" if v.field else f"  {v.description}", file=out)


# Commands --------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import serve

    overrides = {env: str(value) for env, value in (
        ("SFDEST_LISTEN", args.listen), ("SFDEST_BACKEND", args.backend), ("SFDEST_MAX_WORKERS", args.max_workers),
        ("SFDEST_MAX_EVENTS", args.max_events), ("SFDEST_GRACE_SECONDS", args.grace_seconds),
        ("SFDEST_LOG_LEVEL", args.log_level), ("SFDEST_REFLECTION", args.reflection)) if value is not None}
    settings = Settings.from_env(overrides=overrides)
    configure_logging(settings.log_level)
    return serve(settings)


def cmd_apply(args: argparse.Namespace) -> int:
    """Stream the events file through Apply, `--batch-size` events per call, printing results as they come."""
    action = _parse_message(args.action, pb.Action())
    connection = _connection(args)
    source = EventFile(args.events)
    call = _caller(args, "Apply")
    tally = Tally()
    progress = Progress(sys.stderr, args.progress or sys.stderr.isatty())
    try:
        for batch in source.batches(args.batch_size):
            request = pb.ApplyRequest(action=action, events=batch, dry_run=args.dry_run, connection=connection)
            response = call(request)
            for r in response.results:
                print(json.dumps(result_json(r), ensure_ascii=False))
            sys.stdout.flush()
            tally.add(response)
            progress.update(tally, source.fraction)
    except (grpc.RpcError, UsageError) as exc:
        progress.done()
        if isinstance(exc, UsageError):
            print(f"sfdest: {exc}", file=sys.stderr)
        else:
            _print_rpc_error(exc, args, sys.stderr)
        if tally.batches:
            print(f"sfdest: stopped after the first {tally.events:,} events (their results are above); later "
                  "events have no results", file=sys.stderr)
            print(tally.table(), file=sys.stderr)
        return EXIT_USAGE
    progress.done()
    if not tally.batches:
        print(f"sfdest: {args.events}: no events", file=sys.stderr)
        return EXIT_USAGE
    print(tally.table(), file=sys.stderr)
    return EXIT_FAILED if tally.failed else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    if args.action and args.action_file and args.action != args.action_file:
        raise ArgumentsError(f"two action files given ({args.action_file} and --action {args.action}); give one")
    path = args.action or args.action_file
    if not path:
        raise ArgumentsError("validate needs an action file: sfdest validate ACTION.json")
    request = pb.ValidateRequest(action=_parse_message(path, pb.Action()))
    connection = _connection(args)
    if connection is not None:
        request.connection.CopyFrom(connection)
    if args.events:
        request.sample_events.extend(parse_events(_read(args.events), args.events))
    try:
        response = _caller(args, "Validate")(request)
    except grpc.RpcError as exc:
        _print_rpc_error(exc, args, sys.stderr)
        return EXIT_USAGE
    print(diagnostics_text(response))
    return EXIT_OK if response.valid else EXIT_FAILED


def _client_options(p: argparse.ArgumentParser, action_required: bool = True) -> None:
    p.add_argument("--action", required=action_required, metavar="ACTION.json",
                   help="the action, in the proto's JSON mapping (sfdest.v1.Action)")
    p.add_argument("--connection", metavar="CONN.json",
                   help=f"the connection (sfdest.v1.Connection JSON); default {json.dumps(DEFAULT_CONNECTION)}")
    p.add_argument("--target", metavar="HOST[:PORT]",
                   help=f"call a running server (e.g. 127.0.0.1:50051; the port defaults to "
                        f"{cli_connect.DEFAULT_PORT}); default: run in-process with SFDEST_BACKEND (the memory "
                        "backend then forgets everything when the command ends)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="each call's deadline (default 60)")
    secure = p.add_argument_group("a secured server (with --target)")
    secure.add_argument("--tls", action="store_true", help="connect over TLS, trusting the system's CAs")
    secure.add_argument("--ca-file", metavar="PEM", help="connect over TLS, trusting this CA bundle")
    secure.add_argument("--cert-file", metavar="PEM", help="client certificate, for mutual TLS")
    secure.add_argument("--key-file", metavar="PEM", help="client private key, for mutual TLS")
    secure.add_argument("--token-file", metavar="FILE", help="file holding the bearer token (default: "
                        "SFDEST_AUTH_TOKEN_FILE, else SFDEST_AUTH_TOKEN)")


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sfdest", description="Salesforce destination for CDP events, over gRPC.")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC server", formatter_class=argparse.RawDescriptionHelpFormatter,
                           description="Run the gRPC server until SIGTERM or SIGINT. Options override the "
                                       "environment.", epilog="settings (environment):\n" + settings_table())
    serve.add_argument("--listen", metavar="HOST:PORT", help="listen address (SFDEST_LISTEN)")
    serve.add_argument("--backend", choices=("memory", "salesforce"), help="record store (SFDEST_BACKEND)")
    serve.add_argument("--max-workers", type=int, help="threads serving RPCs (SFDEST_MAX_WORKERS)")
    serve.add_argument("--max-events", type=int, help="most events per Apply (SFDEST_MAX_EVENTS)")
    serve.add_argument("--grace-seconds", type=float, help="shutdown grace (SFDEST_GRACE_SECONDS)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (SFDEST_LOG_LEVEL)")
    serve.add_argument("--reflection", action=argparse.BooleanOptionalAction,
                       help="gRPC reflection (SFDEST_REFLECTION)")
    serve.set_defaults(run=cmd_serve, parser=serve)

    apply = sub.add_parser("apply", help="apply an action to events and print one JSON result per event",
                           description="Streams the events through Apply in batches (JSON lines are read lazily, so "
                                       "files of any size work). Results go to stdout in event order, progress and "
                                       "the summary to stderr. Exit status: 0 every event succeeded, 1 some event "
                                       "failed (status >= 300), 2 the request or a call failed (later batches are "
                                       "not sent).")
    _client_options(apply)
    apply.add_argument("events", metavar="EVENTS", help='JSON lines, a JSON array, or one JSON object, of {"id", '
                       '"payload"} or bare events (id = messageId, else position); "-" reads stdin')
    apply.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
    apply.add_argument("--batch-size", type=_positive, default=1000, metavar="N",
                       help="events per Apply call (default 1000; at most the server's SFDEST_MAX_EVENTS)")
    apply.add_argument("--progress", action="store_true",
                       help="print progress on stderr even when it is not a terminal (one line per batch)")
    apply.set_defaults(run=cmd_apply, parser=apply)

    validate = sub.add_parser("validate", help="check an action (and sample events); exit 1 if invalid")
    validate.add_argument("action_file", nargs="?", metavar="ACTION.json", help="the action (or use --action)")
    _client_options(validate, action_required=False)
    validate.add_argument("--events", metavar="EVENTS", help="sample events, as for apply")
    validate.add_argument("--no-connection", action="store_true", help="static checks only; consult no org")
    validate.set_defaults(run=cmd_validate, parser=validate)

    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, extra = parser().parse_known_args(argv)
    if extra:  # reported by the command's own parser, so its usage is shown, not the top-level one
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command in ("apply", "validate"):
        level = os.environ.get("SFDEST_LOG_LEVEL", "WARNING").upper()
        configure_logging(level if level in LOG_LEVELS else "WARNING", replace=False)
    try:
        return args.run(args)
    except ArgumentsError as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, ConfigError, OSError) as exc:
        print(f"sfdest: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
