"""The tamper-evident timeline: each incident's timeline entries form a SHA-256 hash chain.

What is hashed (enough to recompute it without this code)
---------------------------------------------------------
Entry number n of an incident (`timeline_entry.sequence`: 1, 2, 3 … per incident) stores in `entry_hash`

    lowercase hex of SHA-256( UTF-8 bytes of the canonical JSON of
        {"action": ACTION, "actor": ACTOR, "at": AT, "detail": DETAIL,
         "incident_id": INCIDENT_ID, "previous_hash": PREVIOUS, "sequence": n} )

- canonical JSON: keys sorted, no whitespace (`,` and `:` as separators), characters outside ASCII written as
  themselves, not `\\u` escapes; in Python `json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode("utf-8")`;
- `incident_id` and `sequence` are JSON integers; `actor`, `action` and `detail` are the stored strings;
- `at` is the entry's instant in UTC, ISO 8601 with six digits of microseconds and a `Z`:
  `2026-11-27T09:41:00.123456Z` (the export writes `at` more briefly: pad it to this form);
- `previous_hash` is entry n-1's `entry_hash`; for entry 1 it is 64 zeros.

The hash covers the plaintext values, never a stored (later: encrypted) form, so re-encrypting the timeline
under a new key leaves every hash valid. The incident row keeps the newest entry's hash and the number of
entries (`incident.timeline_head_hash`, `incident.timeline_count`): a timeline whose newest entries were
deleted still verifies entry by entry, but no longer reaches the head the incident keeps. Entries without an
incident (workspace settings) are not chained.

What it proves, and what it cannot: editing, deleting or inserting an entry directly in the database breaks
the chain at that entry, and `breachroom audit verify` names it. Someone who can write the database and
recomputes every later hash and the incident's head is caught only by comparison with a head kept elsewhere:
the export carries `timeline_head_hash`, so a copy given to a lawyer or insurer anchors the chain up to it.

When the hash is computed, and why then
---------------------------------------
Use cases append entries with `storage.queries.record` inside their own transaction and know nothing of
the chain. Two listeners on every ORM session do the rest, so no call site changes:

- `before_flush` remembers the transaction's new incident entries (a flush may insert them before the
  commit, without a number yet; nobody outside the transaction sees them until it commits);
- `before_commit` first flushes whatever else the transaction changed, then locks the incident row
  (`SELECT … FOR NO KEY UPDATE` on PostgreSQL; SQLite already has one writer at a time, and the app
  serialises its writers, storage/db.py), reads the head and the count, numbers the transaction's entries
  after them, hashes each onto the one before, and stores the new head and count; the commit then writes it.

Taking the lock at commit rather than at the first flush keeps it the last lock the transaction takes, held
only for these few statements: it cannot deadlock with row locks a use case took earlier (say, pressing a
checklist step while the notice approval that ticks the same step runs), and the chain's order is the order
in which transactions committed, whatever instants (`at`) their use cases stamped before waiting. `FOR NO
KEY UPDATE` rather than `FOR UPDATE`: rows that merely reference the incident (a decision, a notice draft)
take a key-share lock on it, which must not block the chain. Of two transactions appending to one incident,
the second waits for the first to commit and then reads its head; the unique (incident_id, sequence)
constraint is the last guard, should anything write the table another way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from storage.db import Database
from storage.models import Incident, TimelineEntry

GENESIS = "0" * 64
_UNCHAINED = "breachroom.audit.unchained"  # session.info key: this transaction's entries not yet numbered


def canonical_time(at: datetime) -> str:
    """`2026-11-27T09:41:00.123456Z`: UTC, always six digits of microseconds."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the timeline")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(
    *, incident_id: int, sequence: int, at: datetime, actor: str, action: str, detail: str, previous_hash: str
) -> bytes:
    """The exact bytes an entry's hash is taken over (see the module docstring)."""
    fields = {"incident_id": incident_id, "sequence": sequence, "at": canonical_time(at), "actor": actor,
              "action": action, "detail": detail, "previous_hash": previous_hash}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(
    *, incident_id: int, sequence: int, at: datetime, actor: str, action: str, detail: str, previous_hash: str
) -> str:
    return hashlib.sha256(canonical_json(
        incident_id=incident_id, sequence=sequence, at=at, actor=actor, action=action, detail=detail,
        previous_hash=previous_hash,
    )).hexdigest()


