"""Encryption at rest of the sensitive columns (what people typed about a breach, notice facts and drafts).

`BREACHROOM_ENCRYPTION_KEY` is a comma-separated list of Fernet keys: the first encrypts, every one decrypts
(MultiFernet), so a key is replaced by putting the new one in front, running `breachroom db rotate-key`, then
dropping the old one. Settings parse the list once and hand it to `configure`; without it values are stored as
they always were.

A stored ciphertext is the text `fernet:` followed by the Fernet token (in a JSON column, that text as a JSON
string; in a binary column, its ASCII bytes). Whatever does not look like one is read as it is: rows written
before a key was set still read, and `rotate` encrypts them. The column types in the database do not change.
Comparisons on these columns cannot work (each encryption of one value differs): nothing queries by them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeDecorator

SETTING = "BREACHROOM_ENCRYPTION_KEY"
PREFIX = "fernet:"
# A Fernet token is url-safe base64 of a version byte 0x80 then a 64-bit timestamp that starts with zero bytes,
# so it starts `gAAAAA`: with the prefix, text someone typed is not mistaken for ciphertext.
_TOKEN = re.compile(r"fernet:gAAAAA[A-Za-z0-9_-]+=*\Z")
BATCH = 200

_first: Fernet | None = None
_all: MultiFernet | None = None


class KeyListError(ValueError):
    """The key list is malformed; the message never contains a key."""


class UnreadableValue(RuntimeError):
    """A stored value is encrypted, and no configured key decrypts it."""


def parse_keys(raw: str | None) -> list[bytes]:
    """The keys of a comma-separated list (blank entries ignored); KeyListError when one is not a Fernet key."""
    entries = [part.strip() for part in (raw or "").split(",")]
    keys = [e for e in entries if e]
    if raw and raw.strip() and not keys:
        raise KeyListError("holds no key: give one or more Fernet keys, separated by commas")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            which = f"key {number} of {len(keys)}" if len(keys) > 1 else "it"
            raise KeyListError(
                f"must be Fernet keys separated by commas (each 32 random bytes in url-safe base64, 44 characters; "
                f"`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
                f"makes one), but {which} is not one"
            ) from None
    return [k.encode("ascii") for k in keys]


def configure(keys: Sequence[bytes]) -> None:
    """Encrypt with the first key and decrypt with all of them from now on; no key: store plaintext."""
    global _first, _all
    fernets = [Fernet(k) for k in keys]
    _first = fernets[0] if fernets else None
    _all = MultiFernet(fernets) if fernets else None


def enabled() -> bool:
    return _all is not None


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX) and _TOKEN.match(value) is not None


def seal(plain: bytes) -> str:
    """`fernet:<token>` of `plain` under the first key (only when a key is configured)."""
    assert _all is not None
    return PREFIX + _all.encrypt(plain).decode("ascii")


def unseal(value: str) -> bytes:
    """The plaintext of a value `is_sealed` says is ciphertext; UnreadableValue when no key decrypts it."""
    if _all is None:
        raise UnreadableValue(f"a value in the database is encrypted but {SETTING} is not set: set it to the keys "
                              "the database was encrypted with")
    try:
        return _all.decrypt(value[len(PREFIX):].encode("ascii"))
    except InvalidToken:
        raise UnreadableValue(
            f"a value in the database was encrypted with a key that {SETTING} does not list (or was altered): "
            "add that key back to the list, after the first one"
        ) from None


def reseal(value: str) -> str | None:
    """A stored ciphertext under the first key, or None when it already is."""
    assert _all is not None and _first is not None
    token = value[len(PREFIX):].encode("ascii")
    try:
        _first.decrypt(token)
        return None
    except InvalidToken:
        pass
    unseal(value)  # raises, saying what to do, when no key decrypts it
    return PREFIX + _all.rotate(token).decode("ascii")


# ---- column types: encrypt on the way in, decrypt on the way out -------------------------------------------------


class EncryptedText(TypeDecorator[str]):
    """Text, encrypted when a key is configured."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return seal(value.encode("utf-8")) if value is not None and enabled() else value

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return unseal(value).decode("utf-8") if value is not None and is_sealed(value) else value

    @staticmethod
    def resealed(stored: str) -> str | None:
        return reseal(stored) if is_sealed(stored) else seal(stored.encode("utf-8"))


