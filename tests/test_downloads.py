"""Signed download links over real HTTP: the served app, a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
import pytest
import sqlalchemy as sa

from bot.playbook import load_playbook
from breachroom.downloads_http import EXPIRED, INVALID
from breachroom.server import make_app
from storage import downloads
from storage.db import Database, parse_url
from storage.models import Secret, SharedFile
from tests.local_http import serve
from tests.test_teams_hosting import teams_settings

DOCX = downloads.CONTENT_TYPES[".docx"]
# Not a real .docx: the bytes must come back untouched, whatever they are.
DOCX_BYTES = b"PK\x03\x04" + bytes(range(256)) * 40


class Served:
    """The app on a loopback port (Teams in the Emulator's mode, so no platform is contacted)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession()

    async def get(self, token: str) -> tuple[int, bytes, dict[str, str]]:
        async with self.http.get(downloads.link(self.url + "/", token)) as response:
            return response.status, await response.read(), dict(response.headers)


@pytest.fixture
async def served(db_url: str) -> AsyncIterator[Served]:
    settings = teams_settings(db_url, microsoft_app_id="")
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    client = Served(url)
    yield client
    await client.http.close()
    await runner.cleanup()


def now() -> datetime:
    return datetime.now(UTC)


async def publish(db: Database, filename: str, content: bytes, *, at: datetime | None = None,
                  ttl: timedelta = downloads.DEFAULT_TTL) -> str:
    return await downloads.publish(db, incident_id=None, filename=filename, content=content,
                                   now=at or now(), ttl=ttl)


async def test_a_docx_downloads_with_its_bytes_name_and_type(served: Served, db: Database) -> None:
    token = await publish(db, "client-notice-v2.docx", DOCX_BYTES)
    status, body, headers = await served.get(token)
    assert status == 200
    assert body == DOCX_BYTES
    assert headers["Content-Type"] == DOCX
    assert headers["Content-Disposition"] == 'attachment; filename="client-notice-v2.docx"'
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_the_token_carries_id_and_expiry_and_the_row_agrees(db: Database) -> None:
    at = datetime(2026, 11, 27, 9, 30, 15, 987654, tzinfo=UTC)
    token = await publish(db, "export.json", b"{}", at=at, ttl=timedelta(hours=2))
    file_id, expiry, _ = token.split(".")
    assert int(expiry) == int((at + timedelta(hours=2)).timestamp())
    async with db.reading() as session:
        row = await session.get(SharedFile, int(file_id))
    assert row is not None
    assert row.content_type == "application/json"
    assert row.expires_at == datetime(2026, 11, 27, 11, 30, 15, tzinfo=UTC)


async def test_a_markdown_file_with_a_non_ascii_name(served: Served, db: Database) -> None:
    name = "Mitteilung an Kunden – Müller & Söhne.md"
    text = "# Benachrichtigung\n\nSehr geehrte Kundin, sehr geehrter Kunde …\n".encode()
    token = await publish(db, name, text)
    status, body, headers = await served.get(token)
    assert status == 200
    assert body == text
    assert headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Mitteilung an Kunden _ Muller & Sohne.md\"; "
        f"filename*=UTF-8''{quote(name, safe='')}"
    )
    # What a client does with it: the UTF-8 name wins over the ASCII fallback.
    async with served.http.get(downloads.link(served.url, token)) as response:
        assert response.content_disposition is not None
        assert response.content_disposition.filename == name


async def test_a_quote_or_slash_in_a_name_cannot_break_the_header(served: Served, db: Database) -> None:
    token = await publish(db, 'a"b\\c/d\r\nSet-Cookie: x.eml', b"From: a@example.com\r\n\r\nhi")
    status, _, headers = await served.get(token)
    assert status == 200
    assert headers["Content-Type"] == "message/rfc822"
    assert headers["Content-Disposition"].startswith('attachment; filename="a_b_c_d__Set-Cookie: x.eml"; filename*=')
    assert "Set-Cookie" not in {k.title() for k in headers}


async def test_an_unknown_extension_is_plain_bytes(db: Database) -> None:
    assert downloads.content_type("evidence.zip") == "application/octet-stream"
    assert downloads.content_type("NOTICE.DOCX") == DOCX
    assert downloads.content_type("no-extension") == "application/octet-stream"


