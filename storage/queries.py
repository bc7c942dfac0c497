"""Reads and writes the use cases share. Each takes the caller's session: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import audit  # noqa: F401  (its listeners number and hash every timeline entry at commit)
from storage.models import ChecklistItem, Decision, Incident, PostedMessage, TimelineEntry, Workspace


async def workspace(session: AsyncSession, platform: str, team_id: str) -> Workspace | None:
    result = await session.execute(
        select(Workspace).where(Workspace.platform == platform, Workspace.team_id == team_id)
    )
    return result.scalar_one_or_none()


async def incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id)


async def incident_of_room(session: AsyncSession, room_id: str, *, other_than: int) -> int | None:
    """Which other incident has this room, if any."""
    result = await session.execute(select(Incident.id).where(Incident.channel_id == room_id,
                                                             Incident.id != other_than).limit(1))
    return result.scalar_one_or_none()


async def incident_in_room(session: AsyncSession, platform: str, team_id: str, room_id: str) -> Incident | None:
    result = await session.execute(
        select(Incident)
        .where(Incident.platform == platform, Incident.team_id == team_id, Incident.channel_id == room_id)
        .order_by(col(Incident.id).desc())
    )
    return result.scalars().first()


async def recent_duplicates(session: AsyncSession, wanted: Sequence[tuple[str, str, str | None]],
                            since: datetime) -> list[Incident]:
    """The incidents that declarations (platform, dedupe key, delivery key) may repeat: the same delivery, or
    the same words from the same person since `since`."""
    if not wanted:
        return []
    keys = sorted({key for _, key, _ in wanted})
    clause = sa.and_(col(Incident.dedupe_key).in_(keys), Incident.declared_at >= since)
    deliveries = sorted({(platform, delivery) for platform, _, delivery in wanted if delivery})
    for platform in sorted({p for p, _ in deliveries}):
        clause = sa.or_(clause, sa.and_(Incident.platform == platform, col(Incident.delivery_key).in_(
            [d for p, d in deliveries if p == platform])))
    return list((await session.execute(select(Incident).where(clause))).scalars().all())


async def items(session: AsyncSession, incident_id: int) -> Sequence[ChecklistItem]:
    result = await session.execute(
        select(ChecklistItem)
        .where(ChecklistItem.incident_id == incident_id)
        .order_by(col(ChecklistItem.position))
    )
    return result.scalars().all()


async def item(session: AsyncSession, incident_id: int, key: str) -> ChecklistItem | None:
    result = await session.execute(
        select(ChecklistItem).where(ChecklistItem.incident_id == incident_id, ChecklistItem.key == key)
    )
    return result.scalar_one_or_none()


async def set_item_state(
    session: AsyncSession, item_id: int, target: str, user_id: str, at: datetime
) -> bool:
    """Move an item to `target` unless it is already there. True when this call made the change.

    One conditional UPDATE, so of two presses racing for the same state exactly one wins.
    """
    result = await session.execute(
        sa.update(ChecklistItem)
        .where(col(ChecklistItem.id) == item_id, col(ChecklistItem.state) != target)
        .values(state=target, changed_by=user_id, changed_at=at)
    )
    return result.rowcount == 1


async def messages(session: AsyncSession, incident_id: int) -> Sequence[PostedMessage]:
    result = await session.execute(
        select(PostedMessage).where(PostedMessage.incident_id == incident_id).order_by(col(PostedMessage.id))
    )
    return result.scalars().all()


async def decisions(session: AsyncSession, incident_id: int) -> Sequence[Decision]:
    result = await session.execute(
        select(Decision).where(Decision.incident_id == incident_id).order_by(col(Decision.id))
    )
    return result.scalars().all()


async def decision_by_delivery(session: AsyncSession, incident_id: int, delivery_key: str) -> Decision | None:
    result = await session.execute(
        select(Decision).where(Decision.incident_id == incident_id, Decision.delivery_key == delivery_key)
    )
    return result.scalar_one_or_none()


async def count_decisions(session: AsyncSession, incident_id: int, up_to_id: int) -> int:
    result = await session.execute(
        select(sa.func.count())
        .select_from(Decision)
        .where(Decision.incident_id == incident_id, col(Decision.id) <= up_to_id)
    )
    return int(result.scalar_one())


async def timeline(session: AsyncSession, incident_id: int) -> Sequence[TimelineEntry]:
    """The incident's entries in the order their transactions committed (their place in the hash chain)."""
    result = await session.execute(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(sa.nulls_last(col(TimelineEntry.sequence)), col(TimelineEntry.at), col(TimelineEntry.id))
    )
    return result.scalars().all()


async def timeline_and_head(session: AsyncSession, incident_id: int) -> tuple[Sequence[TimelineEntry], str | None]:
    """The timeline (as `timeline` orders it) and the head hash the incident keeps, read in one statement so
    that an entry appended meanwhile cannot make them disagree."""
    result = await session.execute(
        select(TimelineEntry, Incident.timeline_head_hash)
        .select_from(Incident)
        .outerjoin(TimelineEntry, col(TimelineEntry.incident_id) == col(Incident.id))
        .where(Incident.id == incident_id)
        .order_by(sa.nulls_last(col(TimelineEntry.sequence)), col(TimelineEntry.at), col(TimelineEntry.id))
    )
    rows = result.all()
    return [entry for entry, _ in rows if entry is not None], (rows[0][1] if rows else None)


async def all_incidents(session: AsyncSession) -> Sequence[Incident]:
    result = await session.execute(select(Incident).order_by(col(Incident.id)))
    return result.scalars().all()


async def recent_entry(session: AsyncSession, incident_id: int, actor: str, action: str,
                       since: datetime) -> bool:
    """Whether `actor` has an entry of kind `action` in the incident's timeline at or after `since`."""
    result = await session.execute(
        select(TimelineEntry.id)
        .where(TimelineEntry.incident_id == incident_id, TimelineEntry.actor == actor,
               TimelineEntry.action == action, col(TimelineEntry.at) >= since)
        .limit(1)
    )
    return result.first() is not None


def record(
    session: AsyncSession,
    *,
    platform: str,
    team_id: str,
    actor: str,
    action: str,
    detail: str = "",
    at: datetime,
    incident_id: int | None = None,
) -> None:
    """Append one timeline row in the caller's transaction (the only way rows are written).

    An entry of an incident is numbered and hashed onto the incident's chain when the transaction commits
    (storage/audit.py), so callers need not know of the chain.
    """
    session.add(
        TimelineEntry(
            incident_id=incident_id, platform=platform, team_id=team_id,
            actor=actor, action=action, detail=detail, at=at,
        )
    )
