"""From typed command text to the use case that answers it."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot import clock_facts, closing, drills, incident_roles, invites, notice_drafts, notice_facts, views
from bot.core import Core, Invocation, Reply
from bot.decisions import EMPTY_DECISION, record_decision
from bot.declare import declare
from bot.declare import refusal as declare_refusal
from bot.grammar import COMING_LATER, SUBCOMMANDS, parse
from bot.workspace import show_or_set, show_or_set_declarers, show_or_set_timezone
from storage import queries
from storage.models import ChecklistItem, Incident

IN_ROOM_ONLY = (
    "`/breach {name}` works inside a war room channel. Open the war room from the link I sent you "
    "when the breach was declared, and type it there."
)


def _near_miss(text: str) -> str | None:
    """A first word that looks like a mistyped sub-command (`stauts`), so we don't declare a breach by typo."""
    first = text.strip().split(" ", 1)[0].lower()
    if not first or first in SUBCOMMANDS:
        return None
    close = difflib.get_close_matches(first, SUBCOMMANDS, n=1, cutoff=0.75)
    return close[0] if close else None


async def handle(core: Core, inv: Invocation) -> Reply:
    """Answer `/breach <text>`; every answer here is private unless it says it goes to the war room."""
    parsed = parse(inv.text)
    name, arg = parsed.name, parsed.arg
    actor = inv.actor
    if name == "help":
        return Reply(card=views.help_card())
    if name in COMING_LATER:
        return Reply(card=views.note(f"`/breach {name}` is coming in a later version of Breachroom. "
                                     "Type `/breach help` for what works today."))
    if name in ("responder", "backup"):
        # Inside a war room: that incident's; anywhere else: the workspace's, for the next breach.
        incident, _ = await _room_incident(core, inv)
        if incident is not None:
            return await incident_roles.show_or_change(core, actor, incident, name, arg)
        return await show_or_set(core, actor, name, arg)
    if name == "declarers":
        return await show_or_set_declarers(core, actor, arg, dict(inv.groups))
    if name == "timezone":
        return await show_or_set_timezone(core, actor, arg)
    if name == "announce":
        return await closing.announce(core, actor, arg)
    if name in ("drill", "declare") and not arg:
        # Told before filling in the form, rather than after.
        refused = await declare_refusal(core, actor, drill=name == "drill")
        if refused is not None:
            return refused
    if name == "drill":
        if not arg:
            return Reply(form=views.declare_form(inv.channel_id, core.clock(), drill=True))
        return await declare(
            core, actor, arg, origin_channel=inv.channel_id,
            reply_handle=inv.reply_handle, delivery_key=inv.delivery_key, drill=True,
        )
    if name == "declare":
        if not arg:
            return Reply(form=views.declare_form(inv.channel_id, core.clock()))
        typo = _near_miss(inv.text)
        if typo and inv.text.strip().split(" ", 1)[0].lower() != "declare":
            return Reply(card=views.note(
                f"Did you mean `/breach {typo}`? If you meant to declare a breach, type "
                f"`/breach declare {inv.text.strip()[:200]}`."
            ))
        return await declare(
            core, actor, arg, origin_channel=inv.channel_id,
            reply_handle=inv.reply_handle, delivery_key=inv.delivery_key,
        )
    incident, items = await _room_incident(core, inv)
    if incident is None or incident.id is None:
        outside = IN_ROOM_ONLY.format(name=name)
        if name == "invite":  # the newest command word: a summary may well start with it
            outside += f" To declare a breach, type `/breach declare {inv.text.strip()[:200]}`."
        return Reply(card=views.note(outside))
    return drills.scoped(incident, await _in_room(core, inv, name, arg, incident, items))


async def _room_incident(core: Core, inv: Invocation) -> tuple[Incident | None, Sequence[ChecklistItem]]:
    """The incident whose war room the command was typed in (None elsewhere), and its checklist."""
    actor = inv.actor
    async with core.db.reading() as session:
        incident = await queries.incident_in_room(session, actor.platform, actor.team_id, inv.channel_id)
        items = await queries.items(session, incident.id) if incident and incident.id else []
    return (incident, items) if incident is not None and incident.id is not None else (None, [])


async def _in_room(
    core: Core, inv: Invocation, name: str, arg: str, incident: Incident, items: Sequence[ChecklistItem]
) -> Reply:
    """The sub-commands that work inside a war room, about its incident."""
    actor = inv.actor
    assert incident.id is not None
    if name == "status":
        return Reply(card=views.status_card(incident, items, core.playbook, core.clock()))
    if name == "decision":
        if not arg:
            return Reply(card=views.note(EMPTY_DECISION))
        return await record_decision(core, actor, incident.id, arg, delivery_key=inv.delivery_key)
    if name == "notice":
        if arg.lower() == "facts":
            return await notice_facts.facts_form(core, actor, incident.id)
        return await notice_drafts.draft(core, actor, incident.id)
    if name == "clock":
        return await clock_facts.clock_form(core, actor, incident)
    if name == "invite":
        return await invites.invite(core, actor, incident, arg)
    if name == "close":
        return await closing.request_close(core, actor, incident)
    if name == "reopen":
        return await closing.reopen(core, actor, incident)
    raise AssertionError(f"unrouted sub-command {name}")
