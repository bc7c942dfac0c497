"""Engine, transactions and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseUrlError(ValueError):
    """DATABASE_URL names no database this product can use."""


class DatabaseBusy(RuntimeError):
    """Another server process already uses this SQLite file."""


_held: list[object] = []  # open lock files: the lock lasts as long as this process


def hold_for_serving(url: URL) -> None:
    """Make this the only server process on a SQLite file (SQLite serves one writer process well; several
    replicas need PostgreSQL). The lock is the operating system's: it goes away with the process, even when
    it is killed. Commands that only read (incidents list, export) do not take it."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    import fcntl

    lock = open(f"{Path(url.database).resolve()}.serve-lock", "a")  # noqa: SIM115 (held until the process ends)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise DatabaseBusy(url.database) from None
    _held.append(lock)


def parse_url(raw: str) -> URL:
    """Read DATABASE_URL, accepting the spellings people paste (`postgres://`, `sqlite:///`)."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        # Never echo the URL: it may hold a password.
        raise DatabaseUrlError(
            "cannot be parsed as a database URL (expected sqlite:///PATH or postgresql+psycopg://USER@HOST:5432/DB)"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgres":
        url = url.set(drivername="postgresql")
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(f"must start with sqlite:/// or postgresql+psycopg://, got {url.drivername}://")
    if backend == "postgresql" and not url.database:
        raise DatabaseUrlError("names no database (postgresql+psycopg://user@host:5432/DBNAME)")
    return url


def sync_url(url: URL) -> URL:
    """The URL Alembic and the CLI use (psycopg 3 and pysqlite are both synchronous here)."""
    return url.set(drivername="sqlite" if url.get_backend_name() == "sqlite" else "postgresql+psycopg")


def async_url(url: URL) -> URL:
    return url.set(
        drivername="sqlite+aiosqlite" if url.get_backend_name() == "sqlite" else "postgresql+psycopg"
    )


_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?([\w.-]+|None)['\"]?", re.MULTILINE)


def head_revision() -> str:
    """The newest migration's revision, read from the files' text: loading Alembic and every migration to
    learn that there is nothing to do would take a good part of a second at each start."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((kind, value) for kind, value in _REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision", "None"))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; expected one")
    return heads.pop()


def current_revision(url: URL) -> str | None:
    """The revision the database is at (None: a new database, or one older than Alembic's own table)."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    finally:
        engine.dispose()


def upgrade(url: URL) -> None:
    """Apply every Alembic migration not applied yet (synchronous: call it before the loop starts or in a
    thread)."""
    if current_revision(url) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = sync_url(url)
    command.upgrade(cfg, "head")


class Database:
    """The async engine plus one way to run a transaction."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.is_sqlite = url.get_backend_name() == "sqlite"
        # hide_parameters: error messages must never carry what people typed (client data) into logs.
        kwargs: dict = {"pool_pre_ping": not self.is_sqlite, "hide_parameters": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite serves one process; serialising its writers here avoids lock-upgrade failures.
        self._sqlite_writer = asyncio.Lock()
        # Set by the server (bot/pacing.py): work after an acknowledgement lets requests being answered go first.
        self.pace: Callable[[], Awaitable[None]] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any error."""
        if self.pace is not None:
            await self.pace()
        lock = self._sqlite_writer if self.is_sqlite else contextlib.nullcontext()
        async with lock, self._sessions() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        if self.pace is not None:
            await self.pace()
        async with self._sessions() as session:
            yield session

    async def lock_keys(self, session: AsyncSession, keys: set[str]) -> None:
        """`lock_key` for several keys, always taken in one order so that two such transactions cannot each
        hold a key the other waits for."""
        if not self.is_sqlite and keys:
            await session.execute(
                sa.text("SELECT pg_advisory_xact_lock(h) FROM "
                        "(SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS s"),
                {"keys": sorted(keys)})

    async def lock_key(self, session: AsyncSession, key: str) -> None:
        """Serialise transactions on one key across processes (PostgreSQL advisory lock)."""
        if not self.is_sqlite:
            await session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:  # any failure means "not ready"; the reason goes to the log line
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