class EncryptedJSON(TypeDecorator[Any]):
    """JSON; encrypted, it is stored as one JSON string: the ciphertext of the value's JSON text."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return seal(json.dumps(value).encode("utf-8")) if value is not None and enabled() else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return json.loads(unseal(value)) if isinstance(value, str) and is_sealed(value) else value

    @staticmethod
    def resealed(stored: Any) -> Any:
        if isinstance(stored, str) and is_sealed(stored):
            return reseal(stored)
        return seal(json.dumps(stored).encode("utf-8"))


class EncryptedBytes(TypeDecorator[bytes]):
    """Binary (a Word file); encrypted, it holds the ASCII bytes of `fernet:<token>`."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Any) -> bytes | None:
        return seal(bytes(value)).encode("ascii") if value is not None and enabled() else value

    def process_result_value(self, value: bytes | None, dialect: Any) -> bytes | None:
        if value is None:
            return None
        text = _as_sealed(value)
        return bytes(value) if text is None else unseal(text)

    @staticmethod
    def resealed(stored: bytes) -> bytes | None:
        text = _as_sealed(stored)
        if text is None:
            return seal(bytes(stored)).encode("ascii")
        again = reseal(text)
        return None if again is None else again.encode("ascii")


def _as_sealed(value: bytes | None) -> str | None:
    """The ciphertext text a binary value holds, or None when it holds plain bytes."""
    if value is None or bytes(value[:13]) != b"fernet:gAAAAA":
        return None
    try:
        text = bytes(value).decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if is_sealed(text) else None


SEALED = (EncryptedText, EncryptedJSON, EncryptedBytes)


# ---- rotation ----------------------------------------------------------------------------------------------------


def rotate(url: URL, batch: int = BATCH) -> dict[str, tuple[int, int]]:
    """Re-encrypt every value of the encrypted columns under the first key, plaintext ones included.

    Per table: (values re-encrypted now, values already under the first key). Each batch of rows is one
    transaction that holds its rows (FOR UPDATE on PostgreSQL, SQLite's write lock from its start), so a value a
    serving process changes meanwhile is never overwritten with its older content. Running it again changes
    nothing. Raises UnreadableValue when a value is encrypted with a key no longer listed.
    """
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401 (the tables)
    from storage.db import sync_url

    if _all is None:
        raise UnreadableValue(f"{SETTING} is not set: there is no key to encrypt with")
    sqlite = url.get_backend_name() == "sqlite"
    engine = sa.create_engine(sync_url(url), hide_parameters=True, connect_args={"timeout": 30} if sqlite else {})
    if sqlite:
        _begin_immediate(engine)
    try:
        return {table.name: _rotate_table(engine, table, batch) for table in SQLModel.metadata.sorted_tables
                if any(isinstance(c.type, SEALED) for c in table.columns)}
    finally:
        engine.dispose()


def _rotate_table(engine: sa.Engine, table: sa.Table, batch: int) -> tuple[int, int]:
    sealed = [c for c in table.columns if isinstance(c.type, SEALED)]
    (pk,) = table.primary_key.columns
    # The stored form: the columns with their plain types, so that nothing is decrypted on the way.
    raw = sa.table(table.name, sa.column(pk.name, pk.type),
                   *(sa.column(c.name, type(c.type).impl()) for c in sealed))  # type: ignore[operator]
    changed = current = 0
    last: Any = None
    while True:
        with engine.begin() as conn:
            query = sa.select(raw).order_by(raw.c[pk.name]).limit(batch)
            if last is not None:
                query = query.where(raw.c[pk.name] > last)
            if engine.dialect.name == "postgresql":
                query = query.with_for_update()
            rows = conn.execute(query).mappings().all()
            for row in rows:
                values = {}
                for column in sealed:
                    if row[column.name] is None:
                        continue
                    again = column.type.resealed(row[column.name])  # type: ignore[attr-defined]
                    if again is None:
                        current += 1
                    else:
                        values[column.name] = again
                if values:
                    conn.execute(sa.update(raw).where(raw.c[pk.name] == row[pk.name]).values(values))
                    changed += len(values)
        if len(rows) < batch:
            return changed, current
        last = rows[-1][pk.name]


def _begin_immediate(engine: sa.Engine) -> None:
    """Each transaction takes SQLite's write lock when it begins (pysqlite would take it at the first write)."""

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
