"""People and rooms as the platform described them: directory ids, names, and how to reach them again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select

from storage.db import Database
from storage.models import Incident, Person, RoomHandle, utcnow


async def remember_person(
    db: Database, platform: str, team_id: str, user_id: str, *, directory_id: str | None = None,
    name: str | None = None, private_handle: str | None = None,
) -> None:
    """Add or refresh what is known of someone; what is not given is kept as it was."""
    async with db.transaction() as session:
        await db.lock_key(session, f"person\x1f{platform}\x1f{team_id}\x1f{user_id}")
        person = (await session.execute(select(Person).where(
            Person.platform == platform, Person.team_id == team_id, Person.user_id == user_id))).scalar_one_or_none()
        if person is None:
            person = Person(platform=platform, team_id=team_id, user_id=user_id)
            session.add(person)
        changed = False
        for attribute, value in (("directory_id", directory_id), ("name", name), ("private_handle", private_handle)):
            if value and getattr(person, attribute) != value:
                setattr(person, attribute, value)
                changed = True
        if changed or person.id is None:
            person.updated_at = utcnow()


async def people(db: Database, platform: str, user_ids: Iterable[str]) -> dict[str, Person]:
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    async with db.reading() as session:
        rows = (await session.execute(select(Person).where(
            Person.platform == platform, col(Person.user_id).in_(wanted)))).scalars().all()
    return {row.user_id: row for row in rows}


async def with_directory_ids(db: Database, platform: str, directory_ids: Iterable[str]) -> set[str]:
    """The user ids of the people known by these directory ids (Entra object ids on Teams)."""
    wanted = sorted(set(directory_ids))
    if not wanted:
        return set()
    async with db.reading() as session:
        rows = await session.execute(select(Person.user_id).where(
            Person.platform == platform, col(Person.directory_id).in_(wanted)))
    return {user_id for (user_id,) in rows}


async def private_handles(db: Database, platform: str) -> dict[str, str]:
    """Everyone's private-chat handle, by user id (to find whose 1:1 chat a room is)."""
    async with db.reading() as session:
        rows = await session.execute(select(Person.user_id, Person.private_handle).where(
            Person.platform == platform, col(Person.private_handle).is_not(None)))
    return {user_id: handle for user_id, handle in rows if handle}


async def remember_room(db: Database, platform: str, room_id: str, handle: str) -> None:
    async with db.transaction() as session:
        await db.lock_key(session, f"room\x1f{platform}\x1f{room_id}")
        row = (await session.execute(select(RoomHandle).where(
            RoomHandle.platform == platform, RoomHandle.room_id == room_id))).scalar_one_or_none()
        if row is None:
            session.add(RoomHandle(platform=platform, room_id=room_id, handle=handle))
        elif row.handle != handle:
            row.handle, row.updated_at = handle, utcnow()


async def room_handle(db: Database, platform: str, room_id: str) -> str | None:
    async with db.reading() as session:
        row = (await session.execute(select(RoomHandle).where(
            RoomHandle.platform == platform, RoomHandle.room_id == room_id))).scalar_one_or_none()
    return row.handle if row else None


async def room_names(db: Database, platform: str, room_ids: Iterable[str]) -> dict[str, str]:
    """War-room names by room id (for platforms that show a room's name where Slack shows a link)."""
    wanted = sorted(set(room_ids))
    if not wanted:
        return {}
    async with db.reading() as session:
        rows = await session.execute(select(Incident.channel_id, Incident.channel_name).where(
            Incident.platform == platform, col(Incident.channel_id).in_(wanted)))
    return {room: name for room, name in rows if room and name}


async def incident_of_room(db: Database, platform: str, room_id: str) -> int | None:
    async with db.reading() as session:
        row = (await session.execute(select(Incident.id).where(
            Incident.platform == platform, Incident.channel_id == room_id).order_by(col(Incident.id).desc()))).first()
    return row[0] if row else None


async def everyone(db: Database, platform: str) -> dict[str, str]:
    """Every named person of a platform, by id (the console's local users)."""
    async with db.reading() as session:
        rows = await session.execute(select(Person.user_id, Person.name).where(
            Person.platform == platform, col(Person.name).is_not(None)).order_by(col(Person.name)))
    return {user_id: name for user_id, name in rows if name}
