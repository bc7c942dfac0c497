"""The client notice in the war room: its facts, versioned drafts, and approval by the responder."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from bot import views
from bot.cards import Button, Buttons, Card, Context, Form, FormErrors, FormField, Header, Option, Text, mention
from bot.checklist import refresh_checklist
from bot.core import Core, Reply
from bot.domain import DATA_KINDS, DONE, Actor, when
from bot.notices.draft import NoticeTemplateError, placeholders, render_markdown
from bot.notices.facts import FactsError, parse_facts
from bot.notices.word import markdown_to_docx
from bot.playbook import Playbook
from bot.ports import Attachment, ChatError, ChatPort
from storage import queries
from storage.db import Database
from storage.models import ChecklistItem, Incident, NoticeDraft, Workspace

log = logging.getLogger(__name__)
NOTICE_DRAFT = views.NOTICE_DRAFT
FACTS_OPEN = views.NOTICE_FACTS
FACTS_SUBMIT = "notice.facts.submit"
APPROVE = "notice.approve"
CHANGES_OPEN = "notice.changes"
CHANGES_SUBMIT = "notice.changes.submit"
STORY_LIMIT = 5000

# Form field → where its value lives in the facts (a dotted key of the facts file).
COMPANY_FIELDS = {
    "company_name": ("name", "Company name"),
    "contact_name": ("contact_name", "Contact person"),
    "phone": ("phone", "Phone"),
    "toll_free_phone": ("toll_free_phone", "Toll-free phone (needed when health data is involved)"),
    "email": ("email", "Email (also the From of the letters)"),
    "website": ("website", "Website"),
    "postal_address": ("postal_address", "Postal address"),
}
PROTECTION_FIELDS = {
    "ip_provider": ("provider", "Identity protection provider (leave empty if none is offered)"),
    "ip_months": ("months", "Months of identity protection"),
    "ip_url": ("enrollment_url", "Enrolment website"),
    "ip_code": ("enrollment_code", "Enrolment code"),
    "ip_enroll_by": ("enroll_by", "Enrol by"),
}
_FIELD_OF_KEY = {
    "what_happened": "what_happened", "breach_started_at": "breach_started_at",
    "breach_ended_at": "breach_ended_at", "discovered_at": "discovered", "data_categories": "data_categories",
    "affected_total": "affected_total", "affected_by_region": "regions", "actions_taken": "actions_taken",
    "law_enforcement_delay": "le_until",
    **{f"company.{key}": field for field, (key, _) in COMPANY_FIELDS.items()},
    **{f"identity_protection.{key}": field for field, (key, _) in PROTECTION_FIELDS.items()},
}
_REGION = re.compile(r"([A-Za-z]{2}(?:-[A-Za-z0-9]{1,3})?)\s*[:=]?\s*(\d[\d,]*)")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def done_sentences(items: Sequence[ChecklistItem], playbook: Playbook) -> list[str]:
    """What the company has done, in the letter's words, from the checklist steps already done."""
    sentences = {i.key: i.notice for s in playbook.sections for i in s.items if i.notice}
    return [sentences[i.key] for i in items if i.state == DONE and i.key in sentences]


def assemble(incident: Incident, company: Mapping[str, Any], items: Sequence[ChecklistItem],
             playbook: Playbook) -> dict[str, Any]:
    """The facts file of this incident: typed notice facts first, then what the war room already knows."""
    facts: dict[str, Any] = {k: v for k, v in incident.notice_facts.items() if v not in (None, "", [], {})}
    facts.setdefault("what_happened", incident.summary[:STORY_LIMIT])
    if incident.discovered_at:
        facts["discovered_at"] = _iso(incident.discovered_at)
    facts["data_categories"] = list(incident.data_kinds)
    if incident.affected_clients is not None:
        facts["affected_total"] = incident.affected_clients
    if "actions_taken" not in facts:
        facts["actions_taken"] = done_sentences(items, playbook)
    facts["company"] = {k: v for k, v in company.items() if v not in (None, "")}
    return facts


async def _load(core: Core, incident_id: int) -> tuple[Incident, Workspace | None, Sequence[ChecklistItem]] | None:
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
        if incident is None:
            return None
        settings = await queries.workspace(session, incident.platform, incident.team_id)
        items = await queries.items(session, incident_id)
    return incident, settings, items


def _date_only(value: object) -> str | None:
    return str(value)[:10] if value else None


async def facts_form(core: Core, actor: Actor, incident_id: int) -> Reply:
    """The "Notice facts" form, pre-filled with everything already known."""
    loaded = await _load(core, incident_id)
    if loaded is None or loaded[0].team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    incident, settings, items = loaded
    raw = assemble(incident, settings.company if settings else {}, items, core.playbook)
    return Reply(form=notice_facts_form(incident.id or 0, _facts_initials(raw)))


