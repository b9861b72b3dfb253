"""Command-line flags for an emulated org's features (adapters.memory.org_options.OrgOptions)."""

from __future__ import annotations

import argparse

from adapters.memory.org import Org
from adapters.memory.org_options import OrgOptions, RecordTypeSpec, new_org


def add_flags(parser: argparse.ArgumentParser) -> None:
    org = parser.add_argument_group("org features (each off by default)")
    org.add_argument("--external-id", action="append", default=[], metavar="OBJECT",
                     help="give OBJECT an External_Id__c external id field (repeatable), e.g. Account")
    org.add_argument("--record-type", action="append", default=[], metavar="OBJECT:NAME",
                     help="an active record type, e.g. Lead:Partner (repeatable)")
    org.add_argument("--currencies", metavar="ISO,ISO", help="a multi-currency org; the first is corporate")
    org.add_argument("--duplicate-rule", action="append", default=[], metavar="OBJECT.FIELD",
                     help="a blocking duplicate rule matching on FIELD, e.g. Lead.Email (repeatable)")
    org.add_argument("--assignment-rule", action="store_true",
                     help="a default Lead and Case assignment rule routing to a queue")
    org.add_argument("--person-accounts", action="store_true", help="an org with Person Accounts")
    org.add_argument("--bulk-api-hard-delete", action="store_true",
                     help="the API user holds the Bulk API Hard Delete permission (hardDelete jobs allowed)")


def org_from(args: argparse.Namespace) -> Org | None:
    """The org the flags ask for; None for the standard org."""
    options = OrgOptions(
        external_ids=tuple(args.external_id),
        record_types=tuple(RecordTypeSpec(*spec.split(":", 1)) for spec in args.record_type),
        duplicate_rules=tuple(tuple(rule.split(".", 1)) for rule in args.duplicate_rule),  # type: ignore[misc]
        assignment_rule=args.assignment_rule,
        currencies=tuple(c.strip() for c in (args.currencies or "").split(",") if c.strip()),
        person_accounts=args.person_accounts, hard_delete=args.bulk_api_hard_delete)
    return None if options == OrgOptions() else new_org(options)
