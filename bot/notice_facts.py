"""The facts of the client notice in the war room: assembled from what is known, edited in a form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot import access, clocks, drills, incident_facts, views
from bot.cards import Form, FormErrors, FormField, Option
from bot.core import Core, Reply
from bot.domain import DATA_KINDS, Actor, parse_id
from bot.notices.facts import FactsError, parse_facts
from bot.workspace import settings_for_update
from storage import queries

FACTS_OPEN = views.NOTICE_FACTS
FACTS_SUBMIT = "notice.facts.submit"
EDIT = "edit the notice facts"  # what a refusal says the people in the war room can do

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
    **{f"company.{key}": field for field, (key, _) in COMPANY_FIELDS.items()},
    **{f"identity_protection.{key}": field for field, (key, _) in PROTECTION_FIELDS.items()},
}
_REGION = re.compile(r"([A-Za-z]{2}(?:-[A-Za-z0-9]{1,3})?)\s*[:=]?\s*(\d[\d,]*)")


def _date_only(value: object) -> str | None:
    return str(value)[:10] if value else None


async def facts_form(core: Core, actor: Actor, incident_id: int) -> Reply:
    """The "Notice facts" form, pre-filled with everything already known, for the people in the war room."""
    loaded = await incident_facts.load(core, incident_id)
    if loaded is None or loaded[0].team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    incident, settings, items = loaded
    if not await access.in_room(core, actor, incident):
        return await access.refuse(core, actor, "open the notice facts form: not in the war room",
                                   access.not_in_room(incident, EDIT), incident=incident)
    raw = incident_facts.assemble(incident, settings.company if settings else {}, items, core.playbook)
    return Reply(form=notice_facts_form(incident.id or 0, _facts_initials(raw)))


def _facts_initials(raw: Mapping[str, Any]) -> dict[str, Any]:
    regions = ", ".join(f"{code} {count}" for code, count in (raw.get("affected_by_region") or {}).items())
    protection = raw.get("identity_protection") or {}
    initial: dict[str, Any] = {
        "what_happened": raw.get("what_happened"),
        "breach_started_at": _date_only(raw.get("breach_started_at")),
        "breach_ended_at": _date_only(raw.get("breach_ended_at")),
        "discovered": raw.get("discovered_at"),
        "data_categories": tuple(raw.get("data_categories") or ()),
        "affected_total": str(raw["affected_total"]) if raw.get("affected_total") is not None else None,
        "regions": regions or None,
        "actions_taken": "\n".join(raw.get("actions_taken") or ()) or None,
    }
    initial |= {field: (raw.get("company") or {}).get(key) for field, (key, _) in COMPANY_FIELDS.items()}
    initial |= {field: protection.get(key) for field, (key, _) in PROTECTION_FIELDS.items()}
    initial["ip_months"] = str(initial["ip_months"]) if initial.get("ip_months") else None
    initial["ip_enroll_by"] = _date_only(initial.get("ip_enroll_by"))
    return {k: v for k, v in initial.items() if v not in (None, "", ())}


def _whole(text: str, *, commas: bool = True) -> int | None:
    """A count as typed (`1,200`), or None: ASCII digits only (`'²'.isdigit()` is true, yet int() refuses it),
    and no more than the INTEGER column the number of affected clients is kept in holds."""
    digits = text.replace(",", "") if commas else text
    return parse_id(digits)


def text_value(values: Mapping[str, object], name: str) -> str | None:
    value = values.get(name)
    text = str(value).strip() if value is not None else ""
    return text or None


async def submit_facts(core: Core, actor: Actor, value: str, values: Mapping[str, object]) -> Reply:
    """Check the facts exactly as a facts file is checked; store them; errors go next to their fields. Only the
    people in the war room may; a refused or out-of-date form stores nothing (not even the workspace's row)."""
    about = await access.member_form(core, actor, value, stale="That form is out of date. Press Notice facts again.",
                                     what="save the notice facts: not in the war room", doing=EDIT)
    if isinstance(about, Reply):
        return about
    incident_id = about.id
    assert incident_id is not None
    errors: dict[str, str] = {}
    regions: dict[str, int] = {}
    region_text = text_value(values, "regions")
    if region_text:
        found = [(code, _whole(count)) for code, count in _REGION.findall(region_text)]
        if not found or any(count is None for _, count in found):
            errors["regions"] = "Write codes and counts, e.g. US-CA 812, DE 40."
        regions = {code.upper(): count for code, count in found if count is not None}
    affected = text_value(values, "affected_total")
    if affected and _whole(affected) is None:
        errors["affected_total"] = "Enter a whole number, e.g. 120."
    months = text_value(values, "ip_months")
    if months and _whole(months, commas=False) is None:
        errors["ip_months"] = "Enter a number of months, e.g. 24."
    if errors:
        raise FormErrors(errors)
    company = {key: text_value(values, field) for field, (key, _) in COMPANY_FIELDS.items()}
    protection = {key: text_value(values, field) for field, (key, _) in PROTECTION_FIELDS.items()}
    protection["months"] = _whole(months, commas=False) if months else None
    protection = {k: v for k, v in protection.items() if v is not None}
    if protection:
        protection["offered"] = bool(protection.get("provider"))
    actions = [line.strip() for line in (text_value(values, "actions_taken") or "").splitlines() if line.strip()]
    notice: dict[str, Any] = {
        "what_happened": text_value(values, "what_happened"),
        "breach_started_at": text_value(values, "breach_started_at"),
        "breach_ended_at": text_value(values, "breach_ended_at"),
        "affected_by_region": regions,
        "actions_taken": actions,
        "identity_protection": protection,
    }
    kinds = [k for k in (values.get("data_categories") or []) if k in DATA_KINDS]  # type: ignore[union-attr]
    discovered = text_value(values, "discovered")
    candidate = {k: v for k, v in notice.items() if v not in (None, "", [], {})}
    candidate |= {"company": {k: v for k, v in company.items() if v}, "data_categories": kinds}
    if discovered:
        candidate["discovered_at"] = discovered
    if affected:
        candidate["affected_total"] = _whole(affected)
    try:
        facts = parse_facts(candidate)
    except FactsError as exc:
        key = str(exc).split(":", 1)[0].strip()
        field = _FIELD_OF_KEY.get(key) or _FIELD_OF_KEY.get(key.split(".")[0]) or "what_happened"
        raise FormErrors({field: str(exc)[:150]}) from None
    now = core.clock()
    typed_company = {k: v for k, v in company.items() if v}
    async with core.db.transaction() as session:
        incident = await queries.incident(session, incident_id)
        if incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that incident any more."))
        # The company's details are the workspace's (kept for the next incident): its row is made only to hold some.
        if typed_company or await queries.workspace(session, actor.platform, actor.team_id) is not None:
            settings = await settings_for_update(core, session, actor)
            settings.company = typed_company
        incident.notice_facts = {k: v for k, v in notice.items() if v not in (None, "", [], {})}
        incident.data_kinds = kinds
        incident.discovered_at = facts.discovered_at if isinstance(facts.discovered_at, datetime) else (
            incident.discovered_at)
        incident.affected_clients = facts.affected_total
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="notice.facts", detail="notice facts updated", at=now, incident_id=incident_id)
    return drills.scoped(incident, Reply(card=views.note(
        "Notice facts saved. Type `/breach notice` or press **Draft client notice** for a new draft."),
        room=incident.channel_id, work=[clocks.refresher(core, incident_id)]))


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
        *(field(name, label, "multiline" if name == "postal_address" else "text")
          for name, (_, label) in COMPANY_FIELDS.items()),
    ]
    return Form(title="Notice facts", submit="Save facts", action=FACTS_SUBMIT, value=str(incident_id),
                intro="Facts left empty appear as [TO CONFIRM: …] in the draft, never guessed. "
                      "Company details are kept for future incidents.",
                fields=tuple(fields))
