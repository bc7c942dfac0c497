"""Building a war room: create it, then invite, set the topic, post and pin the checklist, each step kept as
it happens, so that a crashed or failed attempt is finished later by whichever process sweeps first.

An attempt holds a lease on the build (storage.builds); a sweep takes only builds whose lease has run out.
A room whose creation was sent but never answered (the process died) is found again by the name it was
given and adopted, never created twice. After MAX_ATTEMPTS failed attempts the declarer is told what is
missing, to do by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import timedelta

from bot import clocks, drills, views
from bot.cards import Card, Text, mention, room
from bot.core import Core
from bot.domain import SEVERITIES
from bot.grammar import room_slug
from bot.ports import Audience, ChatError, ChatPort, RoomRef
from storage import builds, queries
from storage.builds import DONE, PLANNED, STARTED
from storage.models import Incident, PostedMessage

log = logging.getLogger(__name__)
MAX_NAME_TRIES = 25
MAX_ATTEMPTS = 3
# One platform call may take this long before it counts as failed (the adapters' own limit is the same).
CALL_TIMEOUT = 10.0
STEPS = ("invite", "topic", "checklist", "pin")
# In memory only: the checklist's post is being kept together with the room (`_record_room`).
KEPT = "kept with the room"


def step_names(incident: Incident) -> dict[str, str]:
    people = ", ".join(mention(u) for u in invitees(incident))
    return {
        "create": "create the private channel",
        "invite": f"invite {people}",
        "topic": "set the channel topic",
        "checklist": "post the checklist",
        "pin": "pin the checklist",
    }


def invitees(incident: Incident) -> list[str]:
    """Declarer, responder and backup, each once, in that order."""
    seen: list[str] = []
    for user in (incident.declared_by, incident.responder_id, incident.backup_id):
        if user and user not in seen:
            seen.append(user)
    return seen


def topic(incident: Incident) -> str:
    return (
        f"Severity: {SEVERITIES.get(incident.severity, incident.severity)} · "
        f"Responder: {mention(incident.responder_id)} · Status: {incident.status}"
    )


def names_for(incident: Incident) -> tuple[str, str]:
    """The room's name (`breach-20261127-<slug>`) and its longer title."""
    kind = "drill" if incident.drill else "breach"
    return (f"{kind}-{incident.declared_at:%Y%m%d}-{room_slug(incident.summary)}",
            f"{kind.capitalize()} {incident.declared_at:%Y-%m-%d}: {incident.summary}")


_building: set[int] = set()  # builds this process is running now (a lease that ran out must not start a twin)


def first_build(incident: Incident, lease: timedelta) -> dict[str, object]:
    """The build record (a `RoomBuild` row) stored with a new incident: this process holds the lease from the
    start and the room's name is planned, so that the first attempt sends `create` without a database round
    trip before it."""
    assert incident.id is not None
    return {"incident_id": incident.id, "planned_name": names_for(incident)[0], "steps": {"create": PLANNED},
            "attempts": 0, "lease_until": incident.declared_at + lease, "updated_at": incident.declared_at}


async def build(core: Core, incident_id: int, port: ChatPort, *, declared: Incident | None = None) -> None:
    """One attempt at the war room of `incident_id`, unless another attempt holds the build.

    `declared` is the incident just stored with its `first_build`: its lease is this process's and is renewed
    here, unless a sweep has taken the build since (the attempt started after the lease ran out: a long queue,
    a stalled process). Renewing, not trusting the clock, is what keeps a room from being created twice.
    """
    if incident_id in _building:
        return
    now = core.clock()
    if declared is not None:
        if not await builds.keep(core.db, incident_id, declared.declared_at, now, core.build_lease):
            return
    elif await builds.claim(core.db, incident_id, now, core.build_lease) is None:
        return
    _building.add(incident_id)
    try:
        await _attempt(core, incident_id, port, declared=declared)
    finally:
        _building.discard(incident_id)


async def sweep(core: Core, ports: Mapping[str, ChatPort]) -> int:
    """Finish the builds that a crash or a platform failure left, on this process's platforms."""
    due = await builds.claim_due(core.db, core.clock(), core.build_lease, MAX_ATTEMPTS)
    done = 0
    for incident_id in due:
        async with core.db.reading() as session:
            incident = await queries.incident(session, incident_id)
        port = ports.get(incident.platform) if incident else None
        if port is None or incident_id in _building:
            # Not ours to build: let the lease run out for a process that serves that platform.
            continue
        _building.add(incident_id)
        try:
            await _attempt(core, incident_id, port)
            done += 1
        except Exception:
            log.exception("incident %s: sweeping its war room failed", incident_id)
        finally:
            _building.discard(incident_id)
    return done


