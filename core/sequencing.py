"""Matched writes in rounds decided against confirmed state: a batch gives what one event at a time gives.

Each round takes, in event order, every event that does not interact with an earlier event still
waiting; interacting events (same candidate record, or a value one writes that another matches on,
or merely resembles: the org's own rules may call them equal) wait for the next round. A round's
writes go out together; only confirmed writes change the candidate pool, so a refused write never
misleads a later event, and an event that depends on a write whose outcome is unknown is not
attempted rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core import outcomes
from core.codes import Code
from core.coercion import match_key
from core.describe import ObjectDescribe
from core.execution import Write, halted, merged_results, send_round, success
from core.merging import fold, splits
from core.model import (
    ConvertedLeadPolicy,
    EventResult,
    MatcherOperator,
    MatchPolicy,
    Operation,
    Outcome,
    group_path,
)
from core.outcomes import failure
from core.planning import CandidatePool, build_lookup
from core.policies import choose
from core.ports import BackendError, Record, RecordStore, WriteOutcome
from core.preparation import Prepared
from core.salesforce_answers import unexplained

# An event's matcher groups, in order: the matcher values and operator of each, None for a skipped group.
Groups = list[tuple[dict[str, Any], MatcherOperator] | None]

# Errors after which a write may or may not have happened.
UNCERTAIN = frozenset({Code.OUTCOME_UNKNOWN, Code.TIMEOUT, Code.CONNECTION_ERROR, Code.UNKNOWN_EXCEPTION})
PLACEHOLDER = "pending:"  # dry run: a record an earlier event of the batch would create
_WAIT = -1  # owner of a key a waiting event touches
_DRY = {"create": Code.WOULD_CREATE, "update": Code.WOULD_UPDATE, "delete": Code.WOULD_DELETE}


@dataclass
class Sequencer:
    """Plans and runs the events of one update, upsert or delete batch against a candidate pool."""

    store: RecordStore
    object_name: str
    operation: Operation
    describe: ObjectDescribe
    pool: CandidatePool
    groups_of: Callable[[Prepared], Groups]  # the matchers that decide an event's candidates, group by group
    create_record: Callable[[Prepared], dict[str, Any]]
    check_create: Callable[[Prepared, dict[str, Any]], EventResult | None]
    # Reads the candidates of a group for some events (a cascade's later groups, looked up when reached).
    fetch_group: Callable[[int, list[Prepared]], list[Record]] | None = None
    fetched: set[tuple[int, int]] = field(default_factory=set)  # (event index, group) looked up
    policy: MatchPolicy | None = None
    # Fields matched alone (OR groups, single matchers) and the field sets of AND groups: what writes interact on.
    single_fields: frozenset[str] = frozenset()
    # Lead actions: what a match on converted Leads only means, and Contact's describe for FOLLOW.
    converted: ConvertedLeadPolicy | None = None
    contact_describe: Callable[[], ObjectDescribe] | None = None
    and_groups: tuple[tuple[str, ...], ...] = ()
    name_groups: bool = False  # results say which group matched (an action with fallback matchers)
    dry_run: bool = False
    upsert_always_writes: bool = False  # native upserts send even an empty update: so must the plan
    deadline: float | None = None
    adopt_duplicates: bool = False
    stop: Callable[[], bool] | None = None  # True once the call is cancelled or the server is stopping
    results: dict[int, EventResult] = field(default_factory=dict)
    _tainted: set = field(default_factory=set)
    _group: dict[int, int] = field(default_factory=dict)  # event index -> the group that decided it
    _by_record: dict[int, list[EventResult]] = field(default_factory=dict)  # policies: results per record written
    _chosen: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # index -> (rule, candidates)
    _followed: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # (leads, lacking)
    _cap: dict = field(default_factory=dict)  # the most events a merged write starting with an event may hold

    def _key(self, name: str, value: Any) -> tuple:
        if name == "Id":  # an Id value names a record, as a candidate does
            return ("rec", value)
        return ("val", name.lower(), match_key(value, self.describe.field(name)))

    def _value_keys(self, name: str, value: Any) -> set:
        # Values that merely resemble may be equal under the org's own rules: they interact too.
        if name == "Id":
            return {self._key(name, value)}
        return {self._key(name, value), ("like", name.lower(), self.pool.loose_key(name, value))}

    def _and_keys(self, values: dict[str, Any]) -> set:
        """Several fields joined by AND: only a record holding all the values (or resembling ones) interacts."""
        return {("and", frozenset((n.lower(), match_key(v, self.describe.field(n))) for n, v in values.items())),
                ("andlike", frozenset((n.lower(), self.pool.loose_key(n, v)) for n, v in values.items()))}

    def _keys(self, groups: Groups, candidates: list[str]) -> set:
        """What an event reads: its candidates and the values of the groups it consulted."""
        keys = {("rec", c) for c in candidates}
        for matchers, operator in filter(None, groups):
            if operator is MatcherOperator.AND and len(matchers) > 1:
                keys |= self._and_keys(matchers)
            else:
                keys |= {k for n, v in matchers.items() for k in self._value_keys(n, v)}
        return keys

    def _written_keys(self, record: dict[str, Any], target: str = "") -> set:
        """What a write may make match: values of fields matched alone, and whole AND groups it completes."""
        keys = {k for n, v in record.items() if v is not None and n in self.single_fields
                for k in self._value_keys(n, v)}
        for fields in self.and_groups:
            if any(f in record for f in fields):
                after = {**self.pool.values(target), **record}
                if all(after.get(f) is not None for f in fields):
                    keys |= self._and_keys({f: after[f] for f in fields})
        return keys

    def _alike(self, p: Prepared) -> list[set[str]]:
        """Per group of the cascade, the records an event resembles without matching them: those it may find by
        asking again before it creates."""
        return [set() if entry is None else self.pool.resembling(
            entry[0], MatcherOperator.OR if len(entry[0]) == 1 else entry[1]) for entry in self.groups_of(p)]

    def _may_write(self, p: Prepared, candidates: list[str]) -> set:
        return set().union(*(self._written_keys(p.fields, c) for c in candidates or [""]))

    def _value_parts(self, values: dict[str, Any]) -> set:
        """Values of AND groups' fields one by one: how an event whose target is not known yet interacts."""
        joined = {f for fields in self.and_groups for f in fields}
        return {("part", *k) for n, v in values.items() if v is not None and n in joined
                for k in self._value_keys(n, v)}

    def _read_parts(self, groups: Groups) -> set:
        return set().union(set(), *(self._value_parts(matchers) for matchers, _ in filter(None, groups)))

    def run(self, events: list[Prepared]) -> dict[int, EventResult]:
        self._prefetch(events)
        pending = events
        while pending:
            reason = halted(self.deadline, self.stop)
            if reason is not None:
                for p in pending:
                    self.results[p.index] = failure(p.event_id, reason)
                break
            writes, pending, needs = self._plan_round(pending)
            again = self._execute(writes)
            self._fetch(needs)
            pending = sorted(pending + again, key=lambda p: p.index)
        if self.name_groups:
            self.results = {i: replace(r, matched_group=group_path(self._group[i])) if i in self._group else r
                            for i, r in self.results.items()}
        return self.results

    def _cascade(self, p: Prepared) -> tuple[int, list[str], Groups, bool]:
        """The first group with candidates (else the last group with values): (group, candidates, the groups
        consulted, whether that group still has to be looked up for this event)."""
        consulted: Groups = []
        found: tuple[int, list[str]] = (0, [])
        for g, entry in enumerate(self.groups_of(p)):
            if entry is None:
                continue
            matchers, operator = entry
            consulted.append(entry)
            if (p.index, g) not in self.fetched:
                return g, [], consulted, True
            found = (g, self.pool.match(matchers, MatcherOperator.OR if len(matchers) == 1 else operator))
            if found[1]:
                break
        return *found, consulted, False

    def _prefetch(self, events: list[Prepared]) -> None:
        """A cascade's later groups, one group at a time: one lookup serves every event that reaches the group."""
        for g in range(1, max((len(p.groups) for p in events), default=0)):
            reach = [p for p in events if p.index not in self.results and self._cascade(p)[::3] == (g, True)]
            if reach:
                self._fetch({g: reach})

    def _fetch(self, needs: dict[int, list[Prepared]]) -> None:
        for g, events in needs.items():
            self.fetched |= {(p.index, g) for p in events}
            try:
                added = self.pool.merge(self.fetch_group(g, events) if self.fetch_group else [])
                entries = [entry for p in events if (entry := self.groups_of(p)[g]) is not None]
                if entries:  # what this group's lookup returned and no event's value matches: its orphans
                    self.pool.claim_orphans([m for m, _ in entries], entries[0][1], among=added)
            except BackendError as exc:
                for p in events:
                    self.results[p.index] = failure(p.event_id, exc.error)

    def _plan_round(self, pending: list[Prepared]) -> tuple[list[tuple[Write, set]], list[Prepared],
                                                            dict[int, list[Prepared]]]:
        writes: list[tuple[Write, set]] = []
        waiting: list[Prepared] = []
        owner: dict[Any, int] = {}  # a key some planned write (its index) or a waiting event (WAIT) touches
        needs: dict[int, list[Prepared]] = {}
        stalled = False
        for p in pending:
            if p.index in self.results:  # its lookup failed
                continue
            group, candidates, matchers, unread = self._cascade(p)
            if unread:  # an earlier write moved it to a group not looked up yet: read it before going on
                needs.setdefault(group, []).append(p)
            if unread or stalled:  # what it will find is unknown, so every later event waits too
                stalled = True
                waiting.append(p)
                continue
            keys = self._keys(matchers, candidates)
            if keys & self._tainted:
                self.results[p.index] = outcomes.result(Code.DEPENDS_ON_UNCERTAIN_WRITE, p.event_id)
                continue
            # what it reads, and what it may write; field by field for AND groups, for events still waiting; an
            # upsert about to create reads the records it resembles too (it may ask again and find one of them)
            alike = self._alike(p) if not candidates and self.operation is Operation.UPSERT else None
            touched = keys | self._read_parts(matchers) | self._may_write(p, candidates) | {
                ("rec", rid) for ids in alike or () for rid in ids}
            hit = {owner[k] for k in touched if k in owner}
            if hit:
                w = hit.pop() if len(hit) == 1 else _WAIT
                if w != _WAIT and self._fold(writes[w][0], p, matchers, candidates):
                    writes[w][1].update(touched)
                    owner.update(dict.fromkeys(touched, w))
                    continue
                waiting.append(p)
                # once an earlier write lands it may fall through to any later group, or find another target
                everything = self.groups_of(p)
                owner.update(dict.fromkeys(touched | self._keys(everything, []) | self._read_parts(everything)
                                           | self._value_parts(p.fields), _WAIT))
                continue
            if candidates:
                self._group[p.index] = group
            for write in self._decide(p, candidates, alike):  # a target found by asking again is no candidate
                written = keys | self._written_keys(write.record, write.target) | (
                    {("rec", write.target)} if write.target else set())
                owner.update(dict.fromkeys(written, len(writes)))
                writes.append((write, written))
        return writes, waiting, needs

    def _fold(self, w: Write, p: Prepared, consulted: Groups, candidates: list[str]) -> bool:
        """Fold p into the planned write w when p would, after w, update exactly w's record (core.merging): the
        first group it consulted that w's record would match holds no other candidate."""
        if w.kind not in ("create", "update") or w.adopt or self.operation is Operation.DELETE:
            return False  # a create that may adopt a duplicate may end up writing another record
        if w.object_name or w.event.index in self._by_record:  # a converted Lead's Contact; a policy's choice
            return False
        if len(w.merged) + 1 >= self._cap.get(w.event.index, len(w.merged) + 2):
            return False
        rid = w.target if w.kind == "update" else f"{PLACEHOLDER}{w.event.event_id}"
        if any(c != rid for c in candidates):
            return False
        groups = list(self.groups_of(p))
        decided = next((g for g, entry in enumerate(groups) if entry is not None and self.pool.would_match(
            rid, w.record, entry[0], MatcherOperator.OR if len(entry[0]) == 1 else entry[1])), None)
        if decided is None or groups[decided] not in consulted:
            return False
        if not fold(w.record, p.fields, self.describe):
            return False
        w.merged.append((p, not p.fields and not self.upsert_always_writes))
        if self.name_groups:
            self._group[p.index] = decided
        return True

    def _decide(self, p: Prepared, candidates: list[str], alike: list[set[str]] | None = None) -> list[Write]:
        """The writes that settle p; `alike`: what `_alike` answered for it in this round, if asked."""
        if self.converted is not None and candidates:
            candidates, handled = self._converted_leads(p, candidates)
            if handled is not None:
                return handled
        chosen_by = ""
        if len(candidates) > 1 and self.policy is MatchPolicy.ALL and self.operation is not Operation.UPSERT:
            if self.operation is Operation.DELETE:
                writes = [Write("delete", p, rid) for rid in candidates]
            elif not p.fields:
                self.results[p.index] = replace(outcomes.result(
                    Code.NO_CHANGE, p.event_id, record_id=candidates[0], matched_ids=tuple(candidates)),
                    chosen_by=MatchPolicy.ALL.value)
                return []
            else:
                writes = [Write("update", p, rid, dict(p.fields)) for rid in candidates]
            self._by_record[p.index] = []
            return writes
        if len(candidates) > 1 and self.policy not in (None, MatchPolicy.ALL):
            chosen_by, matched = self.policy.value, tuple(candidates)
            candidates = [choose(self.policy, candidates, self.pool)]
        if len(candidates) > 1:
            self.results[p.index] = outcomes.result(
                Code.MULTIPLE_MATCHES, p.event_id, "use matchers that identify one record",
                matched_ids=tuple(candidates), count=len(candidates), object_name=self.object_name)
            return []
        if candidates and self.pool.ambiguous(candidates[0]):
            self.results[p.index] = outcomes.result(
                Code.MULTIPLE_MATCHES, p.event_id, f"Salesforce's lookup returned record {candidates[0]} for this "
                "batch, and whether it matches this event or another one of the batch is unclear (Salesforce "
                "compares text by the org user's locale)", matched_ids=tuple(candidates), count="1 or more",
                object_name=self.object_name)
            return []
        if candidates:
            rid = candidates[0]
            if chosen_by:
                self._by_record[p.index] = []  # reported with every candidate and the rule
                self._chosen[p.index] = (chosen_by, matched)
            if self.operation is Operation.DELETE:
                return [Write("delete", p, rid)]
            if not p.fields and not self.upsert_always_writes:
                self.results[p.index] = self._with_choice(p.index, outcomes.result(
                    Code.NO_CHANGE, p.event_id, record_id=rid))
                return []
            return [Write("update", p, rid, dict(p.fields))]
        if self.operation is not Operation.UPSERT:
            self.results[p.index] = outcomes.result(Code.NOT_FOUND, p.event_id,
                                                    f"no {self.object_name} record matches this event")
            return []
        if alike is None and not self.dry_run:
            alike = self._alike(p)
        for g, entry in enumerate([] if self.dry_run else self.groups_of(p)):
            if entry is None:
                continue
            matchers, operator = entry[0], MatcherOperator.OR if len(entry[0]) == 1 else entry[1]
            if alike and alike[g]:  # in the cascade's order, group by group
                found = self._look_again(p, matchers, operator)
                if found is None:
                    return []
                if found:
                    self._group[p.index] = g
                    return self._decide(p, found)
        record = self.create_record(p)
        problem = self.check_create(p, record)
        if problem is not None:
            self.results[p.index] = problem
            return []
        return [Write("create", p, "", record, adopt=self.adopt_duplicates)]

    def _converted_leads(self, p: Prepared, candidates: list[str]) -> tuple[list[str], list[Write] | None]:
        """Converted Leads drop out when open ones match too; when only converted ones match, the policy decides:
        (the candidates to go on with, or the writes that settle the event)."""
        converted = [c for c in candidates if self.pool.attribute(c, "IsConverted") is True]
        if len(converted) < len(candidates) or self.converted is ConvertedLeadPolicy.IGNORE:
            return [c for c in candidates if c not in converted], None
        lead = converted[0] if len(converted) == 1 else ""
        if not lead and self.policy not in (None, MatchPolicy.ALL):
            lead = choose(self.policy, converted, self.pool)
        contact = str(self.pool.attribute(lead, "ConvertedContactId") or "") if lead else ""
        if self.converted is ConvertedLeadPolicy.FOLLOW and self.operation is not Operation.DELETE and contact:
            names = self.contact_describe() if self.contact_describe else None
            fields = {n: v for n, v in p.fields.items() if names and (f := names.field(n)) and f.updateable}
            self._followed[p.index] = (tuple(converted), tuple(n for n in p.fields if n not in fields))
            if not fields:
                self.results[p.index] = self._annotate(p.index, outcomes.result(
                    Code.NO_CHANGE, p.event_id, record_id=contact))
                return [], []
            return [], [Write("update", p, contact, fields, object_name="Contact")]
        if self.converted is ConvertedLeadPolicy.FOLLOW and not lead and self.operation is not Operation.DELETE:
            return converted, None  # several converted Leads and no rule to choose: the usual 300
        contacts = ", ".join(dict.fromkeys(str(self.pool.attribute(c, "ConvertedContactId") or "?") for c in converted))
        self.results[p.index] = outcomes.result(
            Code.CONVERTED_LEAD, p.event_id, f"the matching Lead{'s were' if len(converted) > 1 else ' was'} "
            f"converted to Contact {contacts}; nothing was written", ("ConvertedContactId",),
            matched_ids=tuple(converted), record_id=lead)
        return [], []

    def _annotate(self, index: int, result: EventResult) -> EventResult:
        """A write that followed a converted Lead to its Contact: the Lead, and the fields Contact lacks."""
        if index not in self._followed:
            return result
        leads, lacking = self._followed.pop(index)
        return replace(result, matched_ids=leads, fields_not_written=lacking)

    def _look_again(self, p: Prepared, matchers: dict[str, Any], operator: MatcherOperator) -> list[str] | None:
        """Ask Salesforce which records match this event now (its own lookup returns only its matches)."""
        lookup = build_lookup(self.object_name, [matchers], operator, self.describe, self.pool.selected)
        try:
            records = self.store.find(lookup) if lookup is not None else []
        except BackendError as exc:
            self.results[p.index] = failure(p.event_id, exc.error)
            return None
        self.pool.merge(records)  # the pool's own view of a record it holds wins, as for a later group
        return sorted({rid for r in records if (rid := str(r["Id"])) in self.pool})

    def _execute(self, planned: list[tuple[Write, set]]) -> list[Prepared]:
        """Send a round; the events of merged writes refused for a value, to plan again (split)."""
        if not planned:
            return []
        writes = [w for w, _ in planned]
        outcomes = ([WriteOutcome(True, id=f"{PLACEHOLDER}{w.event.event_id}") if w.kind == "create" else
                     WriteOutcome(True, id=w.target) for w in writes] if self.dry_run
                    else send_round(self.store, self.object_name, writes))
        again: list[Prepared] = []
        for (w, keys), outcome in zip(planned, outcomes, strict=True):
            target = w.target if w.kind != "create" else ""
            if outcome.success:
                self._confirm(w, outcome)
                result = self._dry(w) if self.dry_run else success(w, outcome)
                merged = merged_results(w, outcome, record_id=outcome.id or w.target)
            else:
                error = outcome.error or unexplained()
                if w.merged and splits(error):
                    self._cap[w.event.index] = (len(w.merged) + 1) // 2
                    again += w.events
                    for p in w.events:  # planned again, each deciding its own group
                        self._group.pop(p.index, None)
                    continue
                if error.code in UNCERTAIN:
                    self._tainted |= keys
                result = failure(w.event.event_id, error, outcome.matched_ids, target)
                merged = merged_results(w, outcome, error, target)
            result = self._annotate(w.event.index, result)
            if w.event.index in self._by_record:
                self._by_record[w.event.index].append(result)
            else:
                self.results[w.event.index] = result
            for (p, _), folded in zip(w.merged, merged, strict=True):
                self.results[p.index] = _dry_merged(folded) if self.dry_run and outcome.success else folded
        for index in {w.event.index for w, _ in planned} & self._by_record.keys():
            self.results[index] = self._combined(index, self._by_record.pop(index))
        return again

    def _with_choice(self, index: int, result: EventResult) -> EventResult:
        chosen_by, matched = self._chosen.pop(index, ("", ()))
        self._by_record.pop(index, None)
        return replace(result, chosen_by=chosen_by, matched_ids=matched) if chosen_by else result

    def _combined(self, index: int, parts: list[EventResult]) -> EventResult:
        """One event's result from its writes: a policy's choice, or every record ALL wrote."""
        if index in self._chosen:
            return self._with_choice(index, parts[0])
        done = tuple(r.record_id for r in parts if r.error is None)
        failed = next((r for r in parts if r.error is not None), None)
        if failed is not None:
            return replace(failed, matched_ids=done, chosen_by=MatchPolicy.ALL.value)
        return replace(parts[0], matched_ids=done, chosen_by=MatchPolicy.ALL.value)

    def _confirm(self, w: Write, outcome: WriteOutcome) -> None:
        if w.kind == "delete":
            self.pool.remove(w.target)
        elif w.kind == "update":
            self.pool.update(w.target, w.record)
            self.pool.stamp(w.target, "LastModifiedDate")
        else:
            self.pool.add({**w.record, "Id": outcome.id})
            self.pool.stamp(outcome.id, "CreatedDate", "LastModifiedDate")

    def _dry(self, w: Write) -> EventResult:
        """A dry run's result; a record an earlier event would create is named `pending:<its event id>`."""
        return outcomes.result(_DRY[w.kind], w.event.event_id, record_id=w.target)


def _dry_merged(result: EventResult) -> EventResult:
    if result.outcome is not Outcome.UPDATED:
        return result
    would = outcomes.meaning(Code.WOULD_UPDATE)
    return replace(result, status=would.status, outcome=would.outcome)
