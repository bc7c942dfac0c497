"""Closing an incident with its summary, reopening it, and where summaries are announced."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlmodel import col

from bot import access, chart, drills, outbox, record, summary, views
from bot.cards import Button, Buttons, Card, Header, Text, mention, room
from bot.checklist import refresh_checklist
from bot.core import Core, Reply
from bot.domain import DONE, Actor, parse_id
from bot.grammar import channel
from bot.ports import Attachment, ChatError, ChatPort
from bot.war_room import topic
from bot.workspace import settings_for_update
from storage import queries
from storage.models import Incident

log = logging.getLogger(__name__)
INCIDENT_CLOSE = "incident.close"
# What closing and reopening owe the rooms (bot/outbox.py), each rendered from the store when it is posted: the
# summary and its chart in the war room, the detail-free summary in the announcement channel (refs: none, the
# incident says it all), the note that it was reopened (ref: who reopened it).
SUMMARY, SUMMARY_CHART, SUMMARY_PUBLIC, REOPENED = "summary", "summary.chart", "summary.public", "reopened"


async def request_close(core: Core, actor: Actor, incident: Incident) -> Reply:
    """`/breach close`: a private confirmation, or the open containment steps that stand in the way. Only the
    incident's responder or backup, or an admin, may close it (bot/access.py)."""
    if not await access.is_lead(core, actor, incident):
        return await access.refuse(core, actor, "close the incident: not its responder, backup or an admin",
                                   access.not_a_lead(incident, "close it"), incident=incident)
    if incident.status == "closed":
        return drills.scoped(incident, Reply(card=views.note(
            f"Incident {incident.id} is already closed. `/breach reopen` continues it.")))
    async with core.db.reading() as session:
        items = await queries.items(session, incident.id or 0)
        settings = await queries.workspace(session, actor.platform, actor.team_id)
    section = summary.containment_section(core.playbook)
    title = core.playbook.section(section).title  # type: ignore[union-attr]
    open_steps = [i.label for i in items if i.section == section and i.state != DONE]
    where = " in this room"
    if incident.drill:
        where += " (a drill is never announced)"
    elif settings and settings.announce_channel_id:
        where += f" and, without details, in {room(settings.announce_channel_id)}"
    parts: list = [Header(f"Close incident {incident.id}?"),
                   Text(f"This posts the post-incident summary{where}, and marks the incident closed. "
                        "It stays readable and exportable, and `/breach reopen` continues the same record.")]
    if open_steps:
        parts.append(Text(f"**{title} is not finished ({len(open_steps)} open):**\n"
                          + "\n".join(f"• {label}" for label in open_steps)))
        parts.append(Buttons((Button("Close anyway", INCIDENT_CLOSE, f"{incident.id}:force", "danger"),)))
    else:
        parts.append(Buttons((Button("Close incident", INCIDENT_CLOSE, f"{incident.id}:normal", "primary"),)))
    return drills.scoped(incident, Reply(card=Card(fallback=f"Close incident {incident.id}?", parts=tuple(parts))))


async def confirm_close(core: Core, actor: Actor, value: str) -> Reply:
    """The confirmation button: check again (things may have changed), then close exactly once."""
    typed_id, _, mode = value.partition(":")
    incident_id = parse_id(typed_id)
    if incident_id is None or mode not in ("normal", "force"):
        return Reply(card=views.note("That button is out of date. Type `/breach close` again."))
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is None or incident.team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    if not await access.is_lead(core, actor, incident):
        return await access.refuse(core, actor, "close the incident: not its responder, backup or an admin",
                                   access.not_a_lead(incident, "close it"), incident=incident)
    now = core.clock()
    section = summary.containment_section(core.playbook)
    async with core.db.transaction() as session:
        incident = await queries.incident(session, incident_id)
        if incident is None:
            return Reply(card=views.note("I can't find that incident any more."))
        items = await queries.items(session, incident.id or 0)
        open_steps = [i for i in items if i.section == section and i.state != DONE]
        if open_steps and mode != "force":
            return drills.scoped(incident, Reply(card=views.note(
                f"Not closed: {len(open_steps)} containment steps are still open. Type `/breach close` to see "
                "them, and close anyway if you must.")))
        result = await session.execute(
            sa.update(Incident).where(col(Incident.id) == incident.id, col(Incident.status) == "open")
            .values(status="closed", closed_at=now, closed_by=actor.user_id))
        if result.rowcount != 1:
            return drills.scoped(incident, Reply(card=views.note(f"Incident {incident.id} is already closed.")))
        detail = "closed anyway with open steps: " + "; ".join(i.label for i in open_steps) if open_steps else ""
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="incident.closed", detail=detail, at=now, incident_id=incident.id)
        # Owed with the close, so that they reach the rooms even if the platform is down now. A drill is never
        # announced, whatever the announcement channel.
        settings = await queries.workspace(session, incident.platform, incident.team_id)
        rooms = [outbox.owe(session, incident, SUMMARY, now=now), outbox.owe(session, incident, SUMMARY_CHART, now=now)]
        if incident.channel_id and settings and settings.announce_channel_id and not incident.drill:
            rooms.append(outbox.owe(session, incident, SUMMARY_PUBLIC, now=now, room_id=settings.announce_channel_id))
    return drills.scoped(incident, Reply(
        card=views.note(f"Incident {incident_id} is closed. The summary is being posted in the war room."),
        work=[_poster(core, incident_id, [r for r in rooms if r])]))


