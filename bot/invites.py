"""Adding people to a war room: `/breach invite @a @b`, typed inside it by someone who is in it.

The platform adds them (Slack: the channel's members; Teams: the group chat's; the console: the room's), so
that anyone in the room can bring in who is needed (IT, the accountant, a lawyer) without knowing the platform's
own menus. The timeline keeps who added whom (`member.invited`, once the platform has done it) and the room is
told. Whoever is added through the platform's own interface counts the same (bot/access.py asks the platform).
"""

from __future__ import annotations

import logging

from bot import access, views
from bot.cards import mention
from bot.core import Core, Reply
from bot.domain import Actor
from bot.grammar import person
from bot.ports import Audience, ChatError, ChatPort
from storage import queries
from storage.models import Incident

log = logging.getLogger(__name__)
INVITED = "member.invited"
# More than a war room needs at once; a longer list is more likely a paste gone wrong.
MAX_PEOPLE = 30
HOW = "Type `/breach invite @` and pick the people to add from the list that appears."


def people(arg: str) -> tuple[list[str], str | None]:
    """The people `arg` names, each once, in order; and the first word that is not a person picked from a list."""
    found: list[str] = []
    for word in arg.replace(",", " ").split():
        user_id = person(word)
        if user_id is None:
            return found, word
        if user_id not in found:
            found.append(user_id)
    return found, None


def listed(user_ids: list[str]) -> str:
    """`@{A}`, `@{A} and @{B}`, `@{A}, @{B} and @{C}`."""
    shown = [mention(u) for u in user_ids]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


async def invite(core: Core, actor: Actor, incident: Incident, arg: str) -> Reply:
    """Add the people `arg` names to the incident's war room; for the people in it (bot/access.py)."""
    wanted, unknown = people(arg)
    if unknown is not None:
        return Reply(card=views.note(f"I couldn't find a person in “{unknown[:100]}”. {HOW}"))
    if not wanted:
        return Reply(card=views.note(f"Name the people to add to this war room: `/breach invite @name @name`. {HOW}"))
    if len(wanted) > MAX_PEOPLE:
        return Reply(card=views.note(f"Invite at most {MAX_PEOPLE} people at once."))
    if not await access.in_room(core, actor, incident):
        return await access.refuse(core, actor, f"invite {', '.join(wanted)[:200]}: not in the war room",
                                   access.not_in_room(incident, "invite people to it"), incident=incident)
    present = await access.members(core, incident) or set()
    new = [u for u in wanted if u not in present]
    if not new:
        return Reply(card=views.note(f"{listed(wanted)} {'is' if len(wanted) == 1 else 'are'} already in this war "
                                     "room."))
    room_id, incident_id = incident.channel_id, incident.id
    if not room_id:
        return Reply(card=views.note("This war room is still being opened. Invite them again in a moment."))

    async def add(port: ChatPort) -> None:
        try:
            await port.invite(room_id, new)
        except ChatError as exc:
            log.warning("incident %s: invite failed (%s)", incident_id, exc.code)
            advice = exc.advice or "Add them through the chat's own menu, or try again in a moment."
            await port.tell(Audience(actor.user_id, room_id), views.note(
                f"I could not add {listed(new)} to this war room ({exc.code}). {advice}"))
            return
        async with core.db.transaction() as session:
            queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                           action=INVITED, detail=", ".join(new), at=core.clock(), incident_id=incident_id)
        await port.post_cards(room_id, [views.note(f"{mention(actor.user_id)} added {listed(new)} to this war "
                                                   "room.")])

    return Reply(card=views.note(f"Adding {listed(new)} to this war room."), work=[add])