async def _call(step: str, call: Awaitable[object]) -> object:
    try:
        return await asyncio.wait_for(call, CALL_TIMEOUT)
    except TimeoutError:
        raise ChatError("timeout", step) from None


async def _attempt(core: Core, incident_id: int, port: ChatPort, *, declared: Incident | None = None) -> None:
    if declared is not None:
        # Nothing has been sent for it yet; its first name was kept with it.
        incident, steps, planned = declared, {}, names_for(declared)[0]
    else:
        async with core.db.reading() as session:
            stored = await queries.incident(session, incident_id)
            assert stored is not None
            build_row = await builds.current(session, incident_id)
        incident, steps = stored, dict(build_row.steps) if build_row else {}
        planned = build_row.planned_name if build_row else None
    port = drills.port_for(incident, port)
    problems: dict[str, str] = {}
    # The checklist is read and drawn while the room is being created, so that it is posted the moment the
    # room exists.
    drawing = asyncio.ensure_future(_draw_checklist(core, incident))
    recorded: asyncio.Future[None] | None = None
    try:
        if not incident.channel_id:
            try:
                created, adopted = await _create(core, incident, port, steps, planned,
                                                 name_kept=declared is not None or steps.get("create") == PLANNED)
            except ChatError as exc:
                await _finish(core, incident, port, {"create": _reason(exc)})
                return
            incident.channel_id, incident.channel_name = created.id, created.name
            if adopted:
                # A stopped attempt created it and may have posted in it too: look before posting.
                steps.setdefault("checklist", STARTED)
            # Kept while the checklist goes out: should this process stop before the room is on record, the
            # next attempt finds the room by its name and the checklist by its text.
            cards = await drawing
            posting = steps.get("checklist") != DONE and cards is not None
            recorded = asyncio.ensure_future(_record_room(core, incident_id, created, checklist=posting))
            if posting:
                steps["checklist"] = steps.get("checklist") or KEPT
        room_id = incident.channel_id
        assert room_id is not None
        await _steps(core, incident, port, steps, problems, await drawing)
    finally:
        drawing.cancel()
        if recorded is not None:
            await recorded
    await _finish(core, incident, port, problems)
    if "checklist" not in problems:
        # The deadline card comes after the checklist: the war room is usable before it is computed.
        await clocks.refresh(core, incident_id, port)


async def _record_room(core: Core, incident_id: int, created: RoomRef, *, checklist: bool) -> None:
    """The room, and (when it is about to go out) that the checklist is being posted, in one transaction: on
    record together or not at all, so a next attempt never posts the checklist twice."""
    async with core.db.transaction() as session:
        stored = await queries.incident(session, incident_id)
        assert stored is not None
        stored.channel_id, stored.channel_name = created.id, created.name
        queries.record(session, platform=stored.platform, team_id=stored.team_id, actor="breachroom",
                       action="room.opened", detail=f"#{created.name}", at=core.clock(), incident_id=incident_id)
        await builds.record_steps(session, incident_id, {"create": DONE, **({"checklist": STARTED} if checklist
                                                                          else {})}, core.clock(), core.build_lease)


async def _draw_checklist(core: Core, incident: Incident) -> list[Card] | None:
    """The checklist's cards, or None when an earlier attempt has posted them already."""
    assert incident.id is not None
    async with core.db.reading() as session:
        if _checklist_messages(core, await queries.messages(session, incident.id)):
            return None
        items = await queries.items(session, incident.id)
    return views.checklist_cards(incident, items, core.playbook)