def _poster(core: Core, incident_id: int, rooms: list[str]):  # type: ignore[no-untyped-def]
    async def post(port: ChatPort) -> None:
        await post_summary(core, incident_id, port, rooms)

    return post


async def post_summary(core: Core, incident_id: int, port: ChatPort, rooms: list[str]) -> None:
    """What closing owes `rooms` (summary and chart in the war room, the detail-free summary in the announcement
    channel: bot/outbox.py posts them, now or once the platform answers again), the topic and the checklist."""
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is None or incident.channel_id is None:
        return
    port = drills.port_for(incident, port)
    calls = [
        outbox.poster(core, incident.platform, *rooms)(port),
        port.set_topic(incident.channel_id, topic(incident)),
        refresh_checklist(core, incident_id, port, sections={views.INTRO}),
    ]
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(outcome, ChatError):
            log.warning("incident %s: summary step failed (%s)", incident_id, outcome.code)
        elif isinstance(outcome, BaseException):
            log.error("incident %s: summary step failed (%s)", incident_id, type(outcome).__name__)


async def _closed_summary(core: Core, incident: Incident) -> summary.Summary | None:
    """The summary as the store has it now; None once the incident is open again (closing it again owes a new one)."""
    if incident.status != "closed":
        return None
    return await record.incident_summary(core.db, incident.id or 0, core.playbook, person=mention)


@outbox.renders(SUMMARY)
async def _summary_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    result = await _closed_summary(core, incident)
    return outbox.Post(cards=tuple(summary.cards(result))) if result else None


@outbox.renders(SUMMARY_PUBLIC)
async def _public_summary_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    result = await _closed_summary(core, incident)
    return outbox.Post(cards=tuple(summary.cards(result, public=True))) if result and not incident.drill else None


@outbox.renders(SUMMARY_CHART)
async def _chart_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    result = await _closed_summary(core, incident)
    if result is None:
        return None
    png = await asyncio.to_thread(chart.timeline_png, result)
    return outbox.Post(files=(Attachment(f"incident-{incident.id}-timeline.png", png,
                                         f"Incident {incident.id} timeline"),),
                       comment="Timeline of the incident: key times and checklist steps.")


@outbox.renders(REOPENED)
async def _reopened_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    return outbox.Post(cards=(views.note(f"{mention(ref)} reopened incident {incident.id}. The record continues."),))


async def reopen(core: Core, actor: Actor, incident: Incident) -> Reply:
    """`/breach reopen`: the incident's responder or backup, or an admin, continues the same record."""
    if not await access.is_lead(core, actor, incident):
        return await access.refuse(core, actor, "reopen the incident: not its responder, backup or an admin",
                                   access.not_a_lead(incident, "reopen it"), incident=incident)
    now = core.clock()
    async with core.db.transaction() as session:
        result = await session.execute(
            sa.update(Incident).where(col(Incident.id) == incident.id, col(Incident.status) == "closed")
            .values(status="open", closed_at=None, closed_by=None))
        if result.rowcount != 1:
            return drills.scoped(incident, Reply(card=views.note(f"Incident {incident.id} is open already.")))
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="incident.reopened", at=now, incident_id=incident.id)
        outbox.owe(session, incident, REOPENED, actor.user_id, now=now)
    incident.status = "open"
    incident_id, room_id = incident.id or 0, incident.channel_id

    async def announce_in_room(port: ChatPort) -> None:
        if room_id:
            await outbox.flush(core, port, incident.platform, room_id)
            await port.set_topic(room_id, topic(incident))
            await refresh_checklist(core, incident_id, port, sections={views.INTRO})

    return drills.scoped(incident, Reply(card=views.note(f"Incident {incident_id} is open again."),
                                         work=[announce_in_room]))


async def announce(core: Core, actor: Actor, arg: str) -> Reply:
    """`/breach announce #channel` sets where summaries go (without details); `off` stops it; alone, shows it.

    Only a change writes: showing, or a channel not understood, leaves the workspace's settings as they are (and
    creates none)."""
    if not arg:
        async with core.db.reading() as session:
            shown = await queries.workspace(session, actor.platform, actor.team_id)
        current = shown.announce_channel_id if shown is not None else None
        if current:
            return Reply(card=views.note(f"Post-incident summaries are announced in {room(current)}."))
        return Reply(card=views.note(
            "Summaries are not announced anywhere yet. `/breach announce #channel` chooses a channel."))
    off = arg.strip().lower() in ("off", "none")
    target = None if off else channel(arg)
    if target is None and not off:
        return Reply(card=views.note(
            f"I couldn't find one channel in “{arg[:200]}”. Type `/breach announce #` and pick a channel."))
    async with core.db.transaction() as session:
        settings = await settings_for_update(core, session, actor)
        current = settings.announce_channel_id
        settings.announce_channel_id = target
        settings.updated_at = core.clock()
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="workspace.announce", detail=f"{current or 'none'} -> {target or 'none'}",
                       at=core.clock())
    if target is None:
        return Reply(card=views.note("Summaries will no longer be announced."))
    return Reply(card=views.note(
        f"Post-incident summaries will be announced in {room(target)}, without client details. "
        "If it is a private channel, invite Breachroom to it."))
