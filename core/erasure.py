"""Erasing a person: find every record that holds their identifiers, delete them, answer per record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.codes import Code
from core.coercion import CoercionError, coerce
from core.describe import ObjectDescribe
from core.model import Connection, Outcome, ResultError
from core.names import api_name_problem
from core.outcomes import classify, meaning
from core.ports import BackendError, FieldIn, Lookup, RecordStore, StoreFactory, WriteOutcome
from core.salesforce_answers import read, unexplained

MAX_IDENTIFIERS = 20
MAX_VALUES = 100  # per identifier
_CONVERTED = ("IsConverted", "ConvertedContactId")


@dataclass(frozen=True)
class PersonIdentifier:
    """Records of `object_name` whose `field` equals one of `values` hold the person."""

    object_name: str
    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ErasedRecord:
    object_name: str
    record_id: str
    status: int  # 204 deleted; otherwise the failure's status
    outcome: Outcome
    found_by: str  # e.g. "identifiers[0] (Lead.Email)" or "Lead 00Q... was converted to it"
    in_recycle_bin: bool = False
    error: ResultError | None = None
    note: str = ""  # e.g. that a hard delete was refused and the record went to the recycle bin instead


@dataclass(frozen=True)
class EraseReport:
    records: tuple[ErasedRecord, ...]
    api_calls: int
    # Why a hard delete was not done, when one was asked for and the records went to the recycle bin.
    hard_delete_refused: str = ""
    describe_calls: int = 0  # of api_calls, those that fetched describe metadata (the rest: queries and deletes)


class EraseRefused(Exception):
    """The request has invalid parts: nothing was looked up or deleted. problems: (path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _static_problems(identifiers: Sequence[PersonIdentifier]) -> list[tuple[str, str]]:
    if not identifiers:
        return [("identifiers", "at least one (object, field, values) identifier is required")]
    if len(identifiers) > MAX_IDENTIFIERS:
        return [("identifiers", f"at most {MAX_IDENTIFIERS} identifiers; got {len(identifiers)}")]
    out = []
    for i, ident in enumerate(identifiers):
        for what, name in (("object", ident.object_name), ("field", ident.field)):
            problem = api_name_problem(name) if name else "must not be empty"
            if problem:
                out.append((f"identifiers[{i}].{what}", f"{what} name {name!r} {problem}"))
        if not ident.values or len(ident.values) > MAX_VALUES:
            out.append((f"identifiers[{i}].values", f"give 1 to {MAX_VALUES} values; got {len(ident.values)}"))
        for j, v in enumerate(ident.values):
            if v is None or v == "" or isinstance(v, (dict, list)):
                out.append((f"identifiers[{i}].values[{j}]", "a value must be a non-empty string, number or boolean"))
    return out


class EraseService:
    def __init__(self, stores: StoreFactory):
        self._stores = stores

    def erase(self, connection: Connection, identifiers: Sequence[PersonIdentifier], hard_delete: bool = False,
              deadline: float | None = None) -> EraseReport:
        """Refuse the whole request when any part is invalid (EraseRefused); else one lookup per object (all
        sent together), converted Leads followed to their Contacts, then one delete of every record found
        whatever its object (with hard_delete: one Bulk API hardDelete job per object, where the org allows
        it). A second identical call finds nothing."""
        problems = _static_problems(identifiers)
        if problems:
            raise EraseRefused(problems)
        store = self._stores.open(connection, deadline)
        objects: dict[str, list[tuple[int, PersonIdentifier]]] = {}
        for i, ident in enumerate(identifiers):
            objects.setdefault(ident.object_name.lower(), []).append((i, ident))
        lookups = self._lookups(store, objects)
        # The lookups and the deletes after them are reserved together (the least the deletes take: one call, or
        # a hardDelete job per object looked up): a budget that cannot pay for both refuses the Erase before
        # the lookups are sent (BackendError with the governor's retryable refusal).
        with store.reserve(lookups[0][0].object_name, [lk for lk, _ in lookups], 1,
                           jobs=len(lookups) if hard_delete else 0) as refusal:
            if refusal is not None:
                raise BackendError(refusal)
            found: dict[str, tuple[str, str]] = {}  # id -> (object, found by)
            contacts: dict[str, str] = {}
            for (lookup, labels), records in zip(lookups, store.find_many([lk for lk, _ in lookups]), strict=True):
                for record in records:
                    rid = str(record["Id"])
                    found.setdefault(rid, (lookup.object_name, labels[_which(record, lookup)]))
                    if record.get("IsConverted") is True and record.get("ConvertedContactId"):
                        contacts.setdefault(str(record["ConvertedContactId"]), f"Lead {rid} was converted to it")
            for rid, why in contacts.items():
                found.setdefault(rid, ("Contact", why))
            return self._delete(store, found, hard_delete)

    @staticmethod
    def _lookups(store: RecordStore, objects: dict[str, list[tuple[int, PersonIdentifier]]]
                 ) -> list[tuple[Lookup, dict[str, str]]]:
        problems: list[tuple[str, str]] = []
        lookups = []
        for group in objects.values():
            first = group[0][0]
            try:
                describe: ObjectDescribe = store.describe(group[0][1].object_name)
            except BackendError as exc:
                if exc.error.code not in (Code.NOT_FOUND, Code.INVALID_TYPE):
                    raise
                problems.append((f"identifiers[{first}].object", f"the org has no object {group[0][1].object_name}"))
                continue
            if not describe.deletable:
                problems.append((f"identifiers[{first}].object", f"{describe.name} records cannot be deleted"))
            where: list[tuple[FieldIn, ...]] = []
            labels: dict[str, str] = {}
            for i, ident in group:
                f = describe.field(ident.field)
                if f is None or not (f.filterable or f.name == "Id"):
                    why = "has no field" if f is None else "cannot filter on"
                    problems.append((f"identifiers[{i}].field", f"{describe.name} {why} {ident.field}"))
                    continue
                try:
                    values = tuple(dict.fromkeys(coerce(v, f) for v in ident.values))
                except CoercionError as exc:
                    problems.append((f"identifiers[{i}].values", f"{describe.name}.{f.name}: value {exc}"))
                    continue
                where.append((FieldIn(f.name, values),))
                labels.setdefault(f.name, f"identifiers[{i}] ({describe.name}.{f.name})")
            extra = _CONVERTED if describe.name == "Lead" and describe.field("IsConverted") else ()
            select = tuple(dict.fromkeys(["Id", *labels, *extra]))
            lookups.append((Lookup(describe.name, select, tuple(where)), labels))
        if problems:
            raise EraseRefused(problems)
        return lookups

    @staticmethod
    def _delete(store: RecordStore, found: dict[str, tuple[str, str]], hard_delete: bool) -> EraseReport:
        """Hard delete: one Bulk API job per object; where the org refuses them for want of the permission, every
        record not hard-deleted goes to the recycle bin instead (one collections delete, whatever its objects)."""
        outcomes: dict[str, tuple[WriteOutcome, bool]] = {}  # id -> (outcome, in the recycle bin)
        refused = ""
        if hard_delete:
            objects: dict[str, list[str]] = {}
            for rid, (obj, _) in found.items():
                objects.setdefault(obj, []).append(rid)
            hard, refusal = _hard_delete(store, list(objects.items()))
            outcomes.update((rid, (o, False)) for rid, o in hard.items())
            if refusal is not None:
                refused = (f"Salesforce refused the hardDelete job ({refusal.code}: {refusal.message[:200]}): this "
                           "user lacks the 'Bulk API Hard Delete' permission, so the records went to the recycle "
                           "bin, where they stay for 15 days")
        rest = [rid for rid in found if rid not in outcomes]
        outcomes.update((rid, (o, True)) for rid, o in zip(rest, store.delete_anywhere(rest) if rest else [],
                                                            strict=True))
        records = []
        for rid, (obj, found_by) in found.items():
            outcome, in_bin = outcomes[rid]
            outcome = read(outcome, "delete", obj)
            note = "hard delete refused: deleted to the recycle bin" if hard_delete and in_bin else ""
            if outcome.success:
                deleted = meaning(Code.DELETED)
                records.append(ErasedRecord(obj, rid, deleted.status, deleted.outcome, found_by, in_bin, note=note))
            else:
                error = outcome.error or unexplained()
                status, kind, _ = classify(error)
                records.append(ErasedRecord(obj, rid, status, kind, found_by, error=error, note=note))
        return EraseReport(tuple(records), store.api_calls, refused if records else "", store.describe_calls)


def _hard_delete(store: RecordStore, objects: list[tuple[str, list[str]]]
                 ) -> tuple[dict[str, WriteOutcome], ResultError | None]:
    """One hardDelete job per object: the first alone (a user without the permission is refused once), then the
    others handed over together (the store runs them at once, as jobs take seconds to minutes each). The outcomes
    of the records of jobs that ran, and the refusal, if any."""
    done: dict[str, WriteOutcome] = {}
    refusal: ResultError | None = None
    answers = store.hard_delete_many(objects[:1]) if objects else []
    if answers and not isinstance(answers[0], ResultError) and len(objects) > 1:
        answers += store.hard_delete_many(objects[1:])
    for (_, ids), answer in zip(objects, answers, strict=False):
        if isinstance(answer, ResultError):
            refusal = answer
        else:
            done.update(zip(ids, answer, strict=True))
    return done, refusal


def _which(record: Any, lookup: Lookup) -> str:
    """The first identifier whose values the record holds (for found_by)."""
    for (term,) in lookup.where:
        if str(record.get(term.field)).lower() in {str(v).lower() for v in term.values}:
            return term.field
    return lookup.where[0][0].field
