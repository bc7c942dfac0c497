"""Reminders that survive restarts and fire once, whichever `serve` process claims them first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from bot.core import Core
from storage.models import Reminder


async def schedule(core: Core, incident_id: int, obligation: str, times: Iterable[tuple[str, datetime]],
                   now: datetime) -> None:
    """Keep exactly these future reminders for an obligation: unfired ones at other times are dropped.

    Times already past when scheduled are not added (a reminder is for what is still ahead); ones that
    fell due while no process ran were scheduled earlier and stay pending, so they fire once on start.
    """
    wanted = {(kind, at) for kind, at in times if at > now}
    async with core.db.transaction() as session:
        # Two refreshes of one incident at once must not both insert (or both drop) the same reminder.
        await core.db.lock_key(session, f"reminders:{incident_id}:{obligation}")
        pending = (await session.execute(select(Reminder).where(
            Reminder.incident_id == incident_id, Reminder.obligation == obligation,
            col(Reminder.fired_at).is_(None)))).scalars().all()
        have = {(r.kind, r.due_at) for r in pending}
        stale = [r.id for r in pending if (r.kind, r.due_at) not in wanted and r.due_at > now]
        if stale:
            await session.execute(sa.delete(Reminder).where(col(Reminder.id).in_(stale)))
        for kind, at in wanted - have:
            exists = (await session.execute(select(Reminder.id).where(
                Reminder.incident_id == incident_id, Reminder.obligation == obligation,
                Reminder.kind == kind, Reminder.due_at == at))).first()
            if exists is None:
                session.add(Reminder(incident_id=incident_id, obligation=obligation, kind=kind, due_at=at))


async def claim_due(core: Core, now: datetime, limit: int = 100) -> Sequence[Reminder]:
    """Mark due reminders fired and return them; rows another process holds are skipped, not waited for."""
    query = (select(Reminder).where(col(Reminder.fired_at).is_(None), Reminder.due_at <= now)
             .order_by(col(Reminder.due_at)).limit(limit))
    if not core.db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    async with core.db.transaction() as session:
        rows = (await session.execute(query)).scalars().all()
        for row in rows:
            row.fired_at = now
    return rows


async def release(core: Core, reminder_ids: Iterable[int]) -> None:
    """Give back reminders that could not be posted, so the next tick tries again."""
    ids = list(reminder_ids)
    if ids:
        async with core.db.transaction() as session:
            await session.execute(sa.update(Reminder).where(col(Reminder.id).in_(ids)).values(fired_at=None))
