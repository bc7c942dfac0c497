"""The outbox's rows: posts owed to rooms, claimed a room at a time so that each is posted once, oldest first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.db import Database
from storage.models import OutboxPost


def add(session: AsyncSession, *, incident_id: int, platform: str, room_id: str, kind: str, ref: str,
        now: datetime) -> None:
    """Owe a post, in the caller's transaction: it exists exactly when the change that calls for it does."""
    session.add(OutboxPost(incident_id=incident_id, platform=platform, room_id=room_id, kind=kind, ref=ref,
                           created_at=now, next_attempt_at=now))


def _owed(platform: str, room_id: str, since: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return (col(OutboxPost.platform) == platform, col(OutboxPost.room_id) == room_id,
            col(OutboxPost.done_at).is_(None), col(OutboxPost.created_at) >= since)


async def claim_room(db: Database, platform: str, room_id: str, now: datetime, lease: timedelta,
                     since: datetime) -> list[OutboxPost]:
    """Every post still owed to the room (owed since `since`), oldest first, each taken for `lease`; none while
    another caller holds some of them, so that two never post one room's posts out of order or twice.

    Claims of one room are serialised (an advisory lock on PostgreSQL, the single writer on SQLite), and rows are
    read with SKIP LOCKED, so a replica never waits on another's claim.
    """
    async with db.transaction() as session:
        await db.lock_key(session, f"outbox:{platform}:{room_id}")
        held = await session.execute(select(OutboxPost.id).where(
            *_owed(platform, room_id, since), col(OutboxPost.lease_until) > now).limit(1))
        if held.first() is not None:
            return []
        query = select(OutboxPost).where(*_owed(platform, room_id, since)).order_by(col(OutboxPost.id))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.execute(query)).scalars().all())
        for row in rows:
            row.lease_until = now + lease
        return rows


async def due_rooms(db: Database, now: datetime, since: datetime, platforms: Iterable[str]) -> list[tuple[str, str]]:
    """(platform, room) of each room with a post due again and nobody posting it, the longest-waiting first."""
    query = (select(OutboxPost.platform, OutboxPost.room_id)
             .where(col(OutboxPost.done_at).is_(None), col(OutboxPost.next_attempt_at) <= now,
                    col(OutboxPost.created_at) >= since, col(OutboxPost.platform).in_(list(platforms)),
                    sa.or_(col(OutboxPost.lease_until).is_(None), col(OutboxPost.lease_until) <= now))
             .group_by(col(OutboxPost.platform), col(OutboxPost.room_id))
             .order_by(sa.func.min(OutboxPost.id)))
    async with db.reading() as session:
        return [(platform, room) for platform, room in (await session.execute(query)).all()]


async def posted(db: Database, post_id: int, now: datetime) -> None:
    """The platform took it: never posted again."""
    async with db.transaction() as session:
        await session.execute(sa.update(OutboxPost).where(col(OutboxPost.id) == post_id).values(
            done_at=now, lease_until=None, attempts=OutboxPost.attempts + 1, last_error=None))


async def failed(db: Database, post_id: int, *, retry_at: datetime, code: str) -> None:
    """The platform refused or did not answer: try again from `retry_at`."""
    async with db.transaction() as session:
        await session.execute(sa.update(OutboxPost).where(col(OutboxPost.id) == post_id).values(
            lease_until=None, next_attempt_at=retry_at, attempts=OutboxPost.attempts + 1, last_error=code[:100]))


async def release(db: Database, post_ids: Sequence[int], *, retry_at: datetime) -> None:
    """Posts claimed but not tried (one before them failed): free again from `retry_at`."""
    if post_ids:
        async with db.transaction() as session:
            await session.execute(sa.update(OutboxPost).where(col(OutboxPost.id).in_(list(post_ids))).values(
                lease_until=None, next_attempt_at=retry_at))
