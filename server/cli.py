"""The `sfdest` command: serve, apply and validate (against a running server or in-process)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import json_format
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from server import errors, translate
from server.config import ConfigError, Settings, settings_table

DEFAULT_CONNECTION = {"instance_url": "https://demo.my.salesforce.com"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or its input files; printed without a traceback."""


# Input files -----------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def _parse_message(path: str, message: Any) -> Any:
    try:
        return json_format.Parse(_read(path), message)
    except json_format.ParseError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _event(item: Any, fallback_id: str, where: str) -> pb.Event:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: an event must be a JSON object")
    envelope = isinstance(item.get("payload"), dict) and set(item) <= {"id", "payload"}
    payload = item["payload"] if envelope else item
    raw_id = item.get("id") if envelope else item.get("messageId")
    event_id = fallback_id if raw_id in (None, "") else str(raw_id)
    return pb.Event(id=event_id, payload_json=json.dumps(payload, ensure_ascii=False))


def parse_events(text: str, source: str = "events") -> list[pb.Event]:
    """A JSON array, one JSON object, or JSON lines of events: `{"id", "payload"}` or a bare event.

    A bare event's id is its messageId, else its position (line number for JSON lines, from 1).
    """
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        return [_event(item, str(i + 1), f"{source}[{i}]") for i, item in enumerate(whole)]
    if isinstance(whole, dict):
        return [_event(whole, "1", source)]
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{source} line {n}: not JSON ({exc.msg})") from None
        out.append(_event(item, str(n), f"{source} line {n}"))
    return out


def _connection(args: argparse.Namespace) -> pb.Connection | None:
    if getattr(args, "no_connection", False):
        return None
    if args.connection:
        return _parse_message(args.connection, pb.Connection())
    return json_format.ParseDict(DEFAULT_CONNECTION, pb.Connection())


# Calling ---------------------------------------------------------------------------------------
def _caller(args: argparse.Namespace, method: str) -> Callable[[Any], Any]:
    """A function sending one request: over gRPC with --target, else to an in-process servicer."""
    if args.target:
        channel = grpc.insecure_channel(args.target)
        stub = destination_pb2_grpc.DestinationServiceStub(channel)
        return lambda request: getattr(stub, method)(request, timeout=args.timeout)
    from server.container import build_container
    from server.local import LocalContext

    servicer = build_container(Settings.from_env()).servicer()
    return lambda request: getattr(servicer, method)(request, LocalContext(args.timeout))


def _print_rpc_error(exc: grpc.RpcError, target: str | None, out: TextIO) -> None:
    code = exc.code()
    if code is grpc.StatusCode.UNAVAILABLE and target:
        print(f"sfdest: cannot reach a server at {target}: {exc.details()} (is `make run` running?)", file=out)
        return
    print(f"sfdest: {code.name}: {exc.details()}", file=out)
    try:
        status = rpc_status.from_call(exc)
    except ValueError:
        status = None
    if status is not None:
        for v in errors.details_of(status)[1]:
            print(f"  {v.field}: {v.description}" if v.field else f"  {v.description}", file=out)


# Output ----------------------------------------------------------------------------------------
def result_json(r: pb.EventResult) -> dict[str, Any]:
    error = {"code": r.error.code, "message": r.error.message, "fields": list(r.error.fields)} \
        if r.HasField("error") else None
    return {"event_id": r.event_id, "status": r.status, "outcome": translate.outcome_name(r.outcome),
            "record_id": r.record_id, "matched_ids": list(r.matched_ids), "retryable": r.retryable, "error": error}


def summary(response: pb.ApplyResponse) -> str:
    counts = Counter((r.status, translate.outcome_name(r.outcome)) for r in response.results)
    rows = [("status", "outcome", "events")] + [(str(s), o, str(n)) for (s, o), n in sorted(counts.items())]
    rows.append(("total", "", str(len(response.results))))
    lines = [f"{a:<7} {b:<18} {c:>6}" for a, b, c in rows]
    lines.append(f"salesforce api calls: {response.salesforce_api_calls}")
    return "\n".join(lines)


def diagnostics_text(response: pb.ValidateResponse) -> str:
    lines = [f"{translate.severity_name(d.severity):<8} {d.code:<28} {d.field_path or '-':<36} {d.message}"
             for d in response.diagnostics]
    severities = Counter(translate.severity_name(d.severity) for d in response.diagnostics)
    verdict = "valid" if response.valid else "invalid"
    lines.append(f"{verdict}: {severities['ERROR']} error(s), {severities['WARNING']} warning(s)")
    return "\n".join(lines)


