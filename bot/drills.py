"""Breach drills: practice incidents. What marks everything a drill shows is decided here, once.

A drill runs the same use cases as a real breach. Nothing a drill shows may be mistaken for a real breach,
so every card it posts, updates or says privately starts its title with DRILL. No view knows about it: a
use case hands its answer to `scoped` with the incident it is about, and code that posts for an incident
outside a person's request (room building, deadline cards, reminders, summaries) posts through `port_for`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.cards import Card, Header, Text
from bot.core import Reply, Work
from bot.ports import Attachment, Audience, ChatPort, RoomRef
from storage.models import Incident

PREFIX = "DRILL · "


def drill_text(text: str) -> str:
    """`text` starting with DRILL (once, however often it is marked)."""
    return text if text.startswith(PREFIX) else PREFIX + text


def mark(card: Card) -> Card:
    """The card as a drill shows it: its notification line and its title (the first header, else the first
    text) start with DRILL."""
    parts = list(card.parts)
    for index, part in enumerate(parts):
        if isinstance(part, Header | Text):
            parts[index] = replace(part, text=drill_text(part.text))
            break
    return replace(card, fallback=drill_text(card.fallback), parts=tuple(parts))


class DrillRoom:
    """A ChatPort that marks every card, topic and shared file of a drill before the platform sees it."""

    def __init__(self, port: ChatPort) -> None:
        self.port = port

    async def open_private_room(self, name: str, *, title: str = "", members: Sequence[str] = (),
                                near: str | None = None) -> RoomRef:
        return await self.port.open_private_room(name, title=title, members=members, near=near)

    async def find_room(self, name: str) -> RoomRef | None:
        return await self.port.find_room(name)

    async def find_message(self, room_id: str, text: str) -> str | None:
        return await self.port.find_message(room_id, drill_text(text))

    async def invite(self, room_id: str, user_ids: list[str]) -> None:
        await self.port.invite(room_id, user_ids)

    async def set_topic(self, room_id: str, text: str) -> None:
        await self.port.set_topic(room_id, drill_text(text))

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        return await self.port.post_cards(room_id, [mark(c) for c in cards])

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None:
        await self.port.update_cards(room_id, message_id, [mark(c) for c in cards])

    async def pin(self, room_id: str, message_id: str) -> None:
        await self.port.pin(room_id, message_id)

    async def tell(self, audience: Audience, card: Card) -> None:
        await self.port.tell(audience, mark(card))

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        marked = [Attachment(f.filename if f.filename.startswith("drill-") else f"drill-{f.filename}", f.content,
                             drill_text(f.title)) for f in files]
        return await self.port.share_files(room_id, marked, drill_text(comment))

    async def room_members(self, room_id: str) -> set[str] | None:
        return await self.port.room_members(room_id)

    async def is_admin(self, user_id: str) -> bool:
        return await self.port.is_admin(user_id)

    async def group_members(self, group_id: str) -> set[str] | None:
        return await self.port.group_members(group_id)


def port_for(incident: Incident, port: ChatPort) -> ChatPort:
    """The port to post through for this incident: a drill's marks what it shows, a real one's is as given."""
    if not incident.drill or isinstance(port, DrillRoom):
        return port
    return DrillRoom(port)


def _in_drill(work: Work) -> Work:
    async def run(port: ChatPort) -> None:
        await work(DrillRoom(port) if not isinstance(port, DrillRoom) else port)

    return run


def scoped(incident: Incident | None, reply: Reply) -> Reply:
    """A use case's answer about `incident`: for a drill, its private card and everything its work posts
    start with DRILL. Real incidents' answers are returned as they are."""
    if incident is None or not incident.drill:
        return reply
    if reply.card is not None:
        reply.card = mark(reply.card)
    reply.work = [_in_drill(w) for w in reply.work]
    return reply
