"""Setup done before any breach: who leads (the responder) and who stands in (the backup)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from bot import views
from bot.cards import mention
from bot.core import Core, Reply
from bot.domain import Actor
from bot.grammar import person
from storage import queries
from storage.models import Workspace

ROLES = {"responder": "designated responder", "backup": "backup responder"}


async def settings_for_update(core: Core, session: AsyncSession, actor: Actor) -> Workspace:
    """The workspace's settings row, locked for this transaction (created on first use)."""
    await core.db.lock_key(session, f"workspace:{actor.platform}:{actor.team_id}")
    settings = await queries.workspace(session, actor.platform, actor.team_id)
    if settings is None:
        settings = Workspace(platform=actor.platform, team_id=actor.team_id)
        session.add(settings)
    return settings


async def show_or_set(core: Core, actor: Actor, role: str, arg: str) -> Reply:
    """`/breach responder` alone shows who it is; with one @person it records them."""
    title = ROLES[role]
    if not arg:
        async with core.db.reading() as session:
            settings = await queries.workspace(session, actor.platform, actor.team_id)
        current = getattr(settings, f"{role}_id", None) if settings else None
        if current:
            return Reply(card=views.note(f"The {title} is {mention(current)}. Change it with `/breach {role} @name`."))
        return Reply(
            card=views.note(
                f"No {title} is set yet. Choose the person who should lead when a breach happens: "
                f"`/breach {role} @name`."
            )
        )
    user_id = person(arg)
    if user_id is None:
        return Reply(
            card=views.note(
                f"I couldn't find one person in “{arg[:200]}”. Type `/breach {role} @` and pick "
                "someone from the list that appears."
            )
        )
    now = core.clock()
    async with core.db.transaction() as session:
        settings = await settings_for_update(core, session, actor)
        previous = getattr(settings, f"{role}_id")
        setattr(settings, f"{role}_id", user_id)
        settings.updated_at = now
        if previous != user_id:
            queries.record(
                session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                action=f"workspace.{role}", detail=f"{previous or 'none'} -> {user_id}", at=now,
            )
    return Reply(
        card=views.note(
            f"{mention(user_id)} is now the {title}. When someone declares a breach with `/breach`, "
            "they are invited to the war room automatically."
        )
    )


async def show_or_set_timezone(core: Core, actor: Actor, arg: str) -> Reply:
    """`/breach timezone Europe/Berlin`: the zone deadlines are shown in (stored instants stay UTC)."""
    if not arg:
        async with core.db.reading() as session:
            settings = await queries.workspace(session, actor.platform, actor.team_id)
        zone = settings.timezone if settings else "UTC"
        return Reply(card=views.note(
            f"Deadlines are shown in {zone}. Change it with `/breach timezone Europe/Berlin`."))
    name = arg.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return Reply(card=views.note(
            f"I don't know the time zone “{name[:100]}”. Use a name such as `America/New_York`, `Europe/Berlin` "
            "or `UTC`."))
    now = core.clock()
    async with core.db.transaction() as session:
        settings = await settings_for_update(core, session, actor)
        previous, settings.timezone, settings.updated_at = settings.timezone, name, now
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="workspace.timezone", detail=f"{previous} -> {name}", at=now)
    return Reply(card=views.note(f"Deadlines will be shown in {name} ({now.astimezone(ZoneInfo(name)):%z})."),
)
