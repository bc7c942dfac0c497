"""The client notice in the war room: versioned drafts, approval by the responder, change requests."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from bot import access, drills, incident_facts, notice_facts, outbox, views
from bot.cards import Button, Buttons, Card, Context, Form, FormErrors, FormField, Header, Text, mention
from bot.checklist import refresh_checklist
from bot.core import Core, Reply
from bot.domain import DONE, Actor, parse_id, when
from bot.notices.draft import NoticeTemplateError, as_exercise, placeholders, render_markdown
from bot.notices.facts import FactsError, parse_facts
from bot.ports import Attachment, ChatPort
from storage import queries
from storage.db import Database
from storage.models import ChecklistItem, Incident, NoticeDraft

log = logging.getLogger(__name__)
NOTICE_DRAFT = views.NOTICE_DRAFT
APPROVE = "notice.approve"
CHANGES_OPEN = "notice.changes"
CHANGES_SUBMIT = "notice.changes.submit"
# What the notice owes the war room (bot/outbox.py), rendered from the draft when posted (refs: the draft's id; for a
# change request, [draft id, who asked] as JSON): its files, its card, the approval, a change request.
FILES_POST, CARD_POST, APPROVED_POST, CHANGES_POST = ("notice.files", "notice.card", "notice.approved",
                                                      "notice.changes_requested")

async def draft(core: Core, actor: Actor, incident_id: int) -> Reply:
    """Render a new version from the facts as they are now; keep it; share .docx and .md in the room. For the
    people in the war room (bot/access.py)."""
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is None or incident.team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    if not await access.in_room(core, actor, incident):
        return await access.refuse(core, actor, "draft the client notice: not in the war room",
                                   access.not_in_room(incident, "draft the client notice"), incident=incident)
    return drills.scoped(incident, await _draft(core, actor, incident))


async def _draft(core: Core, actor: Actor, incident: Incident) -> Reply:
    incident_id = incident.id or 0
    raw = await incident_facts.raw_facts(core, incident)
    today = core.clock().date()
    try:
        facts = parse_facts(raw)
        markdown = await asyncio.to_thread(render_markdown, facts, notice_date=today,
                                           templates_dir=core.templates_dir)
        if incident.drill:
            markdown = as_exercise(markdown)
        from bot.notices.word import markdown_to_docx  # python-docx is loaded when a letter is first made

        document = await asyncio.to_thread(markdown_to_docx, markdown)
    except FactsError as exc:
        return Reply(card=views.note(f"The notice facts need fixing first: {exc}. Press **Notice facts**."))
    except NoticeTemplateError as exc:
        # Only where (file, line): what a template raised may quote the facts; the war room shows the whole message.
        log.error("incident %s: notice template error at %s", incident_id, str(exc).partition(": ")[0])
        return Reply(card=views.note(f"The notice template cannot be used ({exc}). Ask whoever set "
                                     "BREACHROOM_TEMPLATES to fix it; the facts are kept."))
    missing = placeholders(markdown)
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"notice:{incident_id}")
        latest = (await session.execute(
            sa.select(sa.func.max(NoticeDraft.version)).where(NoticeDraft.incident_id == incident_id))).scalar()
        version = (latest or 0) + 1
        row = NoticeDraft(incident_id=incident_id, version=version, created_by=actor.user_id, created_at=now,
                          facts=raw, markdown=markdown, docx=document, missing=missing)
        session.add(row)
        await session.flush()
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.drafted", detail=f"v{version}, {len(missing)} facts to confirm",
                       at=now, incident_id=incident_id)
        # Owed with the draft, so that they reach the room even if the platform is down now: the files, then the
        # card that points at them.
        room_id = outbox.owe(session, incident, FILES_POST, row.id or 0, now=now)
        outbox.owe(session, incident, CARD_POST, row.id or 0, now=now)
    return Reply(card=views.note(f"Client notice v{version} drafted: it is in the war room."),
                 work=[outbox.poster(core, incident.platform, room_id)])


async def _stored_draft(core: Core, ref: str | int) -> NoticeDraft | None:
    async with core.db.reading() as session:
        return await session.get(NoticeDraft, int(ref))


@outbox.renders(FILES_POST)
async def _files_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    """The draft as Word and Markdown files; the ids the platform gives them are kept on the draft."""
    row = await _stored_draft(core, ref)
    if row is None:
        return None
    base = f"client-notice-incident-{incident.id}-v{row.version}"

    async def keep(ids: list[str]) -> None:
        async with core.db.transaction() as session:
            stored = await session.get(NoticeDraft, row.id)
            if stored is not None:
                stored.file_ids = ids

    files = (Attachment(f"{base}.docx", row.docx, f"Client notice v{row.version} (Word)"),
             Attachment(f"{base}.md", row.markdown.encode(), f"Client notice v{row.version} (Markdown)"))
    return outbox.Post(files=files, comment=f"Client notice draft v{row.version} for incident {incident.id}.",
                       posted=keep)


@outbox.renders(CARD_POST)
async def _card_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    row = await _stored_draft(core, ref)
    return outbox.Post(cards=(draft_card(incident, row),)) if row else None


@outbox.renders(APPROVED_POST)
async def _approved_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    row = await _stored_draft(core, ref)
    if row is None or row.decided_by is None:
        return None
    return outbox.Post(cards=(views.note(
        f"{mention(row.decided_by)} approved client notice v{row.version}. Send it to the affected clients "
        "now: every day of waiting leaves them exposed."),))


@outbox.renders(CHANGES_POST)
async def _changes_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    draft_id, user_id = json.loads(ref)
    row = await _stored_draft(core, draft_id)
    if row is None or not row.decision_note:
        return None
    return outbox.Post(cards=(views.note(
        f"{mention(user_id)} asked for changes to client notice v{row.version}:\n{row.decision_note}"),))


def draft_card(incident: Incident, row: NoticeDraft) -> Card:
    parts: list = [Header(f"Client notice v{row.version}"),
                   Text(f"Drafted by {mention(row.created_by)} · {when(row.created_at)}. "
                        "The Word and Markdown files are shared in this room.")]
    if row.missing:
        shown = "\n".join(f"• {m[:200]}" for m in row.missing[:15])
        more = f"\n… and {len(row.missing) - 15} more" if len(row.missing) > 15 else ""
        parts.append(Text(f"**Still to confirm ({len(row.missing)})**, shown as `[TO CONFIRM: …]` "
                          f"in the letter:\n{shown}{more}"))
    else:
        parts.append(Text("**Every fact is filled in.** Read it once more, then approve it."))
    parts.append(Buttons((
        Button("Approve", APPROVE, str(row.id), "primary"),
        Button("Request changes", CHANGES_OPEN, str(row.id)),
        Button("Notice facts", views.NOTICE_FACTS, str(incident.id)),
    )))
    leads = " or ".join(mention(u) for u in (incident.responder_id, incident.backup_id) if u)
    parts.append(Context(f"Only {leads} (or a workspace admin) can approve. Every version is kept; a new draft "
                         "never replaces one."))
    return Card(fallback=f"Client notice v{row.version}", parts=tuple(parts), key="notice")


async def approve(core: Core, actor: Actor, value: str) -> Reply:
    """Only the responder or the backup; only the latest version; never with facts still to confirm."""
    draft_id = parse_id(value)
    if draft_id is None:
        return Reply(card=views.note("That button is out of date."))
    async with core.db.reading() as session:
        row = await session.get(NoticeDraft, draft_id)
        incident = await queries.incident(session, row.incident_id) if row else None
    if row is not None and incident is not None and incident.team_id == actor.team_id \
            and not await access.is_lead(core, actor, incident):
        return await access.refuse(
            core, actor, f"approve client notice v{row.version}: not the responder, backup or an admin",
            access.not_a_lead(incident, "approve the client notice") + " Ask them to read it and press Approve.",
            incident=incident)
    incident, reply = await _approve(core, actor, draft_id)
    return drills.scoped(incident, reply)


async def _approve(core: Core, actor: Actor, draft_id: int) -> tuple[Incident | None, Reply]:
    now = core.clock()
    ticked: list[ChecklistItem] = []
    async with core.db.transaction() as session:
        row = await session.get(NoticeDraft, draft_id)
        incident = await queries.incident(session, row.incident_id) if row else None
        if row is None or incident is None or incident.team_id != actor.team_id:
            return None, Reply(card=views.note("I can't find that draft any more."))
        latest = (await session.execute(sa.select(sa.func.max(NoticeDraft.version))
                                        .where(NoticeDraft.incident_id == incident.id))).scalar()
        if row.version != latest:
            return incident, Reply(card=views.note(f"v{row.version} is not the latest draft (v{latest} is). "
                                                   "Approve the latest one."))
        if row.missing:
            return incident, Reply(card=views.note(
                f"v{row.version} still has {len(row.missing)} facts to confirm. Fill them in with **Notice "
                "facts**, draft again, then approve."))
        result = await session.execute(
            sa.update(NoticeDraft).where(col(NoticeDraft.id) == row.id, col(NoticeDraft.status) != "approved")
            .values(status="approved", decided_by=actor.user_id, decided_at=now))
        if result.rowcount != 1:
            return incident, Reply(card=views.note(f"v{row.version} is already approved."))
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.approved", detail=f"v{row.version}", at=now, incident_id=incident.id)
        auto = {i.key for s in core.playbook.sections for i in s.items if i.done_when == "notice-approved"}
        for item in await queries.items(session, incident.id or 0):
            if item.key in auto and await queries.set_item_state(session, item.id or 0, DONE, actor.user_id, now):
                ticked.append(item)
                queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                               action="item.done", detail=f"{item.label} (by approving notice v{row.version})",
                               at=now, incident_id=incident.id)
        room_id = outbox.owe(session, incident, APPROVED_POST, row.id or 0, now=now)
    incident_id, version, platform = incident.id or 0, row.version, incident.platform
    sections = {i.section for i in ticked}

    async def announce(port: ChatPort) -> None:
        await outbox.poster(core, platform, room_id)(port)
        if sections:
            await refresh_checklist(core, incident_id, port, sections=sections)

    return incident, Reply(card=views.note(f"Client notice v{version} approved."), work=[announce])


async def _outsider(core: Core, actor: Actor, draft_id: int, doing: str) -> Reply | None:
    """The refusal when `actor` is not in the war room of the draft's incident; None when they may go on (or the
    draft is not theirs to find, which the use case says)."""
    async with core.db.reading() as session:
        row = await session.get(NoticeDraft, draft_id)
        incident = await queries.incident(session, row.incident_id) if row else None
    if row is None or incident is None or incident.team_id != actor.team_id \
            or await access.in_room(core, actor, incident):
        return None
    return await access.refuse(core, actor, f"{doing} v{row.version}: not in the war room",
                               access.not_in_room(incident, "request changes to the client notice"),
                               incident=incident)


async def changes_form(core: Core, actor: Actor, value: str) -> Reply:
    """The **Request changes** form, for the people in the war room (others are told so before typing)."""
    draft_id = parse_id(value)
    if draft_id is None:
        return Reply(card=views.note("That button is out of date."))
    refused = await _outsider(core, actor, draft_id, "open the change request form of client notice")
    return refused or Reply(form=notice_changes_form(draft_id))


async def request_changes(core: Core, actor: Actor, value: str, values: Mapping[str, object]) -> Reply:
    """Ask for changes to a draft: for the people in the war room; an approved draft stays approved."""
    what = notice_facts.text_value(values, "changes")
    if not what:
        raise FormErrors({"changes": "Say what should change."})
    draft_id = parse_id(value)
    if draft_id is None:
        return Reply(card=views.note("That form is out of date."))
    refused = await _outsider(core, actor, draft_id, "request changes to client notice")
    if refused is not None:
        return refused
    now = core.clock()
    async with core.db.transaction() as session:
        row = await session.get(NoticeDraft, draft_id)
        incident = await queries.incident(session, row.incident_id) if row else None
        if row is None or incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that draft any more."))
        if row.status == "approved":
            return drills.scoped(incident, Reply(card=views.note(
                f"v{row.version} is already approved; draft a new version instead.")))
        row.status, row.decided_by, row.decided_at, row.decision_note = "changes_requested", actor.user_id, now, what
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.changes_requested", detail=f"v{row.version}: {what}", at=now,
                       incident_id=incident.id)
        room_id = outbox.owe(session, incident, CHANGES_POST, json.dumps([row.id, actor.user_id]), now=now)
    return drills.scoped(incident, Reply(work=[outbox.poster(core, incident.platform, room_id)],
                                         room=incident.channel_id))


async def versions(db: Database, incident_id: int) -> list[NoticeDraft]:
    async with db.reading() as session:
        result = await session.execute(sa.select(NoticeDraft).where(NoticeDraft.incident_id == incident_id)
                                       .order_by(col(NoticeDraft.version)))
        return list(result.scalars().all())


def version_lines(rows: Sequence[NoticeDraft], person: Callable[[str], str] = mention) -> list[str]:
    """`v2: drafted by @{U2}, 3 Mar 2026, 09:00 UTC; approved by @{U1}, …`, one per version."""
    lines = []
    for row in rows:
        line = f"v{row.version}: drafted by {person(row.created_by)}, {when(row.created_at)}"
        if row.status == "approved" and row.decided_by and row.decided_at:
            line += f"; approved by {person(row.decided_by)}, {when(row.decided_at)}"
        elif row.status == "changes_requested" and row.decided_by:
            line += f"; changes requested by {person(row.decided_by)}: {row.decision_note or ''}"
        lines.append(line)
    return lines


def notified_at(rows: Sequence[NoticeDraft]) -> datetime | None:
    """Clients count as notified from the first approval of a notice."""
    approved = [r.decided_at for r in rows if r.status == "approved" and r.decided_at]
    return min(approved) if approved else None


def notice_changes_form(draft_id: int) -> Form:
    return Form(title="Request changes", submit="Send", action=CHANGES_SUBMIT, value=str(draft_id),
                fields=(FormField("changes", "What should change in this draft?", "multiline", max_length=3000),))
