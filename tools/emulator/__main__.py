"""Run the Salesforce emulator in the foreground: python -m tools.emulator [--port 8383] [--conn conn.json]."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

from tools.emulator.org_flags import add_flags, org_from
from tools.emulator.server import Emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8383)
    parser.add_argument("--api-limit", type=int, default=100_000, help="daily API allocation (Sforce-Limit-Info)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every data call")
    parser.add_argument("--bulk-polls", type=int, default=1, help="job polls until a closed Bulk job completes")
    parser.add_argument("--seed-leads", type=int, default=0, help="create this many Leads at start")
    parser.add_argument("--conn", metavar="FILE", help="also write the connection JSON (refresh-token grant) here")
    parser.add_argument("--locale", default="en_US", help="the API user's locale: SOQL's letter-case rules (tr_TR...)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    add_flags(parser)
    args = parser.parse_args(argv)
    emulator = Emulator(org=org_from(args), host=args.host, port=args.port, api_limit=args.api_limit,
                        latency_ms=args.latency_ms, bulk_polls_to_complete=args.bulk_polls, verbose=args.verbose,
                        locale=args.locale)
    for n in range(args.seed_leads):
        emulator.org.seed("Lead", {"LastName": f"Lead {n}", "Company": f"Company {n % 50}",
                                   "Email": f"lead{n}@example.com"})
    emulator.start()
    if args.conn:
        Path(args.conn).write_text(json.dumps(emulator.connection(), indent=2) + "\n", encoding="utf-8")
    print(f"Salesforce emulator at {emulator.base_url} (token endpoint {emulator.base_url}/services/oauth2/token)")
    print("Connection for sfdest (refresh-token grant):")
    print(json.dumps(emulator.connection(), indent=2))
    if args.conn:
        print(f"(also written to {args.conn})")
    print("Other grants: " + json.dumps({g: emulator.connection(g)[g] for g in
                                          ("client_credentials", "username_password")}))
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