async def _steps(core: Core, incident: Incident, port: ChatPort, steps: dict[str, str], problems: dict[str, str],
                 cards: list[Card] | None) -> None:
    """Invite, topic, and checklist-then-pin, at once; each outcome kept as it comes."""
    incident_id, room_id = incident.id, incident.channel_id
    assert incident_id is not None and room_id is not None

    async def step(name: str, call: Awaitable[object]) -> None:
        try:
            await _call(name, call)
        except ChatError as exc:
            problems[exc.step if exc.step in STEPS else name] = _reason(exc)
            await builds.record_step(core.db, incident_id, exc.step if exc.step in STEPS else name,
                                     f"failed: {exc.code}", core.clock(), core.build_lease)
            return
        await builds.record_step(core.db, incident_id, name, DONE, core.clock(), core.build_lease)

    async def checklist_then_pin() -> None:
        if steps.get("checklist") != DONE and cards is not None:
            before = len(problems)
            # An earlier attempt that tried may have posted without hearing back: look before posting again.
            tried = steps.get("checklist") not in (None, KEPT)
            await step("checklist", _post_checklist(core, incident, port, cards, tried, steps.get("checklist") == KEPT))
            if len(problems) > before:
                return
        if steps.get("pin") != DONE:
            await step("pin", _pin_checklist(core, incident, port))

    work = [checklist_then_pin()]
    if steps.get("invite") != DONE:
        work.append(step("invite", port.invite(room_id, invitees(incident))))
    if steps.get("topic") != DONE:
        work.append(step("topic", port.set_topic(room_id, topic(incident))))
    await asyncio.gather(*work)


async def _create(core: Core, incident: Incident, port: ChatPort, steps: Mapping[str, str],
                  planned: str | None, *, name_kept: bool) -> tuple[RoomRef, bool]:
    """Adopt the room a crashed attempt created (found by its name), or create it, trying -2, -3 … if taken;
    says whether the room was adopted. `name_kept`: the first name is on record already (with the incident)."""
    assert incident.id is not None
    if steps.get("create") in (STARTED, PLANNED) and planned:  # it may have been sent and never answered
        found = await _call("create", port.find_room(planned))
        if isinstance(found, RoomRef) and not await _room_of_another(core, incident.id, found.id):
            log.info("incident %s: adopted the war room a stopped attempt had created", incident.id)
            return found, True
    base, title = names_for(incident)
    for attempt in range(1, MAX_NAME_TRIES + 1):
        name = base if attempt == 1 else f"{base}-{attempt}"
        if not (attempt == 1 and name_kept and planned == name):
            # Kept before the call: if the answer never arrives, the next attempt looks for this name. (The
            # first name was kept with the incident itself.)
            await builds.record_step(core.db, incident.id, "create", STARTED, core.clock(), core.build_lease,
                                     planned_name=name)
        try:
            created = await _call("create", port.open_private_room(name, title=title, members=invitees(incident),
                                                                   near=incident.origin_channel_id))
        except ChatError as exc:
            if exc.code != "name_taken":
                raise
            continue
        assert isinstance(created, RoomRef)
        return created, False
    raise ChatError("name_taken", "create")


async def _room_of_another(core: Core, incident_id: int, room_id: str) -> bool:
    """A room found by name that another incident already has (the same summary, the same day) is not ours."""
    async with core.db.reading() as session:
        return await queries.incident_of_room(session, room_id, other_than=incident_id) is not None


def _reason(exc: ChatError) -> str:
    """The platform's code, and what would fix it when the adapter knows (kept in the record as well)."""
    return f"{exc.code}. {exc.advice}" if exc.advice else exc.code


async def _post_checklist(core: Core, incident: Incident, port: ChatPort, cards: list[Card],
                          uncertain: bool, kept: bool) -> None:
    """Post the checklist (drawn by `_draw_checklist`, which found it not on record), unless an earlier attempt
    that never heard the answer (`uncertain`) did: then its messages are found in the room by their text.

    That it is being posted is kept first, or (`kept`) with the room itself by `_record_room`, which may still
    be on its way: should this process stop before it is on record, the room is not on record either, and the
    next attempt adopts the room and looks for the checklist before posting it again."""
    assert incident.id is not None and incident.channel_id is not None
    message_ids = await _posted_before(port, incident.channel_id, cards) if uncertain else None
    if message_ids is None:
        if not kept:
            await builds.record_step(core.db, incident.id, "checklist", STARTED, core.clock(), core.build_lease)
        message_ids = await port.post_cards(incident.channel_id, cards)
    groups: dict[str, list[str]] = {}
    for card, message_id in zip(cards, message_ids, strict=True):
        groups.setdefault(message_id, []).append(card.key)
    async with core.db.transaction() as session:
        for message_id, keys in groups.items():
            session.add(PostedMessage(incident_id=incident.id, channel_id=incident.channel_id,
                                      message_id=message_id, card_keys=keys))


