"""The timeline is tamper-evident: each incident's entries form a SHA-256 chain that `breachroom audit verify`
checks. Rows are edited, deleted and inserted directly in the database, as someone with database access
would, and each change is named by its sequence number, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from bot import checklist, decisions, record, workspace
from bot.core import Core
from bot.declare import declare
from bot.domain import Actor
from bot.playbook import load_playbook
from storage import audit, queries
from storage.db import MIGRATIONS, Database, parse_url, sync_url
from storage.models import Incident, TimelineEntry
from tests.conftest import PG_ADMIN, Bot, declare_room, find_button
from tests.test_cli import run

T0 = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)
ENTRIES = Incident.__table__.c  # type: ignore[attr-defined]
TIMELINE = TimelineEntry.__table__  # type: ignore[attr-defined]
ANN, RITA = Actor("slack", "T1", "UANN"), Actor("slack", "T1", "URITA")


# ---- helpers ----------------------------------------------------------------------------------------------------


async def scripted_incidents(db: Database) -> None:
    """Incident 1 with seven entries at known instants, incident 2 with one (the use cases, a scripted clock)."""
    now = [T0]
    core = Core(db=db, playbook=load_playbook(), clock=lambda: now[0])
    await with_rita_responding(core)
    await declare(core, ANN, "Client files copied from the NAS", origin_channel="C1")
    for minutes, key in ((4, "network-offline"), (9, "isolate-servers"), (15, "revoke-account"),
                         (20, "reset-passwords")):
        now[0] = T0 + timedelta(minutes=minutes)
        await checklist.press(core, RITA, f"1:{key}:done")
    now[0] = T0 + timedelta(minutes=30)
    await decisions.record_decision(core, RITA, 1, "Notify Müller & Söhne first", "Größter Kunde 🙂")
    now[0] = T0 + timedelta(minutes=31)
    await decisions.record_decision(core, ANN, 1, "Restore the NAS from Sunday's backup")
    now[0] = T0 + timedelta(hours=1)
    await declare(core, ANN, "Laptop stolen from a car", origin_channel="C1")


async def with_rita_responding(core: Core) -> None:
    """Rita is the designated responder (a workspace-level entry: not chained), so she leads every incident."""
    await workspace.show_or_set(core, ANN, "responder", "@{URITA}")
    async with core.db.reading() as session:
        assert (await queries.workspace(session, "slack", "T1")).responder_id == "URITA"  # type: ignore[union-attr]


SCRIPTED = ["incident.declared", "item.done", "item.done", "item.done", "item.done", "decision.recorded",
            "decision.recorded"]


async def chain(db: Database, incident_id: int) -> list[Any]:
    async with db.reading() as session:
        return list((await session.execute(
            sa.select(TIMELINE).where(TIMELINE.c.incident_id == incident_id).order_by(TIMELINE.c.sequence)
        )).all())


async def head_and_count(db: Database, incident_id: int) -> tuple[str, int]:
    async with db.reading() as session:
        row = (await session.execute(sa.select(ENTRIES.timeline_head_hash, ENTRIES.timeline_count)
                                     .where(ENTRIES.id == incident_id))).one()
    return row[0], row[1]


def recomputed(rows: list[Any]) -> list[str]:
    """The chain as the audit module's docstring tells an auditor to compute it, without its code."""
    hashes, previous = [], "0" * 64
    for row in rows:
        at = row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        payload = {"incident_id": row.incident_id, "sequence": row.sequence, "at": at, "actor": row.actor,
                   "action": row.action, "detail": row.detail, "previous_hash": previous}
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        previous = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        hashes.append(previous)
    return hashes


async def tamper(db: Database, *statements: Any) -> None:
    async with db.transaction() as session:
        for statement in statements:
            await session.execute(statement)


def verify(tmp_path: Path, db_url: str, *incident: str) -> tuple[int, list[str], str]:
    result = run(tmp_path, "audit", "verify", *incident, DATABASE_URL=db_url)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout.splitlines(), result.stderr


def ok_line(incident_id: int, count: int, head: str) -> str:
    return f"incident {incident_id}: OK ({count} {'entry' if count == 1 else 'entries'}, head {head[:16]}…)"


