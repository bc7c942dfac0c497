"""Who may do what, decided here once for every platform, and the record of what was refused.

The rules (the README's "Who may do what"):

- Declare a breach or a drill: anyone in the workspace, unless `/breach declarers` named people and user
  groups; then those people and the members of those groups, and also the workspace's responder, its backup
  and admins (they set the list, and are invited to every war room anyway).
- Press a checklist step (Done or Undo), record a decision (typed, or with the form), mark a deadline done, edit
  the notice facts, draft the client notice, ask for changes to a draft, record clock facts, invite people to the
  war room: the people in the incident's war room as the platform reports them now (Slack: the channel's
  members, cached at most 60 s and dropped when Slack says someone joined or left; Teams: the chat's members, or
  the team's for a channel war room, cached likewise and dropped on a `conversationUpdate`; the console: the
  room's members). People added through Slack's or Teams' own interface count.
- Approve a client notice, close (and close anyway), reopen, change the incident's responder or backup
  (`/breach responder @x` inside its war room): that incident's responder or backup, or an admin.
- Change the workspace's responder or backup (outside a war room): anyone while neither is set (the first
  setup); afterwards its current responder or backup, or an admin. Choose who may declare: the workspace's
  responder or backup, or an admin.
- Admin: a user listed in BREACHROOM_ADMINS (`Core.admins`), or whom the platform makes one (Slack: a
  workspace admin or owner). On Teams and the console the list is the only way.

Facts come from the platform through its port (`Core.ports`). When the platform cannot say who is in a room or
a group (None, a failed call, no answer within FACT_WAIT), the person may act: a breach response must not
stall because a platform API is down or a permission was never granted. That is logged once per room (or
group) and process, so the cause is found. When the platform cannot say whether someone is an admin, they
count as not one: the refusal names who can do it instead.

A refusal is a private answer that says who may do it. A refusal about an incident is also recorded in that
incident's timeline (action `access.refused`, the detail saying what was refused), at most once per person,
incident and minute: the check reads the timeline in the transaction that writes the entry, under a lock on
that person and incident, so it holds across processes, and a flood of presses cannot bury the record. Any
other refusal (declaring, workspace settings) goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from datetime import timedelta
from typing import TypeVar

from bot import drills, views
from bot.cards import mention, room
from bot.core import Core, Reply
from bot.domain import Actor, parse_id
from storage import queries
from storage.models import Incident, Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")

REFUSED = "access.refused"
# One refusal entry per person, incident and this long: enough for the record, not enough to bury it.
REFUSAL_EVERY = timedelta(minutes=1)
# How long a use case waits for a platform fact. A slash command is answered within Slack's 3 s, facts included;
# Slack's own answers are cached, so this is the first one of a minute at most.
FACT_WAIT = 1.5
ADMIN = "a workspace admin"

_told: set[tuple[str, str]] = set()  # rooms and groups whose members the platform could not tell us, logged once


async def _ask(call: Awaitable[T], default: T, what: str) -> T:
    """A platform fact, or `default` when the platform does not answer in time or fails."""
    try:
        return await asyncio.wait_for(call, FACT_WAIT)
    except TimeoutError:
        log.warning("access: no answer about %s within %s s", what, FACT_WAIT)
    except Exception as exc:  # an adapter's failure is no reason to fail the person's request
        log.warning("access: could not ask about %s (%s)", what, type(exc).__name__)
    return default


def _once(platform: str, key: str, message: str, *args: object) -> None:
    if (platform, key) not in _told:
        _told.add((platform, key))
        log.warning(message, *args)


def names(user_ids: Iterable[str | None]) -> str:
    """`@{A}`, `@{A} or @{B}`: who may do something, for a refusal."""
    return " or ".join(mention(u) for u in dict.fromkeys(u for u in user_ids if u))


def leads(incident: Incident) -> set[str]:
    """The incident's responder and backup."""
    return {u for u in (incident.responder_id, incident.backup_id) if u}


def workspace_leads(settings: Workspace | None) -> set[str]:
    """The workspace's designated responder and backup (empty before the first setup)."""
    return {u for u in (settings.responder_id, settings.backup_id) if u} if settings else set()


async def is_admin(core: Core, actor: Actor) -> bool:
    """Listed in BREACHROOM_ADMINS, or an admin as the platform says (Slack: an admin or owner)."""
    if actor.user_id in core.admins:
        return True
    port = core.ports.get(actor.platform)
    if port is None:
        return False
    return bool(await _ask(port.is_admin(actor.user_id), False, f"whether {actor.user_id} is an admin"))


async def is_lead(core: Core, actor: Actor, incident: Incident) -> bool:
    """The incident's responder or backup, or an admin: who approves, closes, reopens, changes its leads."""
    return actor.user_id in leads(incident) or await is_admin(core, actor)


