"""Declaring a breach (or a drill): the incident and its checklist are stored at once; bot/war_room.py builds
its room after the acknowledgement."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

import sqlalchemy as sa

from bot import access, drills, views, war_room
from bot.batching import Batcher
from bot.cards import Card, FormErrors, room
from bot.core import Core, Reply, Work
from bot.domain import DATA_KINDS, DEFAULT_SEVERITY, DUPLICATE_WINDOW, OPEN, SEVERITIES, Actor, age
from bot.ports import ChatPort
from storage import queries
from storage.models import ChecklistItem, Incident, RoomBuild, Workspace

log = logging.getLogger(__name__)


def dedupe_key(actor: Actor, summary: str, *, drill: bool = False) -> str:
    """Same person, same words (ignoring case and spacing) in the same workspace, and both drills or both real.

    A drill that rehearses a breach is no duplicate of that breach declared for real, nor the other way round.
    """
    words = " ".join(summary.casefold().split())
    raw = f"{actor.platform}\x1f{actor.team_id}\x1f{actor.user_id}\x1f{words}"
    if drill:
        raw += "\x1fdrill"
    return hashlib.sha256(raw.encode()).hexdigest()


async def declare(
    core: Core,
    actor: Actor,
    summary: str,
    *,
    origin_channel: str | None,
    reply_handle: str | None = None,
    delivery_key: str | None = None,
    severity: str = DEFAULT_SEVERITY,
    discovered_at: datetime | None = None,
    data_kinds: tuple[str, ...] = (),
    affected_clients: int | None = None,
    compromised_account: str | None = None,
    drill: bool = False,
) -> Reply:
    """Store the incident (a drill: a practice one) and its checklist at once; the room is built after the
    acknowledgement."""
    summary = " ".join(summary.split())
    declaration = Declaration(
        actor=actor, summary=summary, key=dedupe_key(actor, summary, drill=drill), origin_channel=origin_channel,
        reply_handle=reply_handle, delivery_key=delivery_key, severity=severity, discovered_at=discovered_at,
        data_kinds=data_kinds, affected_clients=affected_clients, compromised_account=compromised_account,
        drill=drill)
    store = core.batches.setdefault("declare", Batcher(partial(_record_all, core)))
    reply = await store(declaration)
    if reply is None:
        # Declarers are set and this person is not named among them: their user groups are asked of the
        # platform, outside the transaction.
        refused = await refusal(core, actor, drill=drill)
        if refused is not None:
            return refused
        reply = await store(replace(declaration, checked=True))
        assert reply is not None
    return reply


@dataclass(frozen=True)
class Declaration:
    """One `/breach <summary>` (or declare form) on its way into the store."""

    actor: Actor
    summary: str
    key: str
    origin_channel: str | None
    reply_handle: str | None
    delivery_key: str | None
    severity: str
    discovered_at: datetime | None
    data_kinds: tuple[str, ...]
    affected_clients: int | None
    compromised_account: str | None
    drill: bool
    checked: bool = False  # whether this person may declare has been asked of the platform


async def _record_all(core: Core, declarations: list[Declaration]) -> list[Reply | None]:
    """The declarations that arrived together, in one transaction (bot/batching.py), each answered as if alone:
    a new incident, a duplicate of an earlier one (or of one earlier in the same batch), or None, having stored
    nothing, when whether that person may declare depends on the platform."""
    now = core.clock()
    replies: list[Reply | None] = [None] * len(declarations)
    async with core.db.transaction() as session:
        settings = {team: await queries.workspace(session, *team)
                    for team in {(d.actor.platform, d.actor.team_id) for d in declarations}}
        allowed = [i for i, d in enumerate(declarations) if d.checked or _named(d.actor, settings[d.actor.platform,
                                                                                                   d.actor.team_id])]
        await core.db.lock_keys(session, {declarations[i].key for i in allowed})
        earlier = await queries.recent_duplicates(
            session, [(declarations[i].actor.platform, declarations[i].key, declarations[i].delivery_key)
                      for i in allowed], now - DUPLICATE_WINDOW)
        new: list[tuple[int, Incident]] = []
        for i in allowed:
            d = declarations[i]
            before = _latest(earlier, d, now - DUPLICATE_WINDOW)
            if before is not None and not (before.build_status == "incomplete" and not before.channel_id):
                replies[i] = drills.scoped(before, Reply(card=_duplicate_card(before, now)))
                continue
            if before is not None:
                # Its room was never created: build it again rather than record a second incident.
                before.build_status, before.reply_handle = "building", d.reply_handle or before.reply_handle
                replies[i] = drills.scoped(before, Reply(card=views.opening_card(d.summary),
                                                         work=[_builder(core, before.id or 0)]))
                continue
            incident = _incident(d, settings[d.actor.platform, d.actor.team_id], now)
            session.add(incident)
            new.append((i, incident))
            earlier.append(incident)  # a repeat later in this batch is a duplicate of it
        if not new:
            return replies
        await session.flush()
        # The build record exists from the start: should this process stop before building, a sweep finds it.
        # Multi-row INSERTs: a row object per step (or build record) would cost ~0.1 ms each before the
        # acknowledgement.
        await session.execute(sa.insert(RoomBuild), [war_room.first_build(incident, core.build_lease)
                                                     for _, incident in new])
        steps = [(section.key, entry) for section in core.playbook.sections for entry in section.items]
        await session.execute(sa.insert(ChecklistItem), [
            {"incident_id": incident.id, "key": entry.key, "section": section, "position": position,
             "label": entry.label, "state": OPEN}
            for _, incident in new for position, (section, entry) in enumerate(steps)])
        for _, incident in new:
            detail = f"{SEVERITIES[incident.severity]}: {incident.summary}"
            if incident.drill:
                detail = f"Drill (a practice incident, not a real breach). {detail}"
            if not incident.responder_is_designated:
                detail += " (no designated responder: the declarer leads)"
            queries.record(
                session, platform=incident.platform, team_id=incident.team_id, actor=incident.declared_by,
                action="incident.declared", detail=detail, at=now, incident_id=incident.id,
            )
    for i, incident in new:
        assert incident.id is not None
        replies[i] = drills.scoped(incident, Reply(card=views.opening_card(incident.summary),
                                                   work=[_builder(core, incident.id, declared=incident)]))
    return replies


def _named(actor: Actor, settings: Workspace | None) -> bool:
    """May declare without asking the platform: no declarers are set, or this person is named among them."""
    return settings is None or not settings.declarers or actor.user_id in access.named_declarers(settings)


def _latest(candidates: list[Incident], d: Declaration, since: datetime) -> Incident | None:
    """The newest incident this declaration repeats: the same delivery, or the same words from the same person
    since `since`."""
    repeats = [c for c in candidates
               if (c.dedupe_key == d.key and c.declared_at >= since)
               or (d.delivery_key and c.platform == d.actor.platform and c.delivery_key == d.delivery_key)]
    return max(repeats, key=lambda c: (c.id is None, c.id or 0), default=None)


def _incident(d: Declaration, settings: Workspace | None, now: datetime) -> Incident:
    responder = settings.responder_id if settings and settings.responder_id else None
    return Incident(
        platform=d.actor.platform,
        team_id=d.actor.team_id,
        summary=d.summary,
        severity=d.severity,
        declared_by=d.actor.user_id,
        declared_at=now,
        responder_id=responder or d.actor.user_id,
        responder_is_designated=responder is not None,
        backup_id=settings.backup_id if settings else None,
        discovered_at=d.discovered_at,
        data_kinds=list(d.data_kinds),
        affected_clients=d.affected_clients,
        compromised_account=d.compromised_account,
        origin_channel_id=d.origin_channel,
        reply_handle=d.reply_handle,
        dedupe_key=d.key,
        delivery_key=d.delivery_key,
        drill=d.drill,
    )


async def refusal(core: Core, actor: Actor, *, drill: bool = False) -> Reply | None:
    """The answer to someone who may not declare (`/breach declarers`), or None when they may."""
    async with core.db.reading() as session:
        settings = await queries.workspace(session, actor.platform, actor.team_id)
    if await access.may_declare(core, actor, settings):
        return None
    kind = "drill" if drill else "breach"
    return await access.refuse(core, actor, f"declare a {kind}: not among the declarers",
                               access.not_a_declarer(settings, drill=drill))


def _builder(core: Core, incident_id: int, *, declared: Incident | None = None) -> Work:
    async def build(port: ChatPort) -> None:
        await war_room.build(core, incident_id, port, declared=declared)

    return build


def _duplicate_card(earlier: Incident, now: datetime) -> Card:
    if earlier.channel_id:
        return views.note(
            f"You declared this {'drill' if earlier.drill else 'breach'} {age(now - earlier.declared_at)} ago, "
            f"so I did not open a second war room. It is here: {room(earlier.channel_id)}."
        )
    return views.note(
        "That war room is still being opened; the link will follow here in a moment. "
        "No second war room was created."
    )


async def declare_from_form(
    core: Core, actor: Actor, values: Mapping[str, object], *, origin_channel: str | None, drill: bool = False
) -> Reply:
    """Check the form's values (raising FormErrors for the fields to fix), then declare."""
    errors: dict[str, str] = {}
    summary = " ".join(str(values.get("summary") or "").split())
    if not summary:
        errors["summary"] = "Say in a few words what happened."
    severity = str(values.get("severity") or DEFAULT_SEVERITY)
    if severity not in SEVERITIES:
        errors["severity"] = "Choose low, medium, high or critical."
    discovered_at = None
    raw_when = values.get("discovered")
    if raw_when:
        try:
            discovered_at = datetime.fromisoformat(str(raw_when))
        except ValueError:
            errors["discovered"] = "Choose a date and a time."
        else:
            discovered_at = discovered_at if discovered_at.tzinfo else discovered_at.replace(tzinfo=UTC)
            if discovered_at > core.clock():
                errors["discovered"] = "This is in the future: when did you find out?"
    affected = None
    raw_affected = str(values.get("affected") or "").replace(",", "").strip()
    if raw_affected:
        if not re.fullmatch(r"\d{1,9}", raw_affected):
            errors["affected"] = "Enter a whole number, e.g. 120 (a rough guess is fine)."
        else:
            affected = int(raw_affected)
    raw_kinds = values.get("data_kinds") or ()
    kinds = tuple(k for k in (raw_kinds if isinstance(raw_kinds, list | tuple) else ()) if k in DATA_KINDS)
    if errors:
        raise FormErrors(errors)
    compromised = values.get("compromised")
    reply = await declare(
        core, actor, summary, origin_channel=origin_channel, severity=severity,
        discovered_at=discovered_at, data_kinds=kinds, affected_clients=affected,
        compromised_account=str(compromised) if compromised else None, drill=drill,
    )
    reply.room = origin_channel
    return reply
