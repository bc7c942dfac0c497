"""Recording decisions: stored in full, posted in the war room, written to the timeline."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot import access, drills, outbox, views
from bot.cards import FormErrors
from bot.core import Core, Reply
from bot.domain import Actor, parse_id
from storage import queries
from storage.models import Decision, Incident

log = logging.getLogger(__name__)
EMPTY_DECISION = (
    "Write the decision after the command, for example "
    "`/breach decision Take the file server offline until it is rebuilt`. "
    "You can also press **Record decision** on the pinned checklist."
)
POST = "decision"  # the decision's card, owed to the war room (bot/outbox.py); its ref is the decision's id


async def record_decision(
    core: Core,
    actor: Actor,
    incident_id: int,
    text: str,
    rationale: str | None = None,
    *,
    delivery_key: str | None = None,
) -> Reply:
    """Keep the decision (a repeated delivery is recognised and kept once) and post it in the room."""
    text = text.strip()
    rationale = (rationale or "").strip() or None
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is not None and incident.team_id == actor.team_id and not await access.in_room(core, actor, incident):
        # What was typed is not kept: the record says what was refused, not what an outsider wrote.
        return await access.refuse(core, actor, "record a decision: not in the war room",
                                   access.not_in_room(incident, "record decisions"), incident=incident)
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"decision:{incident_id}")
        incident = await queries.incident(session, incident_id)
        if incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that incident any more."))
        if delivery_key and await queries.decision_by_delivery(session, incident_id, delivery_key):
            return drills.scoped(incident, Reply(card=views.note("That decision is already recorded.")))
        decision = Decision(
            incident_id=incident_id, text=text, rationale=rationale,
            decided_by=actor.user_id, decided_at=now, delivery_key=delivery_key,
        )
        session.add(decision)
        await session.flush()
        number = await queries.count_decisions(session, incident_id, decision.id or 0)
        queries.record(
            session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
            action="decision.recorded", detail=text + (f" (why: {rationale})" if rationale else ""),
            at=now, incident_id=incident_id,
        )
        # Owed with the decision: it reaches the room even if the platform is down now (bot/outbox.py).
        room_id = outbox.owe(session, incident, POST, decision.id or 0, now=now)
    confirmation = views.note(f"Decision {number} recorded. It is posted in the war room and kept in the record.")
    return drills.scoped(incident, Reply(card=confirmation, work=[outbox.poster(core, incident.platform, room_id)],
                                         room=incident.channel_id))


@outbox.renders(POST)
async def _decision_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    """The decision's card as it is numbered in the incident, from the store."""
    async with core.db.reading() as session:
        decision = await session.get(Decision, int(ref))
        if decision is None:
            return None
        number = await queries.count_decisions(session, decision.incident_id, decision.id or 0)
    return outbox.Post(cards=(views.decision_card(decision, number),))


async def submit_decision_form(
    core: Core, actor: Actor, value: str, values: Mapping[str, object], *, delivery_key: str | None
) -> Reply:
    text = str(values.get("decision") or "").strip()
    if not text:
        raise FormErrors({"decision": "Write the decision you took."})
    incident_id = parse_id(value)
    if incident_id is None:
        return Reply(card=views.note("That form is out of date. Use the button on the pinned checklist."))
    rationale = values.get("rationale")
    return await record_decision(
        core, actor, incident_id, text, str(rationale) if rationale else None, delivery_key=delivery_key
    )


async def open_decision_form(core: Core, actor: Actor, value: str) -> Reply:
    """The **Record decision** form, for the people in the war room (others are told so before typing)."""
    incident_id = parse_id(value)
    if incident_id is None:
        return Reply(card=views.note("That button is out of date. Use the pinned checklist in the war room."))
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is not None and incident.team_id == actor.team_id and not await access.in_room(core, actor, incident):
        return await access.refuse(core, actor, "open the decision form: not in the war room",
                                   access.not_in_room(incident, "record decisions"), incident=incident)
    return Reply(form=views.decision_form(incident_id))