def _checklist_messages(core: Core, messages: Sequence[PostedMessage]) -> list[PostedMessage]:
    """The checklist's messages, in order (not the deadline card or anything else posted in the room)."""
    keys = {views.INTRO, views.ACTIONS, *(section.key for section in core.playbook.sections)}
    return [m for m in messages if m.card_keys and set(m.card_keys) <= keys]


async def _posted_before(port: ChatPort, room_id: str, cards: list[Card]) -> list[str] | None:
    """The message ids of a checklist posted by an attempt that never heard back, or None if it is not there.

    A platform packs consecutive cards into one message whose text is its first card's: a card whose text is
    not found shares the message of the card before it.
    """
    ids: list[str] = []
    for card in cards:
        found = await port.find_message(room_id, card.fallback)
        if found is None and not ids:
            return None
        ids.append(found or ids[-1])
    return ids


async def _pin_checklist(core: Core, incident: Incident, port: ChatPort) -> None:
    assert incident.id is not None and incident.channel_id is not None
    async with core.db.reading() as session:
        posted = _checklist_messages(core, await queries.messages(session, incident.id))
    if not posted or posted[0].pinned:
        return
    first = posted[0].message_id
    try:
        await port.pin(incident.channel_id, first)
    except ChatError as exc:
        raise ChatError(exc.code, "pin", exc.advice) from None
    async with core.db.transaction() as session:
        for message in await queries.messages(session, incident.id or 0):
            if message.message_id == first:
                message.pinned = True


async def _finish(core: Core, incident: Incident, port: ChatPort, problems: dict[str, str]) -> None:
    """Store how the attempt ended and tell the declarer: ready, trying again, or what to do by hand."""
    assert incident.id is not None
    now = core.clock()
    # A call that timed out may still land: the next attempt looks for its effect only after it could have.
    timed_out = any(reason.startswith("timeout") for reason in problems.values())
    retry_in = max(core.build_retry, timedelta(seconds=2 * CALL_TIMEOUT)) if timed_out else core.build_retry
    attempts = await builds.end_attempt(core.db, incident.id, failed=bool(problems), now=now, retry_in=retry_in)
    async with core.db.transaction() as session:
        stored = await queries.incident(session, incident.id)
        assert stored is not None
        was_incomplete = stored.build_status == "incomplete"
        stored.build_status = "incomplete" if problems else "ready"
        stored.build_problems = [f"{name}: {code}" for name, code in problems.items()]
        queries.record(session, platform=stored.platform, team_id=stored.team_id, actor="breachroom",
                       action="room.incomplete" if problems else "room.ready",
                       detail="; ".join(stored.build_problems), at=now, incident_id=stored.id)
    if problems:
        log.warning("incident %s: war room incomplete after attempt %s (%s)", incident.id, attempts,
                    ", ".join(stored.build_problems))
        if 1 < attempts < MAX_ATTEMPTS:
            return  # told after the first attempt; told again when it is given up
        card = incomplete_card(incident, problems, step_names(incident), final=attempts >= MAX_ATTEMPTS)
    else:
        card = views.declared_card(incident)
        if was_incomplete:
            card = Card(fallback=card.fallback, parts=(Text("Every step of your war room is done now."),
                                                       *card.parts))
    audience = Audience(incident.declared_by, incident.origin_channel_id, incident.reply_handle)
    try:
        await port.tell(audience, card)
    except ChatError as exc:
        log.error("incident %s: could not tell the declarer (%s)", incident.id, exc.code)


def _failure(step: str, reason: str) -> str:
    code, _, advice = reason.partition(". ")
    line = f"• I could not {step} (the platform said `{code}`)."
    return f"{line} {advice}" if advice else line


def incomplete_card(incident: Incident, problems: dict[str, str], steps: dict[str, str], *,
                    final: bool = True) -> Card:
    failed = "\n".join(_failure(steps.get(name, name), code) for name, code in problems.items())
    if incident.channel_id:
        head = f"Your war room {room(incident.channel_id)} is open, but some steps did not finish:"
        tail = ("Please do these by hand; the incident and its checklist are recorded." if final else
                "I will try again in a minute, and tell you if it still fails. The incident and its checklist "
                "are recorded.")
    else:
        head = "I could not open the war room for your breach:"
        tail = (f"The incident is recorded as number {incident.id}. Try `/breach` again in a minute, "
                "or create a private channel by hand and invite your responder." if final else
                f"The incident is recorded as number {incident.id}. I will try again in a minute, and tell you "
                "if it still fails.")
    return Card(fallback=head, parts=(Text(f"{head}\n{failed}\n{tail}"),))