class Entry(Protocol):
    """What an entry's hash covers: a TimelineEntry, or a row of the same columns (as the migration reads)."""

    incident_id: Any
    at: Any
    actor: Any
    action: Any
    detail: Any


def hash_as(entry: Entry, sequence: int, previous_hash: str) -> str:
    """The hash `entry` has (or must have) at place `sequence` after `previous_hash`."""
    return entry_hash(incident_id=entry.incident_id, sequence=sequence, at=entry.at, actor=entry.actor,
                      action=entry.action, detail=entry.detail, previous_hash=previous_hash)


# ---- appending: numbered and hashed as the transaction commits ---------------------------------------------------


def _unchained(obj: object) -> bool:
    return isinstance(obj, TimelineEntry) and obj.incident_id is not None and obj.sequence is None


@event.listens_for(Session, "before_flush")
def _remember_new_entries(session: Session, _context: Any, _instances: Any) -> None:
    """Entries flushed before the commit are numbered at the commit: keep them (the identity map holds them
    only weakly)."""
    new = [o for o in session.new if _unchained(o)]
    if new:
        new.sort(key=lambda o: sa.inspect(o).insert_order or 0)
        session.info.setdefault(_UNCHAINED, []).extend(new)


@event.listens_for(Session, "before_commit")
def _chain_on_commit(session: Session) -> None:
    pending = [o for o in session.new if _unchained(o)]
    if not pending and not session.info.get(_UNCHAINED):
        return
    others = (session.deleted or any(not isinstance(o, TimelineEntry) for o in session.new)
              or any(session.is_modified(o) for o in session.dirty))
    if others:
        session.flush()  # everything else first: the chain's lock is the transaction's last
        pending = []
    pending.sort(key=lambda o: sa.inspect(o).insert_order or 0)
    entries: list[TimelineEntry] = []
    seen: set[int] = set()
    for entry in [*session.info.pop(_UNCHAINED, []), *pending]:
        # Entries of a rolled-back savepoint are no longer in the session; each entry is numbered once.
        if id(entry) not in seen and entry in session and _unchained(entry):
            seen.add(id(entry))
            entries.append(entry)
    by_incident: dict[int, list[TimelineEntry]] = {}
    for entry in entries:
        by_incident.setdefault(entry.incident_id or 0, []).append(entry)
    with session.no_autoflush:
        _append(session, by_incident)


def _append(session: Session, by_incident: dict[int, list[TimelineEntry]]) -> None:
    """Chain each incident's new entries: one locking read and one (multi-row) UPDATE for all the incidents of
    the transaction (several when declarations arrived together, bot/batching.py)."""
    table = Incident.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(table.c.id, table.c.timeline_count, table.c.timeline_head_hash)
        .where(table.c.id.in_(sorted(by_incident)))
        .order_by(table.c.id)  # one order for every transaction: no lock cycle between two
        .with_for_update(key_share=True)
    ).all()
    heads = []
    # An incident that is not there: its entries' insert fails on the foreign key, as it always did.
    for row in rows:
        count, head = row.timeline_count or 0, row.timeline_head_hash or GENESIS
        for entry in by_incident[row.id]:
            count += 1
            head = hash_as(entry, count, head)
            entry.sequence, entry.entry_hash = count, head
        heads.append({"chained_id": row.id, "chained_count": count, "chained_head": head})
    if not heads:
        return
    session.execute(sa.update(table).where(table.c.id == sa.bindparam("chained_id"))
                    .values(timeline_count=sa.bindparam("chained_count"),
                            timeline_head_hash=sa.bindparam("chained_head")), heads)
    for head in heads:
        known = session.identity_map.get(session.identity_key(Incident, head["chained_id"]))
        if known is not None:  # the caller's copy of the incident agrees with its row, without a second UPDATE
            set_committed_value(known, "timeline_count", head["chained_count"])
            set_committed_value(known, "timeline_head_hash", head["chained_head"])


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    """A rolled-back transaction's entries are gone; a savepoint's end leaves the outer transaction's alone."""
    if transaction.parent is None:
        session.info.pop(_UNCHAINED, None)