def _facts_initials(raw: Mapping[str, Any]) -> dict[str, Any]:
    regions = ", ".join(f"{code} {count}" for code, count in (raw.get("affected_by_region") or {}).items())
    protection = raw.get("identity_protection") or {}
    delay = raw.get("law_enforcement_delay") or {}
    initial: dict[str, Any] = {
        "what_happened": raw.get("what_happened"),
        "breach_started_at": _date_only(raw.get("breach_started_at")),
        "breach_ended_at": _date_only(raw.get("breach_ended_at")),
        "discovered": raw.get("discovered_at"),
        "data_categories": tuple(raw.get("data_categories") or ()),
        "affected_total": str(raw["affected_total"]) if raw.get("affected_total") is not None else None,
        "regions": regions or None,
        "actions_taken": "\n".join(raw.get("actions_taken") or ()) or None,
        "le_until": _date_only(delay.get("until")),
        "le_requested_by": delay.get("requested_by"),
    }
    initial |= {field: (raw.get("company") or {}).get(key) for field, (key, _) in COMPANY_FIELDS.items()}
    initial |= {field: protection.get(key) for field, (key, _) in PROTECTION_FIELDS.items()}
    initial["ip_months"] = str(initial["ip_months"]) if initial.get("ip_months") else None
    initial["ip_enroll_by"] = _date_only(initial.get("ip_enroll_by"))
    return {k: v for k, v in initial.items() if v not in (None, "", ())}


def _text(values: Mapping[str, object], name: str) -> str | None:
    value = values.get(name)
    text = str(value).strip() if value is not None else ""
    return text or None


async def submit_facts(core: Core, actor: Actor, value: str, values: Mapping[str, object]) -> Reply:
    """Check the facts exactly as a facts file is checked; store them; errors go next to their fields."""
    if not value.isdigit():
        return Reply(card=views.note("That form is out of date. Press Notice facts again."))
    incident_id = int(value)
    errors: dict[str, str] = {}
    regions: dict[str, int] = {}
    region_text = _text(values, "regions")
    if region_text:
        found = _REGION.findall(region_text)
        if not found:
            errors["regions"] = "Write codes and counts, e.g. US-CA 812, DE 40."
        regions = {code.upper(): int(count.replace(",", "")) for code, count in found}
    affected = _text(values, "affected_total")
    if affected and not affected.replace(",", "").isdigit():
        errors["affected_total"] = "Enter a whole number, e.g. 120."
    months = _text(values, "ip_months")
    if months and not months.isdigit():
        errors["ip_months"] = "Enter a number of months, e.g. 24."
    if errors:
        raise FormErrors(errors)
    company = {key: _text(values, field) for field, (key, _) in COMPANY_FIELDS.items()}
    protection = {key: _text(values, field) for field, (key, _) in PROTECTION_FIELDS.items()}
    protection["months"] = int(months) if months else None
    protection = {k: v for k, v in protection.items() if v is not None}
    if protection:
        protection["offered"] = bool(protection.get("provider"))
    actions = [line.strip() for line in (_text(values, "actions_taken") or "").splitlines() if line.strip()]
    notice: dict[str, Any] = {
        "what_happened": _text(values, "what_happened"),
        "breach_started_at": _text(values, "breach_started_at"),
        "breach_ended_at": _text(values, "breach_ended_at"),
        "affected_by_region": regions,
        "actions_taken": actions,
        "identity_protection": protection,
    }
    le_until = _text(values, "le_until")
    if le_until:
        notice["law_enforcement_delay"] = {"until": le_until, "requested_by": _text(values, "le_requested_by")}
    kinds = [k for k in (values.get("data_categories") or []) if k in DATA_KINDS]  # type: ignore[union-attr]
    discovered = _text(values, "discovered")
    candidate = {k: v for k, v in notice.items() if v not in (None, "", [], {})}
    candidate |= {"company": {k: v for k, v in company.items() if v}, "data_categories": kinds}
    if discovered:
        candidate["discovered_at"] = discovered
    if affected:
        candidate["affected_total"] = int(affected.replace(",", ""))
    try:
        facts = parse_facts(candidate)
    except FactsError as exc:
        key = str(exc).split(":", 1)[0].strip()
        field = _FIELD_OF_KEY.get(key) or _FIELD_OF_KEY.get(key.split(".")[0]) or "what_happened"
        raise FormErrors({field: str(exc)[:150]}) from None
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"workspace:{actor.platform}:{actor.team_id}")
        incident = await queries.incident(session, incident_id)
        if incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that incident any more."))
        settings = await queries.workspace(session, actor.platform, actor.team_id)
        if settings is None:
            settings = Workspace(platform=actor.platform, team_id=actor.team_id)
            session.add(settings)
        settings.company = {k: v for k, v in company.items() if v}
        incident.notice_facts = {k: v for k, v in notice.items() if v not in (None, "", [], {})}
        incident.data_kinds = kinds
        incident.discovered_at = facts.discovered_at if isinstance(facts.discovered_at, datetime) else (
            incident.discovered_at)
        incident.affected_clients = facts.affected_total
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.facts", detail="notice facts updated", at=now, incident_id=incident_id)
    return Reply(card=views.note(
        "Notice facts saved. Type `/breach notice` or press **Draft client notice** for a new draft."),
        room=incident.channel_id)