async def test_a_tampered_signature_is_not_found(served: Served, db: Database) -> None:
    token = await publish(db, "notice.docx", DOCX_BYTES)
    file_id, expiry, signature = token.split(".")
    swapped = "A" if signature[0] != "A" else "B"
    for bad in (f"{file_id}.{expiry}.{swapped}{signature[1:]}",
                f"{file_id}.{expiry}.{signature[:-1]}",
                f"{file_id}.{int(expiry) + 86400}.{signature}",  # a longer life, same signature
                f"0{file_id}.{expiry}.{signature}"):  # the same numbers, spelled differently
        status, body, headers = await served.get(bad)
        assert status == 404, bad
        assert body.decode() == INVALID
        assert headers["Cache-Control"] == "private, no-store"
        assert await downloads.open_link(db, bad, now()) is None


async def test_another_files_id_with_this_signature_is_not_found(served: Served, db: Database) -> None:
    mine = await publish(db, "notice.docx", DOCX_BYTES)
    theirs = await publish(db, "other-incident.docx", b"someone else's notice")
    _, expiry, signature = mine.split(".")
    their_id = theirs.split(".")[0]
    status, body, _ = await served.get(f"{their_id}.{expiry}.{signature}")
    assert (status, body.decode()) == (404, INVALID)
    assert (await served.get(theirs))[1] == b"someone else's notice"


async def test_an_expired_link_is_gone(served: Served, db: Database) -> None:
    token = await publish(db, "notice.docx", DOCX_BYTES, at=now() - timedelta(days=8))
    status, body, headers = await served.get(token)
    assert (status, body.decode()) == (410, EXPIRED)
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert (await downloads.look_up(db, token, now())).state is downloads.LinkState.EXPIRED
    assert await downloads.open_link(db, token, now()) is None
    # The same link, the moment before it expired.
    assert await downloads.open_link(db, token, now() - timedelta(days=1, minutes=1)) is not None


async def test_an_unknown_id_or_a_malformed_token_is_not_found(served: Served, db: Database) -> None:
    await publish(db, "notice.docx", DOCX_BYTES)
    key = await downloads.signing_key(db)
    expiry = int((now() + timedelta(days=1)).timestamp())
    for token in (downloads.make_token(key, 999_999, expiry), downloads.make_token(key, 2**31, expiry),
                  downloads.make_token(key, 10**17, expiry),
                  "notice.docx", "1", "1.2", "1.2.3.4", "-1.2.abc", "x" * 300):
        status, body, _ = await served.get(token)
        assert (status, body.decode()) == (404, INVALID), token
    assert (await downloads.look_up(db, downloads.make_token(key, 999_999, expiry), now())).state \
        is downloads.LinkState.INVALID


async def test_a_link_signed_with_another_key_is_not_found(served: Served, db: Database) -> None:
    token = await publish(db, "notice.docx", DOCX_BYTES)
    file_id, expiry, _ = token.split(".")
    forged = downloads.make_token(b"not-the-key", int(file_id), int(expiry))
    assert (await served.get(forged))[0] == 404


async def test_no_token_reaches_the_log(served: Served, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = await publish(db, "notice.docx", DOCX_BYTES)
    old = await publish(db, "old.docx", DOCX_BYTES, at=now() - timedelta(days=30))
    bad = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert [(await served.get(t))[0] for t in (good, old, bad)] == [200, 410, 404]
    # aiohttp's access log prints request paths; the `serve` command runs without it (access_log=None).
    ours = [r for r in caplog.records if r.name != "aiohttp.access"]
    assert any("download" in r.getMessage() for r in ours)
    for record in ours:
        message = record.getMessage()
        for token in (good, old, bad):
            assert token not in message
            assert token.rsplit(".", 1)[1] not in message


async def test_concurrent_first_uses_make_one_key(db: Database, db_url: str) -> None:
    other = Database(parse_url(db_url))  # a second process's connection pool
    try:
        keys = await asyncio.gather(*(downloads.signing_key(d) for d in (db, other) * 4))
    finally:
        await other.dispose()
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 43
    async with db.reading() as session:
        count = (await session.execute(sa.select(sa.func.count()).select_from(Secret))).scalar_one()
    assert count == 1
    assert await downloads.signing_key(db) == keys[0]


def test_link_joins_the_public_address() -> None:
    assert downloads.link("https://breachroom.example.com/", "1.2.abc") == "https://breachroom.example.com/files/1.2.abc"
    assert downloads.link("https://example.com/br", "t") == "https://example.com/br/files/t"