def entry(sequence: int) -> Any:
    return sa.and_(TIMELINE.c.incident_id == 1, TIMELINE.c.sequence == sequence)


# ---- a real incident verifies -------------------------------------------------------------------------------------


async def test_a_slack_incident_verifies_and_its_export_carries_the_head(bot: Bot, db_url: str,
                                                                         tmp_path: Path) -> None:
    slack = bot.slack
    room = await declare_room(bot, "Ransomware on the front-desk PC")
    for label in ("network offline", "Isolate the affected"):
        button = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], label)
        before = len(slack.called("chat.update"))
        await bot.press(room["channel"], room["ts"], button["action_id"], button["value"])
        await slack.wait_for(lambda n=before: len(slack.called("chat.update")) > n)
    await bot.command("decision Pay nobody; restore from last night's backup", channel=room["channel"])
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "Decision 1" in c.args["text"]])
    # A workspace-level entry (no incident) is not chained and does not disturb the chain.
    await bot.command("timezone Europe/Berlin")
    await slack.settle(0.3)

    rows = await chain(bot.db, 1)
    assert [r.action for r in rows] == ["incident.declared", "room.opened", "room.ready", "item.done", "item.done",
                                        "decision.recorded"]
    assert [r.sequence for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.entry_hash for r in rows] == recomputed(rows)
    head, count = await head_and_count(bot.db, 1)
    assert (head, count) == (rows[-1].entry_hash, 6)
    async with bot.db.reading() as session:
        workspace_entry = (await session.execute(sa.select(TIMELINE).where(TIMELINE.c.incident_id.is_(None)))).one()
    assert workspace_entry.action == "workspace.timezone" and workspace_entry.sequence is None
    assert workspace_entry.entry_hash is None

    code, lines, _ = verify(tmp_path, db_url)
    assert (code, lines) == (0, [ok_line(1, 6, head)])
    code, lines, _ = verify(tmp_path, db_url, "1")
    assert (code, lines) == (0, [ok_line(1, 6, head)])

    exported = run(tmp_path, "incidents", "export", "1", "--format", "json", DATABASE_URL=db_url)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["timeline_head_hash"] == head
    assert [e["action"] for e in data["timeline"]] == [r.action for r in rows]
    markdown = run(tmp_path, "incidents", "export", "1", "--format", "md", DATABASE_URL=db_url)
    assert f"`breachroom audit verify 1` checks it): {head}" in markdown.stdout


# ---- each change is caught -------------------------------------------------------------------------------------


def forged_hash(sequence: int, at: datetime, previous: str) -> str:
    return audit.entry_hash(incident_id=1, sequence=sequence, at=at, actor="UANN", action="decision.recorded",
                            detail="Told nobody", previous_hash=previous)


def forged_row(**values: Any) -> dict[str, Any]:
    return {"incident_id": 1, "platform": "slack", "team_id": "T1", "actor": "UANN", "action": "decision.recorded",
            "detail": "Told nobody", **values}


async def slip_in_at_3(db: Database) -> None:
    """The careful forger: renumbers entries 3… and puts a correctly hashed entry 3 between 2 and the rest."""
    rows = await chain(db, 1)
    at = T0 + timedelta(minutes=6)
    await tamper(
        db,
        # Two steps, so that the unique (incident, sequence) constraint never sees a number twice.
        sa.update(TIMELINE).where(TIMELINE.c.incident_id == 1, TIMELINE.c.sequence >= 3)
        .values(sequence=-TIMELINE.c.sequence),
        sa.update(TIMELINE).where(TIMELINE.c.incident_id == 1, TIMELINE.c.sequence < 0)
        .values(sequence=1 - TIMELINE.c.sequence),
        sa.insert(TIMELINE).values(**forged_row(at=at, sequence=3, entry_hash=forged_hash(3, at, rows[1].entry_hash))),
        sa.update(Incident.__table__).where(ENTRIES.id == 1).values(timeline_count=8),
    )