# Commands --------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import configure_logging, serve

    overrides = {env: str(value) for env, value in (
        ("SFDEST_LISTEN", args.listen), ("SFDEST_BACKEND", args.backend), ("SFDEST_MAX_WORKERS", args.max_workers),
        ("SFDEST_MAX_EVENTS", args.max_events), ("SFDEST_GRACE_SECONDS", args.grace_seconds),
        ("SFDEST_LOG_LEVEL", args.log_level), ("SFDEST_REFLECTION", args.reflection)) if value is not None}
    settings = Settings.from_env(overrides=overrides)
    configure_logging(settings.log_level)
    return serve(settings)


def cmd_apply(args: argparse.Namespace) -> int:
    action = _parse_message(args.action, pb.Action())
    request = pb.ApplyRequest(action=action, events=parse_events(_read(args.events), args.events),
                              dry_run=args.dry_run)
    request.connection.CopyFrom(_connection(args))
    try:
        response = _caller(args, "Apply")(request)
    except grpc.RpcError as exc:
        _print_rpc_error(exc, args.target, sys.stderr)
        return EXIT_USAGE
    for r in response.results:
        print(json.dumps(result_json(r), ensure_ascii=False))
    sys.stdout.flush()
    print(summary(response), file=sys.stderr)
    return EXIT_OK if all(r.status < 300 for r in response.results) else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    request = pb.ValidateRequest(action=_parse_message(args.action, pb.Action()))
    connection = _connection(args)
    if connection is not None:
        request.connection.CopyFrom(connection)
    if args.events:
        request.sample_events.extend(parse_events(_read(args.events), args.events))
    try:
        response = _caller(args, "Validate")(request)
    except grpc.RpcError as exc:
        _print_rpc_error(exc, args.target, sys.stderr)
        return EXIT_USAGE
    print(diagnostics_text(response))
    return EXIT_OK if response.valid else EXIT_FAILED


def cmd_emulator(argv: list[str]) -> int:
    """The Salesforce emulator, which lives with the tests: only in a source checkout (`make emulator`)."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "tests" / "emulator").is_dir() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))  # the console script's sys.path holds the installed packages only
    try:
        from tests.emulator.__main__ import main as emulator_main
    except ModuleNotFoundError as exc:
        print(f"sfdest: the Salesforce emulator needs a source checkout of sfdest ({exc})", file=sys.stderr)
        return EXIT_USAGE
    emulator_main(argv)
    return EXIT_OK


def _client_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--action", required=True, metavar="ACTION.json",
                   help="the action, in the proto's JSON mapping (sfdest.v1.Action)")
    p.add_argument("--connection", metavar="CONN.json",
                   help=f"the connection (sfdest.v1.Connection JSON); default {json.dumps(DEFAULT_CONNECTION)}")
    p.add_argument("--target", metavar="HOST:PORT",
                   help="call a running server (e.g. 127.0.0.1:50051); default: run in-process with SFDEST_BACKEND "
                        "(the memory backend then forgets everything when the command ends)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="the call's deadline (default 60)")


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
    serve.set_defaults(run=cmd_serve)

    apply = sub.add_parser("apply", help="apply an action to events and print one JSON result per event",
                           description="Exit status: 0 every event succeeded, 1 some event failed (status >= 300), "
                                       "2 the request or the call failed. Results go to stdout, the summary to stderr.")
    _client_options(apply)
    apply.add_argument("events", metavar="EVENTS", help='JSON array or JSON lines of {"id", "payload"} or bare '
                       'events (id = messageId, else position); "-" reads stdin')
    apply.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
    apply.set_defaults(run=cmd_apply)

    validate = sub.add_parser("validate", help="check an action (and sample events); exit 1 if invalid")
    _client_options(validate)
    validate.add_argument("--events", metavar="EVENTS", help="sample events, as for apply")
    validate.add_argument("--no-connection", action="store_true", help="static checks only; consult no org")
    validate.set_defaults(run=cmd_validate)

    # Listed for --help only: main() hands its arguments to the emulator's own parser.
    sub.add_parser("emulator", add_help=False,
                   help="run the Salesforce emulator (development; `sfdest emulator --help`)")
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["emulator"]:
        return cmd_emulator(argv[1:])
    args = parser().parse_args(argv)
    if args.command in ("apply", "validate"):
        level = os.environ.get("SFDEST_LOG_LEVEL", "WARNING").upper()
        from server.app import quiet_http_loggers

        logging.basicConfig(stream=sys.stderr, level=level if level in logging.getLevelNamesMapping() else "WARNING",
                            format="%(levelname)s %(name)s %(message)s")
        quiet_http_loggers()
    try:
        return args.run(args)
    except (UsageError, ConfigError, OSError) as exc:
        print(f"sfdest: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
