"""Files offered as signed, expiring download links, for platforms that cannot take an upload (Teams group chats).

A token is `<file id>.<expiry unix seconds>.<signature>`: the signature (HMAC-SHA256 with a key kept in the
database, so every replica checks what any other signed) makes ids unguessable without making links permanent.
Platform-neutral: the HTTP side lives in breachroom/downloads_http.py.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import Secret, SharedFile

KEY_NAME = "download-links"
DEFAULT_TTL = timedelta(days=7)
CONTENT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".eml": "message/rfc822",
    ".png": "image/png",
    ".csv": "text/csv; charset=utf-8",
}
FALLBACK_TYPE = "application/octet-stream"
MAX_ID = 2**31 - 1  # shared_file.id is an INTEGER column; a larger id names nothing (and PostgreSQL would refuse it)
# Canonical numbers only (no leading zeros, no Unicode digits) and exactly one unpadded SHA-256 signature,
# so one file and expiry have exactly one valid spelling.
_TOKEN = re.compile(r"(?P<id>[1-9][0-9]{0,9})\.(?P<expiry>0|[1-9][0-9]{0,11})\.(?P<sig>[A-Za-z0-9_-]{43})")


class LinkState(enum.Enum):
    OK = "ok"
    INVALID = "invalid"  # malformed, forged, tampered with, or naming no stored file
    EXPIRED = "expired"  # genuinely signed, but past its expiry: the person needs a fresh link, not a warning


@dataclass(frozen=True)
class Opened:
    """What a token leads to; `file` is set only when `state` is OK."""

    state: LinkState
    file: SharedFile | None = None


async def signing_key(db: Database) -> bytes:
    """The shared signing key, created on first use; of two processes racing to create it, one insert wins."""
    key = await _stored_key(db)
    if key is not None:
        return key
    try:
        async with db.transaction() as session:
            session.add(Secret(name=KEY_NAME, value=secrets.token_urlsafe(32), created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # another process created it first: theirs is the key
    key = await _stored_key(db)
    if key is None:
        raise RuntimeError("the download-link signing key was neither found nor created")
    return key


async def _stored_key(db: Database) -> bytes | None:
    async with db.reading() as session:
        row = await session.get(Secret, KEY_NAME)
    return None if row is None else row.value.encode("ascii")


def content_type(filename: str) -> str:
    return CONTENT_TYPES.get(PurePath(filename).suffix.lower(), FALLBACK_TYPE)


def make_token(key: bytes, file_id: int, expiry: int) -> str:
    """The token for one file and expiry (exposed for tests that need a genuinely signed token)."""
    return f"{file_id}.{expiry}.{_signature(key, file_id, expiry)}"


def _signature(key: bytes, file_id: int, expiry: int) -> str:
    digest = hmac.new(key, f"{file_id}.{expiry}".encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def publish(
    db: Database, *, incident_id: int | None, filename: str, content: bytes, now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """Store the file and return its token; the expiry is kept in whole seconds so the row and token agree."""
    _require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError("a download link needs a positive lifetime")
    expiry = int((now + ttl).timestamp())
    key = await signing_key(db)
    async with db.transaction() as session:
        row = SharedFile(
            incident_id=incident_id, filename=filename, content_type=content_type(filename), content=content,
            created_at=now, expires_at=datetime.fromtimestamp(expiry, UTC),
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        file_id = row.id
    return make_token(key, file_id, expiry)


async def look_up(db: Database, token: str, now: datetime) -> Opened:
    """Check a token and fetch its file, telling an expired link from an invalid one."""
    _require_aware(now)
    match = _TOKEN.fullmatch(token)
    if match is None:
        return Opened(LinkState.INVALID)
    file_id, expiry = int(match["id"]), int(match["expiry"])
    if file_id > MAX_ID:
        return Opened(LinkState.INVALID)
    expected = _signature(await signing_key(db), file_id, expiry)
    if not hmac.compare_digest(expected, match["sig"]):
        return Opened(LinkState.INVALID)
    if now.timestamp() >= expiry:
        return Opened(LinkState.EXPIRED)
    async with db.reading() as session:
        row = await session.get(SharedFile, file_id)
    # The expiry must match too: SQLite may reuse a deleted row's id, and an old link must not open the new file.
    if row is None or int(row.expires_at.timestamp()) != expiry:
        return Opened(LinkState.INVALID)
    return Opened(LinkState.OK, row)


async def open_link(db: Database, token: str, now: datetime) -> SharedFile | None:
    """The file behind a valid, unexpired token; None for anything else."""
    return (await look_up(db, token, now)).file


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/files/{token}"


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("naive datetime given for a download link's clock")
