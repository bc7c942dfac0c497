"""Posts owed to a room that must reach it even while the platform is down or rate-limiting: a decision, the
post-incident summary, the client notice's draft, the notes that say who changed what (reopened, a new responder).

A use case owes the post (`owe`) in the transaction that records the change, so what was acknowledged and what
must be said about it are stored together; its work then posts at once (`poster`). When the platform fails, the
post stays owed and the server's ticker (`catch_up`) tries again after 5 s, then 10 s, then every 20 s: with the
ticker's 30 s, a post lands within a minute of the platform answering again (at most 20 s of back-off, then the
next tick).

Nothing people typed is copied here: each kind is rendered again from the store when it is posted, by the
function its use-case module registers with `renders`. A room's posts go out oldest first, one process at a
time (`flush` claims a room, storage/outbox.py serialises the claims), so the room reads in the order
things happened and nothing is posted twice. A post that keeps failing while the platform answers others (one
the platform will never take) stops holding the later ones back after STUCK_AFTER attempts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import drills
from bot.cards import Card
from bot.core import Core, Work
from bot.ports import Attachment, ChatError, ChatPort
from storage import outbox as store
from storage import queries
from storage.models import Incident, OutboxPost

log = logging.getLogger(__name__)
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(seconds=20)
# Longer than any one post may take (DELIVERY_TIMEOUT), so a post in flight is never claimed by a second process.
LEASE = timedelta(minutes=2)
DELIVERY_TIMEOUT = 90.0
# After a day a post is no longer tried (it stays in the table, with the platform's last answer, for whoever looks).
KEEP_TRYING = timedelta(days=1)
STUCK_AFTER = 3
# At most this many failures in one go at a room: the platform is down, the rest waits.
MAX_FAILURES = 3


@dataclass(frozen=True)
class Post:
    """What one owed post shows: cards, or files with a comment (the files first when both)."""

    cards: Sequence[Card] = ()
    files: Sequence[Attachment] = ()
    comment: str = ""
    # Told the platform's ids of what was posted (a notice draft keeps its files' ids).
    posted: Callable[[list[str]], Awaitable[None]] | None = None


# Renders an owed post of one kind from the store: (core, incident, ref) -> the post, or None when there is
# nothing to say any more (the summary of an incident reopened meanwhile).
Render = Callable[[Core, Incident, str], Awaitable[Post | None]]
_renderers: dict[str, Render] = {}


def renders(kind: str) -> Callable[[Render], Render]:
    """Register how the posts of `kind` are rendered (a use-case module does, for the kinds it owes)."""

    def register(render: Render) -> Render:
        _renderers[kind] = render
        return render

    return register


def owe(session: AsyncSession, incident: Incident, kind: str, ref: str | int = "", *, now: datetime,
        room_id: str | None = None) -> str | None:
    """Owe a post to the incident's war room (or `room_id`), in the caller's transaction; returns the room, or
    None when the incident has no room to post in (then nothing is owed)."""
    room = room_id or incident.channel_id
    if not room:
        return None
    store.add(session, incident_id=incident.id or 0, platform=incident.platform, room_id=room, kind=kind,
              ref=str(ref), now=now)
    return room


def poster(core: Core, platform: str, *rooms: str | None) -> Work:
    """The work that posts what is owed to these rooms now (a failure leaves it owed, for the ticker)."""

    async def post(port: ChatPort) -> None:
        for room in dict.fromkeys(r for r in rooms if r):
            await flush(core, port, platform, room)

    return post


def retry_after(attempts: int) -> timedelta:
    """5 s after the first failed attempt, doubling, at most LONGEST_WAIT."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


async def flush(core: Core, port: ChatPort, platform: str, room_id: str) -> int:
    """Post what is owed to one room, oldest first, including what is owed meanwhile; returns how many were posted.
    Never raises a platform's failure: what was not posted stays owed. While another process is posting to the room,
    this one leaves it alone: that one takes what was owed meanwhile when it is done."""
    posted = 0
    while True:
        now = core.clock()
        rows = await store.claim_room(core.db, platform, room_id, now, LEASE, now - KEEP_TRYING)
        if not rows:
            return posted
        done, failed = await _post_in_order(core, port, rows)
        posted += done
        if failed:
            return posted


async def _post_in_order(core: Core, port: ChatPort, rows: list[OutboxPost]) -> tuple[int, bool]:
    """Post the claimed rows one after the other; (how many were posted, whether any failed). After a failure the
    rest waits, unless the one that failed has failed STUCK_AFTER times before (the platform takes the others)."""
    # Rendered together before the first is posted, so that they follow one another closely in the room.
    rendered = [await _render(core, row, port) for row in rows]
    posted = failures = 0
    for index, (row, post) in enumerate(zip(rows, rendered, strict=True)):
        try:
            if isinstance(post, BaseException):
                raise post
            if post is not None:
                await asyncio.wait_for(_deliver(row, *post), DELIVERY_TIMEOUT)
                posted += 1
        except (ChatError, TimeoutError) as exc:
            code = exc.code if isinstance(exc, ChatError) else "timeout"
            log.warning("incident %s: %s post to the room failed (%s, attempt %s); it will be retried",
                        row.incident_id, row.kind, code, row.attempts + 1)
        except Exception as exc:  # a post that cannot be rendered must not hold the room's others back for ever
            code = type(exc).__name__
            log.error("incident %s: %s post to the room could not be made (%s)", row.incident_id, row.kind, code)
        else:
            await store.posted(core.db, row.id or 0, core.clock())
            continue
        failures += 1
        retry_at = core.clock() + retry_after(row.attempts + 1)
        await store.failed(core.db, row.id or 0, retry_at=retry_at, code=code)
        if row.attempts < STUCK_AFTER or failures >= MAX_FAILURES:
            await store.release(core.db, [r.id for r in rows[index + 1:] if r.id], retry_at=retry_at)
            break
    return posted, failures > 0


async def _render(core: Core, row: OutboxPost, port: ChatPort) -> tuple[Post, ChatPort] | Exception | None:
    """The post and the port to post it through (a drill's marks it), None when there is nothing to post any
    more, or what went wrong rendering it."""
    try:
        async with core.db.reading() as session:
            incident = await queries.incident(session, row.incident_id)
        render = _renderers.get(row.kind)
        if incident is None:
            return None
        if render is None:
            return LookupError(f"no renderer for outbox posts of kind {row.kind!r}")
        post = await render(core, incident, row.ref)
        return None if post is None else (post, drills.port_for(incident, port))
    except Exception as exc:  # handed to `flush`, which counts it as a failed attempt
        log.exception("incident %s: %s post could not be rendered", row.incident_id, row.kind)
        return exc


async def _deliver(row: OutboxPost, post: Post, port: ChatPort) -> None:
    ids: list[str] = []
    if post.files:
        ids += await port.share_files(row.room_id, list(post.files), post.comment)
    if post.cards:
        ids += await port.post_cards(row.room_id, list(post.cards))
    if post.posted is not None:
        await post.posted(ids)


async def catch_up(core: Core, ports: Mapping[str, ChatPort]) -> int:
    """Post again what is owed and due, room by room, on the platforms this process serves (the ticker's part)."""
    now = core.clock()
    posted = 0
    for platform, room_id in await store.due_rooms(core.db, now, now - KEEP_TRYING, ports):
        posted += await flush(core, ports[platform], platform, room_id)
    return posted