async def append_at_8(db: Database) -> None:
    """An entry added after the newest, hashed onto it, without the incident's count and head."""
    rows = await chain(db, 1)
    at = T0 + timedelta(minutes=40)
    await tamper(db, sa.insert(TIMELINE).values(**forged_row(at=at, sequence=8,
                                                             entry_hash=forged_hash(8, at, rows[-1].entry_hash))))


CHANGES: dict[str, tuple[Any, str]] = {
    "one entry's detail edited": (
        lambda db: tamper(db, sa.update(TIMELINE).where(entry(3)).values(detail="Isolated nothing")),
        "entry 3 was altered"),
    "one entry's instant changed": (
        lambda db: tamper(db, sa.update(TIMELINE).where(entry(5)).values(at=T0 + timedelta(minutes=2))),
        "entry 5 was altered"),
    "one entry's author changed": (
        lambda db: tamper(db, sa.update(TIMELINE).where(entry(6)).values(actor="UBOB")),
        "entry 6 was altered"),
    "a middle entry deleted": (
        lambda db: tamper(db, sa.delete(TIMELINE).where(entry(4))),
        "entry 4 was deleted"),
    "the newest entry deleted": (
        lambda db: tamper(db, sa.delete(TIMELINE).where(entry(7))),
        "the newest entries were deleted (the record says 7, 6 found)"),
    "the two newest entries deleted": (
        lambda db: tamper(db, sa.delete(TIMELINE).where(TIMELINE.c.incident_id == 1, TIMELINE.c.sequence >= 6)),
        "the newest entries were deleted (the record says 7, 5 found)"),
    "a forged entry inserted without a number": (
        lambda db: tamper(db, sa.insert(TIMELINE).values(**forged_row(at=T0 + timedelta(minutes=6)))),
        "entry 3 was inserted"),
    "a forged entry hashed into the chain": (slip_in_at_3, "entry 3 was inserted"),
    "a forged entry appended after the newest": (append_at_8, "entry 8 was inserted"),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_each_change_to_the_timeline_is_caught(change: str, db_url: str, db: Database,
                                                     tmp_path: Path) -> None:
    await scripted_incidents(db)
    rows = await chain(db, 1)
    assert [(r.sequence, r.action) for r in rows] == list(enumerate(SCRIPTED, 1))
    assert [r.entry_hash for r in rows] == recomputed(rows)
    head_2, _ = await head_and_count(db, 2)

    make, problem = CHANGES[change]
    await make(db)

    code, lines, _ = verify(tmp_path, db_url)
    assert (code, lines) == (1, [f"incident 1: {problem}", ok_line(2, 1, head_2)])
    code, lines, _ = verify(tmp_path, db_url, "1")
    assert (code, lines) == (1, [f"incident 1: {problem}"])
    code, lines, _ = verify(tmp_path, db_url, "2")
    assert (code, lines) == (0, [ok_line(2, 1, head_2)])


async def test_an_unknown_incident_is_one_line_and_exit_2(db_url: str, db: Database, tmp_path: Path) -> None:
    await scripted_incidents(db)
    code, lines, stderr = verify(tmp_path, db_url, "99")
    assert (code, lines) == (2, [])
    assert stderr.strip().splitlines() == ["breachroom: no incident with id 99 (see `breachroom incidents list "
                                           "--drills`)"]


# ---- concurrency: one chain, in commit order ------------------------------------------------------------------


@pytest.fixture
async def second_process(db_kind: str, db_url: str, db: Database) -> AsyncIterator[Database]:
    """Another serve process on the same PostgreSQL; SQLite serves one process, so the same Database there."""
    if db_kind == "sqlite":
        yield db
        return
    other = Database(parse_url(db_url))
    yield other
    await other.dispose()


async def test_thirty_decisions_at_once_keep_one_chain_in_commit_order(db: Database,
                                                                        second_process: Database) -> None:
    playbook = load_playbook()
    cores = [Core(db=db, playbook=playbook), Core(db=second_process, playbook=playbook)]
    await with_rita_responding(cores[0])
    await declare(cores[0], ANN, "Payroll export emailed to the wrong address", origin_channel="C1")
    keys = ["network-offline", "isolate-servers", "revoke-account", "reset-passwords", "scope-data",
            "identify-clients", "client-actions", "root-cause", "training", "automate"]
    work = [decisions.record_decision(cores[n % 2], RITA if n % 3 else ANN, 1, f"Decision number {n:02d}")
            for n in range(30)]
    # Presses do not take the decisions' lock: they meet the decisions only on the timeline's chain.
    work += [checklist.press(cores[n % 2], ANN, f"1:{key}:done") for n, key in enumerate(keys)]
    await asyncio.gather(*work)

    (verdict,) = await audit.verify(db, 1)
    assert verdict.ok and verdict.entries == 1 + 30 + len(keys), verdict
    rows = await chain(db, 1)
    assert [r.sequence for r in rows] == list(range(1, 42))
    assert sorted(r.action for r in rows) == ["decision.recorded"] * 30 + ["incident.declared"] + ["item.done"] * 10
    assert [r.entry_hash for r in rows] == recomputed(rows)

    data = await record.incident_record(db, 1, playbook)
    assert data is not None
    head, count = await head_and_count(db, 1)
    assert count == 41 and data["timeline_head_hash"] == head == rows[-1].entry_hash
    assert len(data["decisions"]) == 30
    assert sorted(d["text"] for d in data["decisions"]) == [f"Decision number {n:02d}" for n in range(30)]
    # The timeline and the export list entries in the order their transactions committed: decisions are
    # numbered under their own lock, so the chain's order of decisions is the decisions' order.
    assert [e["detail"] for e in data["timeline"] if e["action"] == "decision.recorded"] == [
        d["text"] for d in data["decisions"]]
    assert [e["action"] for e in data["timeline"]] == [r.action for r in rows]
    assert data["timeline"][0]["action"] == "incident.declared"


def append(db: Database, action: str, at: datetime) -> Any:
    async def write() -> None:
        async with db.transaction() as session:
            queries.record(session, platform="slack", team_id="T1", actor="UANN", action=action, at=at,
                           incident_id=1)

    return write()


async def test_entries_are_chained_in_commit_order_not_in_the_order_of_their_instants(
        db_kind: str, db: Database, second_process: Database) -> None:
    await declare(Core(db=db, playbook=load_playbook()), ANN, "Shared drive link made public", origin_channel="C1")
    committed: list[str] = []
    early, late = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    async with db.transaction() as session:
        queries.record(session, platform="slack", team_id="T1", actor="UANN", action="test.stamped-first", at=early,
                       incident_id=1)
        await session.flush()  # written, not yet committed: it holds no place in the chain yet
        other = asyncio.create_task(append(second_process, "test.stamped-second", late))
        done, _ = await asyncio.wait({other}, timeout=1.0)
        if done:
            await other
            committed.append("test.stamped-second")
        else:
            assert db_kind == "sqlite"  # SQLite: one writer at a time; the second waits for this commit
    committed.append("test.stamped-first")
    if not done:
        await other
        committed.append("test.stamped-second")
    if db_kind == "postgres":
        assert committed == ["test.stamped-second", "test.stamped-first"]

    rows = await chain(db, 1)
    assert [r.action for r in rows] == ["incident.declared", *committed]
    assert [r.entry_hash for r in rows] == recomputed(rows)
    async with db.reading() as session:
        entries = await queries.timeline(session, 1)
    assert [e.action for e in entries] == ["incident.declared", *committed]
    assert (await audit.verify(db, 1))[0].ok


@pytest.mark.postgres_only
async def test_a_second_writer_waits_for_the_chain_and_reads_the_first_ones_head(
        db: Database, second_process: Database) -> None:
    """While one transaction holds the incident's chain (as it does while it commits), another appending to the
    same incident waits, then chains after it: never the same number, never the same previous hash."""
    await declare(Core(db=db, playbook=load_playbook()), ANN, "Backup tapes lost", origin_channel="C1")
    async with db.transaction() as session:
        await session.execute(sa.select(ENTRIES.id).where(ENTRIES.id == 1).with_for_update(key_share=True))
        queries.record(session, platform="slack", team_id="T1", actor="UANN", action="test.holder", at=T0,
                       incident_id=1)
        waiting = asyncio.create_task(append(second_process, "test.waiter", T0))
        done, _ = await asyncio.wait({waiting}, timeout=1.0)
        assert not done  # blocked on the incident row until this transaction commits
    await waiting
    rows = await chain(db, 1)
    assert [(r.sequence, r.action) for r in rows] == [(1, "incident.declared"), (2, "test.holder"),
                                                      (3, "test.waiter")]
    assert [r.entry_hash for r in rows] == recomputed(rows)
    assert (await audit.verify(db, 1))[0].ok


# ---- the upgrade numbers and hashes the entries that were there -------------------------------------------------


@pytest.fixture
def empty_db_url(db_kind: str, tmp_path: Path) -> Any:
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"br_old_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield str(parse_url(PG_ADMIN).set(drivername="postgresql+psycopg", database=name).render_as_string(False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = sync_url(parse_url(url))
    (command.downgrade if down else command.upgrade)(cfg, revision)


def test_upgrading_chains_the_entries_written_before(empty_db_url: str, tmp_path: Path) -> None:
    migrate(empty_db_url, "0007")
    engine = sa.create_engine(sync_url(parse_url(empty_db_url)))
    tables = sa.MetaData()
    tables.reflect(engine)
    incident, timeline = tables.tables["incident"], tables.tables["timeline_entry"]
    declared = T0.replace(tzinfo=None)  # revision 0007 stores naive UTC
    with engine.begin() as conn:
        for n in (1, 2, 3):
            conn.execute(incident.insert().values(
                id=n, platform="slack", team_id="T1", summary=f"Old incident {n}", severity="high", status="open",
                declared_by="UANN", declared_at=declared, responder_id="UANN", responder_is_designated=True,
                data_kinds=[], dedupe_key=f"old-{n}", build_status="ready", build_problems=[], notice_facts={},
                drill=False))
        conn.execute(sa.text("ALTER SEQUENCE incident_id_seq RESTART WITH 4") if engine.dialect.name == "postgresql"
                     else sa.text("SELECT 1"))
        # Interleaved incidents, instants out of id order, text outside ASCII, a workspace-level entry.
        for k, (iid, minutes, detail) in enumerate([(1, 0, "declared"), (2, 0, "declared"), (1, 5, "Étape 1 ✓"),
                                                    (1, 3, "written later, stamped earlier"), (2, 7, ""),
                                                    (None, 8, "UANN -> URESP"), (1, 9, "Décision: 🙂")]):
            conn.execute(timeline.insert().values(
                incident_id=iid, platform="slack", team_id="T1", actor="UANN", action=f"old.{k}", detail=detail,
                at=declared + timedelta(minutes=minutes, microseconds=k)))
    engine.dispose()

    migrate(empty_db_url, "head")
    engine = sa.create_engine(sync_url(parse_url(empty_db_url)))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(TIMELINE).order_by(TIMELINE.c.id)).all()
        heads = dict(conn.execute(sa.select(ENTRIES.id, ENTRIES.timeline_head_hash)).all())
        counts = dict(conn.execute(sa.select(ENTRIES.id, ENTRIES.timeline_count)).all())
    engine.dispose()
    assert [(r.incident_id, r.sequence) for r in rows] == [(1, 1), (2, 1), (1, 2), (1, 3), (2, 2), (None, None),
                                                           (1, 4)]
    for iid in (1, 2):
        mine = [r for r in rows if r.incident_id == iid]
        assert [r.entry_hash for r in mine] == recomputed(mine)
        assert heads[iid] == mine[-1].entry_hash and counts[iid] == len(mine)
    assert heads[3] is None and counts[3] == 0

    code, lines, _ = verify(tmp_path, empty_db_url)
    assert (code, lines) == (0, [ok_line(1, 4, heads[1]), ok_line(2, 2, heads[2]), "incident 3: OK (0 entries)"])

    # Down and up again: the same numbers and hashes.
    migrate(empty_db_url, "0007", down=True)
    migrate(empty_db_url, "head")
    code, again, _ = verify(tmp_path, empty_db_url)
    assert (code, again) == (0, lines)
    assert re.fullmatch(r"[0-9a-f]{64}", heads[1])
