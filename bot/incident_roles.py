"""Who leads one incident: `/breach responder @x` (or `backup`) typed inside its war room.

Inside a war room these change that incident's responder or backup, not the workspace's (which are set outside
any war room, before a breach, in bot/workspace.py): the person is invited to the room, the topic and the
checklist's heading say who leads now, and the timeline keeps who changed it from whom. Only the incident's
responder or backup, or an admin, may change them (bot/access.py). The record keeps whether the first responder
was designated in advance: a change later does not rewrite that.
"""

from __future__ import annotations

import json
import logging

from bot import access, drills, outbox, views
from bot.cards import mention
from bot.checklist import refresh_checklist
from bot.core import Core, Reply
from bot.domain import Actor
from bot.grammar import person
from bot.ports import ChatError, ChatPort
from bot.war_room import topic
from storage import queries
from storage.models import Incident

log = logging.getLogger(__name__)
TITLES = {"responder": "responder", "backup": "backup responder"}
POST = "incident.role"  # the note of who leads now, owed to the war room (bot/outbox.py); ref: [role, by, whom]


async def show_or_change(core: Core, actor: Actor, incident: Incident, role: str, arg: str) -> Reply:
    """Alone, who it is for this incident; with one @person, make them this incident's responder or backup."""
    title = TITLES[role]
    current = getattr(incident, f"{role}_id")
    if not arg:
        said = f"is {mention(current)}" if current else "is not set"
        return drills.scoped(incident, Reply(card=views.note(
            f"The {title} of incident {incident.id} {said}. Change it with `/breach {role} @name` here "
            "(the workspace's, for the next breach, is set outside any war room).")))
    user_id = person(arg)
    if user_id is None:
        return drills.scoped(incident, Reply(card=views.note(
            f"I couldn't find one person in “{arg[:200]}”. Type `/breach {role} @` and pick someone from the "
            "list that appears.")))
    if not await access.is_lead(core, actor, incident):
        return await access.refuse(core, actor, f"make {user_id} the {title}: not the responder, backup or an admin",
                                   access.not_a_lead(incident, f"change who is the {title}"), incident=incident)
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"incident-roles:{incident.id}")
        stored = await queries.incident(session, incident.id or 0)
        assert stored is not None
        previous = getattr(stored, f"{role}_id")
        if previous != user_id:
            setattr(stored, f"{role}_id", user_id)
            queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                           action=f"incident.{role}", detail=f"{previous or 'none'} -> {user_id}", at=now,
                           incident_id=stored.id)
            outbox.owe(session, stored, POST, json.dumps([role, actor.user_id, user_id]), now=now)
    if previous == user_id:
        return drills.scoped(stored, Reply(card=views.note(
            f"{mention(user_id)} is already the {title} of incident {stored.id}.")))
    incident_id, room_id = stored.id or 0, stored.channel_id

    async def announce(port: ChatPort) -> None:
        if not room_id:
            return
        calls = ((port.invite, (room_id, [user_id])), (port.set_topic, (room_id, topic(stored))))
        for call, args in calls:
            try:
                await call(*args)  # type: ignore[operator]
            except ChatError as exc:
                log.warning("incident %s: new %s not fully announced (%s)", incident_id, role, exc.code)
        await outbox.flush(core, port, stored.platform, room_id)  # the note: posted now, or once the platform answers
        await refresh_checklist(core, incident_id, port, sections={views.INTRO})

    return drills.scoped(stored, Reply(
        card=views.note(f"{mention(user_id)} is now the {title} of incident {incident_id} and is invited to its war "
                        "room. The workspace's responder for the next breach is unchanged."),
        work=[announce]))


@outbox.renders(POST)
async def _role_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    role, by, whom = json.loads(ref)
    return outbox.Post(cards=(views.note(f"{mention(by)} made {mention(whom)} the {TITLES[role]} of this incident."),))