async def members(core: Core, incident: Incident) -> set[str] | None:
    """The people in the incident's war room now, as the platform reports them; None when it cannot say."""
    room_id = incident.channel_id
    port = core.ports.get(incident.platform)
    return await _ask(port.room_members(room_id), None, f"who is in {room_id}") if port and room_id else None


async def in_room(core: Core, actor: Actor, incident: Incident) -> bool:
    """In the incident's war room now, as the platform reports it; let in when the platform cannot say."""
    room_id = incident.channel_id
    members_now = await members(core, incident)
    if members_now is None:
        # No room yet (its buttons exist nowhere), no port, or the platform cannot say.
        _once(incident.platform, room_id or f"incident {incident.id}", "access: %s cannot say who is in the war "
              "room of incident %s (%s): anyone who reaches it may press its checklist and record decisions",
              incident.platform, incident.id, room_id or "no room yet")
        return True
    return actor.user_id in members_now


def named_declarers(settings: Workspace) -> set[str]:
    """Who may declare without asking the platform anything: the people named, and the leads."""
    return {e["user"] for e in settings.declarers if e.get("user")} | workspace_leads(settings)


async def may_declare(core: Core, actor: Actor, settings: Workspace | None) -> bool:
    """Anyone, unless declarers are set: then they, the members of their groups, the leads and admins."""
    entries = settings.declarers if settings else []
    if not entries:
        return True
    assert settings is not None
    if actor.user_id in named_declarers(settings):
        return True
    port = core.ports.get(actor.platform)
    for group in (e["group"] for e in entries if e.get("group")):
        members = await _ask(port.group_members(group), None, f"who is in {group}") if port else None
        if members is None:
            _once(actor.platform, group, "access: %s cannot say who is in the user group %s: its members and "
                  "everyone else may declare", actor.platform, group)
            return True
        if actor.user_id in members:
            return True
    return await is_admin(core, actor)


def declarers_text(settings: Workspace | None) -> str:
    """`@{A}, @{B} and the members of @team`: the declarers as a person reads them."""
    entries = settings.declarers if settings else []
    people = [mention(e["user"]) for e in entries if e.get("user")]
    groups = [e.get("name") or e["group"] for e in entries if e.get("group")]
    listed = people + ([f"the members of {', '.join(groups)}"] if groups else [])
    if len(listed) < 2:
        return "".join(listed)
    return ", ".join(listed[:-1]) + " and " + listed[-1]


async def refuse(core: Core, actor: Actor, what: str, text: str, *, incident: Incident | None = None) -> Reply:
    """The private answer `text`; `what` was refused is recorded in the incident's timeline (at most once per
    person, incident and minute), or logged when no incident is concerned."""
    if incident is None or incident.id is None:
        log.warning("access: refused %s %s in %s to %s", actor.platform, actor.user_id, actor.team_id, what)
        return Reply(card=views.note(text))
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"refused:{incident.id}:{actor.user_id}")
        if not await queries.recent_entry(session, incident.id, actor.user_id, REFUSED, now - REFUSAL_EVERY):
            queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                           action=REFUSED, detail=what, at=now, incident_id=incident.id)
    return drills.scoped(incident, Reply(card=views.note(text)))


async def member_form(core: Core, actor: Actor, value: str, *, stale: str, what: str,
                      doing: str) -> Incident | Reply:
    """The incident a war-room form was sent for, when the sender is in its room; else the answer to give them
    (`stale`: the form names no incident; refused, recorded as `what`, when they are not in the room)."""
    incident_id = parse_id(value)
    if incident_id is None:
        return Reply(card=views.note(stale))
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is None or incident.team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    if not await in_room(core, actor, incident):
        return await refuse(core, actor, what, not_in_room(incident, doing), incident=incident)
    return incident


def not_in_room(incident: Incident, doing: str) -> str:
    """A refusal for someone outside the war room."""
    where = f"its war room {room(incident.channel_id)}" if incident.channel_id else "its war room"
    return (f"Only the people in incident {incident.id}'s war room can {doing}, and you are not in {where}. "
            f"Ask {names((incident.responder_id, incident.backup_id))} to add you to it.")


def not_a_lead(incident: Incident, doing: str) -> str:
    """A refusal for someone who is neither the incident's responder nor its backup, nor an admin."""
    roles = "the responder and the backup" if incident.backup_id else "the responder"
    return (f"Only {names((incident.responder_id, incident.backup_id))} ({roles} of incident {incident.id}) "
            f"or {ADMIN} can {doing}.")


def not_a_declarer(settings: Workspace | None, *, drill: bool = False) -> str:
    """A refusal for someone the declarers do not include: it says whom to tell, since it may be a breach."""
    leads = names((settings.responder_id, settings.backup_id) if settings else ())
    text = (f"Only {declarers_text(settings)} can declare a {'drill' if drill else 'breach'} here "
            f"(the list is set with `/breach declarers`).")
    if not drill:
        text += f" If this is a breach, tell {leads or 'one of them'} now: every minute counts."
    return text
