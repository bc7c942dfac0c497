"""Rooms and messages of the chat Breachroom hosts itself (the local console)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import col, or_, select

from storage.db import Database
from storage.models import ChatMessage, ChatRoom, Incident, utcnow


class NameTaken(Exception):
    """A room with this name exists already."""


async def ensure_room(db: Database, room_id: str, name: str, *, private: bool = False) -> None:
    async with db.transaction() as session:
        if await session.get(ChatRoom, room_id) is None:
            session.add(ChatRoom(id=room_id, name=name, private=private))


async def create_room(db: Database, room_id: str, name: str, topic: str, members: Sequence[str]) -> ChatRoom:
    async with db.transaction() as session:
        await db.lock_key(session, f"chat-room\x1f{room_id}")
        if await session.get(ChatRoom, room_id) is not None:
            raise NameTaken(name)
        room = ChatRoom(id=room_id, name=name, topic=topic, private=True, members=list(dict.fromkeys(members)))
        session.add(room)
    return room


async def room(db: Database, room_id: str) -> ChatRoom | None:
    async with db.reading() as session:
        return await session.get(ChatRoom, room_id)


async def update_room(db: Database, room_id: str, *, topic: str | None = None,
                      add_members: Sequence[str] = ()) -> ChatRoom | None:
    async with db.transaction() as session:
        found = await session.get(ChatRoom, room_id, with_for_update=not db.is_sqlite)
        if found is None:
            return None
        if topic is not None:
            found.topic = topic
        if add_members:
            found.members = list(dict.fromkeys([*found.members, *add_members]))
        return found


async def rooms(db: Database) -> list[tuple[ChatRoom, Incident | None]]:
    """Every room, oldest first, each with the latest incident whose war room it is."""
    async with db.reading() as session:
        found = (await session.execute(select(ChatRoom).order_by(col(ChatRoom.created_at), col(ChatRoom.id)))
                 ).scalars().all()
        incidents = (await session.execute(select(Incident).where(Incident.platform == "web").order_by(
            col(Incident.id)))).scalars().all()
    by_room = {i.channel_id: i for i in incidents if i.channel_id}
    return [(r, by_room.get(r.id)) for r in found]


async def add_message(db: Database, room_id: str, html: str, *, author: str | None = None,
                      audience: str | None = None, pinned: bool = False) -> int:
    async with db.transaction() as session:
        message = ChatMessage(room_id=room_id, html=html, author=author, audience=audience, pinned=pinned)
        session.add(message)
        await session.flush()
        assert message.id is not None
        return message.id


async def set_message(db: Database, message_id: int, *, html: str | None = None, pinned: bool | None = None) -> str:
    """Change a message; returns its room (empty when there is no such message)."""
    async with db.transaction() as session:
        message = await session.get(ChatMessage, message_id)
        if message is None:
            return ""
        if html is not None:
            message.html = html
        if pinned is not None:
            message.pinned = pinned
        message.updated_at = utcnow()
        return message.room_id


async def messages(db: Database, room_id: str, viewer: str | None, limit: int = 500) -> Sequence[ChatMessage]:
    """A room's messages that `viewer` may see (everyone's, and those meant for them), oldest first."""
    async with db.reading() as session:
        rows = (await session.execute(
            select(ChatMessage)
            .where(ChatMessage.room_id == room_id,
                   or_(col(ChatMessage.audience).is_(None), ChatMessage.audience == (viewer or "")))
            .order_by(col(ChatMessage.id).desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def message_room(db: Database, message_id: int) -> str | None:
    async with db.reading() as session:
        row = (await session.execute(sa.select(ChatMessage.room_id).where(ChatMessage.id == message_id))).first()
    return row[0] if row else None