# ---- verifying ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One incident's chain, checked: `problem` is None when it holds."""

    incident_id: int
    entries: int  # numbered entries found
    head: str | None  # the head the incident keeps
    problem: str | None = None
    sequence: int | None = None  # the first entry found altered, inserted or deleted

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        """`incident 7: OK (42 entries, head 3fa1c0de52b7e9a1…)` or `incident 7: entry 12 was altered`."""
        if self.problem:
            return f"incident {self.incident_id}: {self.problem}"
        head = f", head {self.head[:16]}…" if self.head else ""
        return f"incident {self.incident_id}: OK ({self.entries} {'entry' if self.entries == 1 else 'entries'}{head})"


def check(incident_id: int, recorded_count: int, recorded_head: str | None, rows: Sequence[Any]) -> Verdict:
    """Check one incident's entries (TimelineEntry rows) against each other and against the head and count
    its row keeps.

    The first problem is named by its sequence number: an entry whose content no longer gives its hash was
    altered; a missing number was deleted; an entry without a number, or one whose neighbour still hashes as
    if it were not there, was inserted.
    """
    numbered = sorted((r for r in rows if r.sequence is not None), key=lambda r: (r.sequence, r.id))
    problems = [_first_break(numbered, recorded_count, recorded_head)]
    for row in rows:
        if row.sequence is None:
            # An entry without a number takes, in the timeline, the place its instant gives it.
            spot = 1 + sum(1 for r in numbered if r.at <= row.at)
            problems.append((spot, f"entry {spot} was inserted"))
    found = [p for p in problems if p is not None]
    if not found:
        return Verdict(incident_id, len(numbered), recorded_head)
    first, problem = min(found, key=lambda p: p[0])
    return Verdict(incident_id, len(numbered), recorded_head, problem, first)


def _first_break(numbered: Sequence[Any], recorded_count: int, recorded_head: str | None) -> tuple[int, str] | None:
    """Walk the numbered entries from 1: where the chain first breaks, and how."""
    previous, before_previous, place = GENESIS, GENESIS, 1
    for i, row in enumerate(numbered):
        if row.sequence > place:
            return place, f"entry {place} was deleted"
        if row.sequence < place:  # a second entry with the same number (only without the unique constraint)
            return row.sequence, f"entry {row.sequence} was inserted"
        if hash_as(row, place, previous) == row.entry_hash:
            before_previous, previous, place = previous, row.entry_hash, place + 1
            continue
        if place > 1 and hash_as(row, place - 1, before_previous) == row.entry_hash:
            # It still hashes as the entry before it: a well-forged entry was slipped in there, the rest renumbered.
            return place - 1, f"entry {place - 1} was inserted"
        following = numbered[i + 1] if i + 1 < len(numbered) else None
        if following is not None and hash_as(following, place, previous) == following.entry_hash:
            return place, f"entry {place} was inserted"
        return place, f"entry {place} was altered"
    found = place - 1
    if found < recorded_count:
        return found + 1, f"the newest entries were deleted (the record says {recorded_count}, {found} found)"
    if found > recorded_count:
        return recorded_count + 1, f"entry {recorded_count + 1} was inserted"
    if previous != (recorded_head or GENESIS):
        if found > 1 and before_previous == recorded_head:
            return found, f"entry {found} was inserted"
        return max(found, 1), f"entry {max(found, 1)} was altered (its hash is not the head the incident keeps)"
    return None


class UnknownIncident(LookupError):
    pass


async def verify(db: Database, incident_id: int | None = None) -> list[Verdict]:
    """Check every incident's chain (or one's), in id order.

    One SELECT reads the entries together with the head and count, so a verification running beside a
    serving bot sees one consistent moment, never an append half-seen.
    """
    statement = (
        select(Incident.id, Incident.timeline_count, Incident.timeline_head_hash, TimelineEntry)
        .outerjoin(TimelineEntry, col(TimelineEntry.incident_id) == col(Incident.id))
        .order_by(col(Incident.id), col(TimelineEntry.sequence), col(TimelineEntry.id))
    )
    if incident_id is not None:
        statement = statement.where(col(Incident.id) == incident_id)
    async with db.reading() as session:
        result = await session.execute(statement)
        chains: dict[int, tuple[int, str | None, list[TimelineEntry]]] = {}
        for iid, count, head, entry in result.all():
            _, _, entries = chains.setdefault(iid, (count or 0, head, []))
            if entry is not None:
                entries.append(entry)
    if incident_id is not None and incident_id not in chains:
        raise UnknownIncident(incident_id)
    return [check(iid, count, head, entries) for iid, (count, head, entries) in chains.items()]