async def draft(core: Core, actor: Actor, incident_id: int) -> Reply:
    """Render a new version from the facts as they are now; keep it; share .docx and .md in the room."""
    loaded = await _load(core, incident_id)
    if loaded is None or loaded[0].team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    incident, settings, items = loaded
    raw = assemble(incident, settings.company if settings else {}, items, core.playbook)
    today = core.clock().date()
    try:
        facts = parse_facts(raw)
        markdown = await asyncio.to_thread(render_markdown, facts, notice_date=today,
                                           templates_dir=core.templates_dir)
        document = await asyncio.to_thread(markdown_to_docx, markdown)
    except FactsError as exc:
        return Reply(card=views.note(f"The notice facts need fixing first: {exc}. Press **Notice facts**."))
    except NoticeTemplateError as exc:
        log.error("notice template error: %s", exc)
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
    draft_id, room_id = row.id or 0, incident.channel_id
    card = draft_card(incident, row)
    base = f"client-notice-incident-{incident_id}-v{version}"

    async def share(port: ChatPort) -> None:
        if not room_id:
            return
        try:
            ids = await port.share_files(room_id, [
                Attachment(f"{base}.docx", document, f"Client notice v{version} (Word)"),
                Attachment(f"{base}.md", markdown.encode(), f"Client notice v{version} (Markdown)"),
            ], f"Client notice draft v{version} for incident {incident_id}.")
        except ChatError as exc:
            log.warning("incident %s: notice upload failed (%s)", incident_id, exc.code)
            ids = []
        async with core.db.transaction() as session:
            stored = await session.get(NoticeDraft, draft_id)
            if stored is not None:
                stored.file_ids = ids
        await port.post_cards(room_id, [card])

    return Reply(card=views.note(f"Client notice v{version} drafted: it is in the war room."), work=[share])


def draft_card(incident: Incident, row: NoticeDraft) -> Card:
    parts: list = [Header(f"Client notice v{row.version}"),
                   Text(f"Drafted by {mention(row.created_by)} · {when(row.created_at)}. "
                        "The Word and Markdown files are attached above.")]
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
        Button("Notice facts", FACTS_OPEN, str(incident.id)),
    )))
    leads = " or ".join(mention(u) for u in (incident.responder_id, incident.backup_id) if u)
    parts.append(Context(f"Only {leads} can approve. Every version is kept; a new draft never replaces one."))
    return Card(fallback=f"Client notice v{row.version}", parts=tuple(parts), key="notice")


async def approve(core: Core, actor: Actor, value: str) -> Reply:
    """Only the responder or the backup; only the latest version; never with facts still to confirm."""
    if not value.isdigit():
        return Reply(card=views.note("That button is out of date."))
    now = core.clock()
    ticked: list[ChecklistItem] = []
    async with core.db.transaction() as session:
        row = await session.get(NoticeDraft, int(value))
        incident = await queries.incident(session, row.incident_id) if row else None
        if row is None or incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that draft any more."))
        leads = [u for u in (incident.responder_id, incident.backup_id) if u]
        if actor.user_id not in leads:
            return Reply(card=views.note(
                f"Only {' or '.join(mention(u) for u in leads)} can approve the client notice. "
                "Ask them to read it and press Approve."))
        latest = (await session.execute(sa.select(sa.func.max(NoticeDraft.version))
                                        .where(NoticeDraft.incident_id == incident.id))).scalar()
        if row.version != latest:
            return Reply(card=views.note(f"v{row.version} is not the latest draft (v{latest} is). "
                                         "Approve the latest one."))
        if row.missing:
            return Reply(card=views.note(
                f"v{row.version} still has {len(row.missing)} facts to confirm. Fill them in with **Notice "
                "facts**, draft again, then approve."))
        result = await session.execute(
            sa.update(NoticeDraft).where(col(NoticeDraft.id) == row.id, col(NoticeDraft.status) != "approved")
            .values(status="approved", decided_by=actor.user_id, decided_at=now))
        if result.rowcount != 1:
            return Reply(card=views.note(f"v{row.version} is already approved."))
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.approved", detail=f"v{row.version}", at=now, incident_id=incident.id)
        auto = {i.key for s in core.playbook.sections for i in s.items if i.done_when == "notice-approved"}
        for item in await queries.items(session, incident.id or 0):
            if item.key in auto and await queries.set_item_state(session, item.id or 0, DONE, actor.user_id, now):
                ticked.append(item)
                queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                               action="item.done", detail=f"{item.label} (by approving notice v{row.version})",
                               at=now, incident_id=incident.id)
    incident_id, room_id, version = incident.id or 0, incident.channel_id, row.version
    sections = {i.section for i in ticked}

    async def announce(port: ChatPort) -> None:
        if room_id:
            await port.post_cards(room_id, [views.note(
                f"{mention(actor.user_id)} approved client notice v{version}. Send it to the affected clients "
                "now: every day of waiting leaves them exposed.")])
        if sections:
            await refresh_checklist(core, incident_id, port, sections=sections)

    return Reply(card=views.note(f"Client notice v{version} approved."), work=[announce])


