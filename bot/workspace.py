"""Setup done before any breach: who leads (the responder), who stands in (the backup), who may declare."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from bot import access, views
from bot.cards import mention
from bot.core import Core, Reply
from bot.domain import Actor
from bot.grammar import person
from bot.zones import named_zone
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
    # Anyone may choose while neither is set (the first setup); afterwards the current responder or backup, or
    # an admin (bot/access.py). The admin fact is asked before the transaction (it may call the platform).
    async with core.db.reading() as session:
        leads = access.workspace_leads(await queries.workspace(session, actor.platform, actor.team_id))
    admin = bool(leads) and actor.user_id not in leads and await access.is_admin(core, actor)
    now = core.clock()
    async with core.db.transaction() as session:
        settings = await settings_for_update(core, session, actor)
        leads = access.workspace_leads(settings)
        named = (settings.responder_id, settings.backup_id)
        allowed = not leads or actor.user_id in leads or admin
        if allowed:
            previous = getattr(settings, f"{role}_id")
            setattr(settings, f"{role}_id", user_id)
            settings.updated_at = now
            if previous != user_id:
                queries.record(
                    session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                    action=f"workspace.{role}", detail=f"{previous or 'none'} -> {user_id}", at=now,
                )
    if not allowed:
        return await access.refuse(
            core, actor, f"change the workspace's {title} to {user_id}: not its responder, backup or an admin",
            f"Only {access.names(named)} (the workspace's responder and backup) or {access.ADMIN} can "
            f"change the {title}. Ask them to do it.")
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
        zone = named_zone(name)
    except ValueError:
        return Reply(card=views.note(
            f"I don't know the time zone “{name[:100]}”. Use a name such as `America/New_York`, `Europe/Berlin` "
            "or `UTC`."))
    now = core.clock()
    async with core.db.transaction() as session:
        settings = await settings_for_update(core, session, actor)
        previous, settings.timezone, settings.updated_at = settings.timezone, name, now
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="workspace.timezone", detail=f"{previous} -> {name}", at=now)
    return Reply(card=views.note(f"Deadlines will be shown in {name} ({now.astimezone(zone):%z})."),
)


DECLARERS_HOW = ("`/breach declarers @name @name @group` chooses who may declare a breach; "
                 "`/breach declarers everyone` lets anyone in the workspace declare again.")


async def show_or_set_declarers(core: Core, actor: Actor, arg: str, groups: Mapping[str, str]) -> Reply:
    """`/breach declarers` alone shows who may declare; with people and user groups it lets only them (and the
    responder, the backup and admins); `everyone` lifts the limit. Only the workspace's responder or backup, or
    an admin, may change it. `groups` maps a user group as it reads in `arg` (`@team`) to its id."""
    async with core.db.reading() as session:
        settings = await queries.workspace(session, actor.platform, actor.team_id)
    if not arg:
        if settings is None or not settings.declarers:
            return Reply(card=views.note(f"Anyone in the workspace can declare a breach. {DECLARERS_HOW}"))
        return Reply(card=views.note(
            f"Only {access.declarers_text(settings)} can declare a breach, and the responder, the backup and "
            f"admins always can. {DECLARERS_HOW}"))
    entries: list[dict[str, str]] = []
    if arg.strip().lower() != "everyone":
        for word in arg.replace(",", " ").split():
            user_id = person(word)
            if user_id is not None:
                entry = {"user": user_id}
            elif word in groups:
                entry = {"group": groups[word], "name": word}
            else:
                return Reply(card=views.note(
                    f"I couldn't find a person or a user group in “{word[:100]}”. Type `/breach declarers @` and "
                    "pick people (and user groups) from the list that appears, or `/breach declarers everyone`."))
            if entry not in entries:
                entries.append(entry)
    leads = access.workspace_leads(settings)
    admin = actor.user_id not in leads and await access.is_admin(core, actor)
    now = core.clock()
    async with core.db.transaction() as session:
        settings = await settings_for_update(core, session, actor)
        leads = access.workspace_leads(settings)
        named = (settings.responder_id, settings.backup_id)
        allowed = actor.user_id in leads or admin
        if allowed:
            previous = access.declarers_text(settings) or "everyone"
            settings.declarers, settings.updated_at = entries, now
            queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                           action="workspace.declarers",
                           detail=f"{previous} -> {access.declarers_text(settings) or 'everyone'}", at=now)
    if not allowed:
        first = "" if leads else " Choose a responder first with `/breach responder @name`."
        return await access.refuse(
            core, actor, "change who may declare: not the workspace's responder, backup or an admin",
            f"Only {access.names(named) + ' (the responder and the backup) or ' if leads else ''}{access.ADMIN} "
            f"can choose who may declare a breach.{first}")
    if not entries:
        return Reply(card=views.note("Anyone in the workspace can declare a breach again."))
    return Reply(card=views.note(
        f"Only {access.declarers_text(settings)} can declare a breach now, and the responder, the backup and admins "
        "always can. Anyone else who types `/breach` is told whom to tell."))
