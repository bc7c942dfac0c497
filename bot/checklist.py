"""Pressing a checklist button, and keeping the posted checklist in step with the store."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col

from bot import access, clocks, drills, views
from bot.cards import mention
from bot.core import Core, Reply
from bot.domain import DONE, OPEN, Actor, parse_id, when
from bot.ports import Audience, ChatError, ChatPort
from storage import queries
from storage.models import ChecklistItem, Incident, PostedMessage

log = logging.getLogger(__name__)


def parse_value(value: str) -> tuple[int, str, str] | None:
    """`incident-id:item-key:target-state`, or None when the button is not one of ours."""
    parts = value.split(":")
    incident_id = parse_id(parts[0])
    if len(parts) != 3 or incident_id is None or parts[2] not in (DONE, OPEN):
        return None
    return incident_id, parts[1], parts[2]


async def press(core: Core, actor: Actor, value: str, *, channel_id: str | None = None) -> Reply:
    """Set an item to the state its button names; a press that changes nothing records nothing."""
    parsed = parse_value(value)
    if parsed is None:
        return Reply(card=views.note("That button is out of date. Use the pinned checklist in the war room."))
    incident_id, key, target = parsed
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
        item = await queries.item(session, incident_id, key)
    if incident is not None and item is not None and incident.team_id == actor.team_id \
            and not await access.in_room(core, actor, incident):
        verb = "done" if target == DONE else "not done"
        return await access.refuse(core, actor, f"mark “{item.label}” {verb}: not in the war room",
                                   access.not_in_room(incident, "mark checklist steps"), incident=incident)
    now = core.clock()
    async with core.db.transaction() as session:
        incident = await queries.incident(session, incident_id)
        item = await queries.item(session, incident_id, key)
        if incident is None or item is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that checklist step any more."))
        assert item.id is not None
        seen = incident.timeline_count
        changed = await queries.set_item_state(session, item.id, target, actor.user_id, now)
        snapshot = None
        if changed:
            queries.record(
                session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                action="item.done" if target == DONE else "item.reopened",
                detail=item.label, at=now, incident_id=incident_id,
            )
            # What the checklist looks like with this press, read in its own transaction: the message is
            # updated from it without reading the store again.
            snapshot = Snapshot(incident, await queries.items(session, incident_id),
                                await queries.messages(session, incident_id))
        else:
            await session.refresh(item)
    if snapshot is not None and incident.timeline_count != seen + 1:
        # Another change to this incident committed while this one read: the snapshot may miss it.
        snapshot = None
    section = item.section

    async def refresh(port: ChatPort) -> None:
        await refresh_checklist(core, incident_id, port, sections={section}, snapshot=snapshot)

    reply = Reply(work=[refresh])
    if not changed and item.changed_by and item.changed_by != actor.user_id and item.changed_at:
        verb = "marked done" if item.state == DONE else "reopened"
        text = f"{mention(item.changed_by)} already {verb} this step at {when(item.changed_at)}; nothing changed."
        audience = Audience(actor.user_id, channel_id)

        async def tell(port: ChatPort) -> None:
            await port.tell(audience, views.note(text))

        reply.work.append(tell)
    return drills.scoped(incident, reply)


@dataclass(frozen=True)
class Snapshot:
    """An incident, its checklist and its posted messages as one transaction committed them.

    The incident's timeline count (set at the commit, in commit order) says which of two snapshots is newer.
    """

    incident: Incident
    items: Sequence[ChecklistItem]
    messages: Sequence[PostedMessage]


async def refresh_checklist(core: Core, incident_id: int, port: ChatPort, *, sections: set[str],
                            snapshot: Snapshot | None = None) -> None:
    """Re-render each posted message that holds one of these sections, from `snapshot` or from the store.

    Two refreshes of one message never interleave (`core.message_locks`), and one never draws an older state
    over a newer one it follows (`core.drawn`): each message remembers the timeline count it was drawn at.
    """
    if snapshot is None:
        async with core.db.reading() as session:
            posted = await queries.messages(session, incident_id)
    else:
        posted = snapshot.messages
    for message in posted:
        if not sections & set(message.card_keys):
            continue
        async with core.message_locks[message.message_id]:
            if snapshot is not None:
                incident, items = snapshot.incident, snapshot.items
                if core.drawn.get(message.message_id, -1) >= incident.timeline_count:
                    continue  # a newer state is already on screen
            else:
                async with core.db.reading() as session:
                    found = await queries.incident(session, incident_id)
                    items = await queries.items(session, incident_id)
                if found is None:
                    return
                incident = found
            cards = {card.key: card for card in views.checklist_cards(incident, items, core.playbook)}
            try:
                await drills.port_for(incident, port).update_cards(
                    message.channel_id, message.message_id, [cards[k] for k in message.card_keys if k in cards]
                )
            except ChatError as exc:
                # The change is recorded; the message catches up when the platform answers again.
                log.warning("incident %s: checklist update failed (%s); it will be retried", incident_id, exc.code)
                await _mark_stale(core, message.id, True)
                continue
            core.drawn[message.message_id] = max(core.drawn.get(message.message_id, -1), incident.timeline_count)
            if message.stale:
                await _mark_stale(core, message.id, False)


async def _mark_stale(core: Core, message_id: int | None, stale: bool) -> None:
    async with core.db.transaction() as session:
        await session.execute(sa.update(PostedMessage).where(col(PostedMessage.id) == message_id)
                              .values(stale=stale))


async def catch_up(core: Core, ports: Mapping[str, ChatPort]) -> int:
    """Render again every checklist message whose last update failed (a platform outage, rate limits), and the
    deadline card's (bot/clocks.py renders that one)."""
    async with core.db.reading() as session:
        rows = (await session.execute(
            sa.select(PostedMessage, Incident.platform)
            .join(Incident, col(Incident.id) == col(PostedMessage.incident_id))
            .where(col(PostedMessage.stale).is_(True)))).all()
    done = 0
    for message, platform in rows:
        port = ports.get(platform)
        if port is None:
            continue
        if clocks.CLOCKS in message.card_keys:
            await clocks.refresh(core, message.incident_id, port)
        else:
            await refresh_checklist(core, message.incident_id, port, sections=set(message.card_keys))
        done += 1
    return done
