"""The bot's ChatPort on the local console: rooms and messages are rows; every change is announced to the
open pages (Server-Sent Events), which then fetch what they may see."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from adapters.web import render
from bot.cards import Card
from bot.domain import parse_id
from bot.ports import Attachment, Audience, ChatError, RoomRef
from storage import chat, downloads, people
from storage.db import Database
from storage.models import utcnow

PLATFORM = "web"
TEAM = "console"
GENERAL = "general"
_ID = re.compile(r"[@#]\{([^{}\s]+)\}")


class Hub:
    """Open pages, each with a queue of events; a full queue (a stalled page) drops events, not the server."""

    CLOSED = ""  # tells every open stream to end (the server is stopping)

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str]] = set()

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=100)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._queues.discard(queue)

    def close(self) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(self.CLOSED)

    def publish(self, **event: Any) -> None:
        data = json.dumps(event)
        for queue in list(self._queues):
            if not queue.full():
                queue.put_nowait(data)


def _ids(cards: Sequence[Card]) -> set[str]:
    found: set[str] = set()
    for card in cards:
        for part in card.parts:
            for value in vars(part).values():
                found.update(_ID.findall(str(value)))
    return found


class ConsoleChat:
    """ChatPort for the console. Room ids are the room names (they are unique, as Slack's are)."""

    def __init__(self, db: Database, hub: Hub, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.hub = hub
        self.clock = clock

    async def names(self, ids: set[str]) -> dict[str, str]:
        known = {uid: p.name for uid, p in (await people.people(self.db, PLATFORM, ids)).items() if p.name}
        for room_id in ids - set(known):
            found = await chat.room(self.db, room_id)
            if found is not None:
                known[room_id] = found.name
        return known

    async def html(self, cards: Sequence[Card]) -> str:
        return render.cards(cards, await self.names(_ids(cards)))

    async def open_private_room(self, name: str, *, title: str = "", members: Sequence[str] = (),
                                near: str | None = None) -> RoomRef:
        try:
            await chat.create_room(self.db, name, name, title, members)
        except chat.NameTaken:
            raise ChatError("name_taken", "create") from None
        self.hub.publish(kind="room", room=name, opened_by=members[0] if members else None)
        return RoomRef(id=name, name=name)

    async def find_room(self, name: str) -> RoomRef | None:
        found = await chat.room(self.db, name)
        return RoomRef(id=found.id, name=found.name) if found else None

    async def find_message(self, room_id: str, text: str) -> str | None:
        """Console posts are written with their answer in one transaction: nothing is ever half-posted."""
        return None

    async def room_members(self, room_id: str) -> set[str] | None:
        """The room's stored members: those it was opened for and those invited since."""
        found = await chat.room(self.db, room_id)
        return set(found.members) if found is not None else None

    async def is_admin(self, user_id: str) -> bool:
        """Names are not accounts here: BREACHROOM_ADMINS names admins."""
        return False

    async def group_members(self, group_id: str) -> set[str] | None:
        return None

    async def _room(self, room_id: str, step: str) -> None:
        if await chat.room(self.db, room_id) is None:
            raise ChatError("channel_not_found", step)

    async def invite(self, room_id: str, user_ids: list[str]) -> None:
        if await chat.update_room(self.db, room_id, add_members=user_ids) is None:
            raise ChatError("channel_not_found", "invite")
        self.hub.publish(kind="rooms")

    async def set_topic(self, room_id: str, text: str) -> None:
        if await chat.update_room(self.db, room_id, topic=text) is None:
            raise ChatError("channel_not_found", "topic")
        self.hub.publish(kind="rooms")

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        """All the cards in one message (a page has no size limit worth splitting for)."""
        await self._room(room_id, "post")
        message_id = await chat.add_message(self.db, room_id, await self.html(cards), author="breachroom")
        self.hub.publish(kind="messages", room=room_id)
        return [str(message_id)] * len(cards)

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None:
        number = parse_id(message_id)
        if number is None or not await chat.set_message(self.db, number, html=await self.html(cards)):
            raise ChatError("message_not_found", "update")
        self.hub.publish(kind="messages", room=room_id)

    async def pin(self, room_id: str, message_id: str) -> None:
        number = parse_id(message_id)
        if number is None or not await chat.set_message(self.db, number, pinned=True):
            raise ChatError("message_not_found", "pin")
        self.hub.publish(kind="messages", room=room_id)

    async def tell(self, audience: Audience, card: Card) -> None:
        """A message only that person's pages show, in the room they acted in (or general)."""
        room_id = audience.channel_id or GENERAL
        if await chat.room(self.db, room_id) is None:
            room_id = GENERAL
        await chat.add_message(self.db, room_id, await self.html([card]), author="breachroom",
                               audience=audience.user_id)
        self.hub.publish(kind="messages", room=room_id, user=audience.user_id)

    async def say(self, room_id: str, user_id: str, markup: str) -> None:
        """A chat line someone typed (not a command)."""
        names = await self.names({user_id, *_ID.findall(markup)})
        author = render.text(f"@{{{user_id}}}", names)
        await chat.add_message(self.db, room_id, f'<p class="typed"><b>{author}</b> {render.text(markup, names)}</p>',
                               author=user_id)
        self.hub.publish(kind="messages", room=room_id)

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        """Download links on the page itself (same origin, so the console's token cookie covers them)."""
        await self._room(room_id, "upload")
        incident_id = await people.incident_of_room(self.db, PLATFORM, room_id)
        tokens, links = [], []
        for file in files:
            token = await downloads.publish(self.db, incident_id=incident_id, filename=file.filename,
                                            content=file.content, now=self.clock())
            tokens.append(token)
            links.append(f"• [{file.filename}]({downloads.link('', token)})")
        names = await self.names(set(_ID.findall(comment)))
        html = (f'<section class="card files"><p>{render.text(comment, names)}</p>'
                f'<p>{render.text(chr(10).join(links))}</p></section>')
        await chat.add_message(self.db, room_id, html, author="breachroom")
        self.hub.publish(kind="messages", room=room_id)
        return [token.split(".", 1)[0] for token in tokens]
