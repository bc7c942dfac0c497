"""Fresh databases for the benchmark (a SQLite file, or a new PostgreSQL database), and bulk rows for the export."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa

from storage.db import parse_url, sync_url
from storage.models import TimelineEntry

# The server the bench may create databases on; the tests' own default, overridable like theirs.
PG_ADMIN = os.environ.get("BREACHROOM_BENCH_PG") or os.environ.get(
    "BREACHROOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Databases:
    """Hands out empty databases of one kind and removes them all at the end."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        self._made: list[str] = []

    def new(self) -> str:
        """The DATABASE_URL of a new, empty database (no tables: `serve` migrates it on its first start)."""
        if self.kind == "sqlite":
            path = self.folder / f"bench-{len(self._made)}.db"
            self._made.append(str(path))
            return f"sqlite:///{path}"
        name = f"br_bench_{uuid.uuid4().hex[:12]}"
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._made.append(name)
        return parse_url(PG_ADMIN).set(drivername="postgresql+psycopg", database=name).render_as_string(False)

    def drop_all(self) -> None:
        if self.kind != "postgres":
            return
        with _admin() as conn:
            for name in self._made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.clear()

    def server_version(self) -> str:
        if self.kind == "sqlite":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        with _admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def add_timeline(database_url: str, incident_id: int, count: int) -> None:
    """`count` more timeline entries for one incident, as a long response would leave (a bulk insert)."""
    engine = sa.create_engine(sync_url(parse_url(database_url)))
    start = datetime.now(UTC) - timedelta(days=30)
    rows = [{"incident_id": incident_id, "platform": "slack", "team_id": "T0BENCH",
             "at": start + timedelta(seconds=7 * n), "actor": f"U{n % 12:05d}",
             "action": "item.done" if n % 2 else "item.reopened",
             "detail": f"Step {n}: checked the firewall logs of server {n % 40} for the attacker's address"}
            for n in range(count)]
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(TimelineEntry.__table__), rows)  # type: ignore[attr-defined]
    finally:
        engine.dispose()
