"""The war-room build record: each step's outcome, the attempts, and the lease that says who may build now."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.db import Database
from storage.models import Incident, RoomBuild

DONE, STARTED = "done", "started"
# The first room name, kept with the incident itself before `create` was sent (it may never have been).
PLANNED = "planned"
UNFINISHED = ("building", "incomplete")


async def claim(db: Database, incident_id: int, now: datetime, lease: timedelta) -> RoomBuild | None:
    """Take the build for `lease`, unless someone else holds it; returns the record as it stands."""
    async with db.transaction() as session:
        build = await session.get(RoomBuild, incident_id, with_for_update=not db.is_sqlite)
        if build is None:
            build = RoomBuild(incident_id=incident_id)
            session.add(build)
        elif build.lease_until is not None and build.lease_until > now:
            return None
        build.lease_until, build.updated_at = now + lease, now
        await session.flush()
        return RoomBuild.model_validate(build)


async def keep(db: Database, incident_id: int, since: datetime, now: datetime, lease: timedelta) -> bool:
    """Renew the lease taken when the incident was declared (at `since`), unless a sweep has taken the build
    since then; True when the build is still this caller's."""
    async with db.transaction() as session:
        result = await session.execute(
            sa.update(RoomBuild)
            .where(col(RoomBuild.incident_id) == incident_id, col(RoomBuild.updated_at) == since)
            .values(lease_until=now + lease, updated_at=now))
        return bool(getattr(result, "rowcount", 0))


async def claim_due(db: Database, now: datetime, lease: timedelta, max_attempts: int, limit: int = 20) -> list[int]:
    """Unfinished builds nobody holds (a crashed or failed attempt), each taken for `lease` by this caller.

    On PostgreSQL, SKIP LOCKED lets several replicas sweep at once without taking the same build.
    """
    async with db.transaction() as session:
        query = (select(RoomBuild).join(Incident, col(Incident.id) == col(RoomBuild.incident_id))
                 .where(col(Incident.build_status).in_(UNFINISHED), RoomBuild.attempts < max_attempts,
                        sa.or_(col(RoomBuild.lease_until).is_(None), col(RoomBuild.lease_until) <= now),
                        sa.or_(col(RoomBuild.retry_at).is_(None), col(RoomBuild.retry_at) <= now))
                 .order_by(col(RoomBuild.incident_id)).limit(limit))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=RoomBuild)
        due = (await session.execute(query)).scalars().all()
        for build in due:
            build.lease_until, build.updated_at = now + lease, now
        return [b.incident_id for b in due]


async def record_step(db: Database, incident_id: int, step: str, state: str, now: datetime, lease: timedelta,
                      planned_name: str | None = None) -> None:
    """One step's outcome, kept at once; the lease is renewed (the builder is alive)."""
    async with db.transaction() as session:
        await record_steps(session, incident_id, {step: state}, now, lease, planned_name=planned_name)


async def record_steps(session: AsyncSession, incident_id: int, states: dict[str, str], now: datetime,
                       lease: timedelta, planned_name: str | None = None) -> None:
    """`record_step` within a transaction that keeps something else at the same time."""
    build = await session.get(RoomBuild, incident_id, with_for_update=session.bind.dialect.name != "sqlite")
    if build is None:
        build = RoomBuild(incident_id=incident_id)
        session.add(build)
    build.steps = {**build.steps, **states}
    if planned_name is not None:
        build.planned_name = planned_name
    build.lease_until, build.updated_at = now + lease, now


async def end_attempt(db: Database, incident_id: int, *, failed: bool, now: datetime,
                      retry_in: timedelta) -> int:
    """Close an attempt: a failed one counts and is retried by a sweep after `retry_in`; returns the attempts."""
    async with db.transaction() as session:
        build = await session.get(RoomBuild, incident_id, with_for_update=not db.is_sqlite)
        if build is None:
            return 0
        if failed:
            build.attempts += 1
        build.lease_until = None
        build.retry_at = now + retry_in if failed else None
        build.updated_at = now
        return build.attempts


async def current(session: AsyncSession, incident_id: int) -> RoomBuild | None:
    return await session.get(RoomBuild, incident_id)