def changes_form(value: str) -> Reply:
    if not value.isdigit():
        return Reply(card=views.note("That button is out of date."))
    return Reply(form=notice_changes_form(int(value)))


async def request_changes(core: Core, actor: Actor, value: str, values: Mapping[str, object]) -> Reply:
    what = _text(values, "changes")
    if not what:
        raise FormErrors({"changes": "Say what should change."})
    if not value.isdigit():
        return Reply(card=views.note("That form is out of date."))
    now = core.clock()
    async with core.db.transaction() as session:
        row = await session.get(NoticeDraft, int(value))
        incident = await queries.incident(session, row.incident_id) if row else None
        if row is None or incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that draft any more."))
        if row.status == "approved":
            return Reply(card=views.note(f"v{row.version} is already approved; draft a new version instead."))
        row.status, row.decided_by, row.decided_at, row.decision_note = "changes_requested", actor.user_id, now, what
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.changes_requested", detail=f"v{row.version}: {what}", at=now,
                       incident_id=incident.id)
    room_id, version = incident.channel_id, row.version

    async def post(port: ChatPort) -> None:
        if room_id:
            await port.post_cards(room_id, [views.note(
                f"{mention(actor.user_id)} asked for changes to client notice v{version}:\n{what}")])

    return Reply(work=[post], room=room_id)


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


def notice_facts_form(incident_id: int, initial: dict) -> Form:
    """Every fact of the client notice; what the war room already knows is filled in."""

    def field(name: str, label: str, kind: str = "text", **kw: object) -> FormField:
        return FormField(name, label, kind, required=False, initial=initial.get(name), **kw)  # type: ignore[arg-type]

    fields = [
        field("what_happened", "What happened, in plain words", "multiline", max_length=3000),
        field("breach_started_at", "Breach started (or only date)", "date"),
        field("breach_ended_at", "Breach ended", "date"),
        field("discovered", "Discovered", "datetime"),
        FormField("data_categories", "Kinds of data involved", "multiselect", required=False,
                  options=tuple(Option(k, v) for k, v in DATA_KINDS.items()),
                  initial=tuple(initial.get("data_categories") or ())),
        field("affected_total", "Number of affected clients", "number"),
        field("regions", "Where they live, with counts", placeholder="US-CA 812, DE 40, GB 3",
              hint="ISO codes: a country (DE, GB) or a US state (US-CA). They decide which laws apply."),
        field("actions_taken", "What the company has done (one sentence per line)", "multiline", max_length=3000),
        *(field(name, label, "number" if name == "ip_months" else "date" if name == "ip_enroll_by" else "text")
          for name, (_, label) in PROTECTION_FIELDS.items()),
        field("le_until", "Notice delayed at law enforcement's request until", "date"),
        field("le_requested_by", "Delay requested by (agency)"),
        *(field(name, label, "multiline" if name == "postal_address" else "text")
          for name, (_, label) in COMPANY_FIELDS.items()),
    ]
    return Form(title="Notice facts", submit="Save facts", action=FACTS_SUBMIT, value=str(incident_id),
                intro="Facts left empty appear as [TO CONFIRM: …] in the draft, never guessed. "
                      "Company details are kept for future incidents.",
                fields=tuple(fields))


def notice_changes_form(draft_id: int) -> Form:
    return Form(title="Request changes", submit="Send", action=CHANGES_SUBMIT, value=str(draft_id),
                fields=(FormField("changes", "What should change in this draft?", "multiline", max_length=3000),))
