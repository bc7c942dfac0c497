"""`GET /files/{token}`: the download links storage/downloads.py signs, served to whoever holds one.

The token is the only credential, so it never reaches a log line, and the answer is marked as not to be cached,
sniffed or leaked through a Referer.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from bot.core import Core
from storage import downloads

log = logging.getLogger(__name__)
INVALID = "This download link is not valid. Ask for a new one in the war room."
EXPIRED = "This download link has expired. Ask for a new one in the war room."
PRIVATE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def files_handler(core: Core) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler, bound to the bot's store and clock (read at each request, so a test may swap the clock)."""

    async def download(request: web.Request) -> web.Response:
        opened = await downloads.look_up(core.db, request.match_info["token"], core.clock())
        if opened.state is downloads.LinkState.EXPIRED:
            log.info("download refused: the link has expired")
            return _sentence(EXPIRED, 410)
        if opened.file is None:
            log.info("download refused: the link is not valid")
            return _sentence(INVALID, 404)
        shared = opened.file
        log.info("download: serving shared file %s", shared.id)
        return web.Response(
            body=shared.content,
            headers={
                **PRIVATE_HEADERS,
                "Content-Type": shared.content_type,
                "Content-Disposition": content_disposition(shared.filename),
            },
        )

    return download


def _sentence(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/plain", charset="utf-8",
                        headers=PRIVATE_HEADERS)


def content_disposition(filename: str) -> str:
    """RFC 6266: a plain-ASCII `filename` every client reads, plus `filename*` (UTF-8) when the name needs it."""
    fallback = _ascii_name(filename)
    header = f'attachment; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def _ascii_name(filename: str) -> str:
    """Accents dropped (é → e), anything else outside printable ASCII, quotes, slashes and backslashes → `_`."""
    kept = []
    for char in unicodedata.normalize("NFKD", filename):
        if unicodedata.combining(char):
            continue
        kept.append(char if " " <= char <= "~" and char not in '"\\/' else "_")
    return "".join(kept) or "download"
