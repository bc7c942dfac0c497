"""Everything known about one incident, as a facts file: what the notice and the clocks are computed from."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.core import Core
from bot.domain import DONE
from bot.playbook import Playbook
from storage import queries
from storage.models import ChecklistItem, Decision, Incident, ObligationMark, Workspace

STORY_LIMIT = 5000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def story(summary: str) -> str:
    """The summary as the notice's "what happened" until someone writes one: without the control characters a
    facts file refuses (a summary is stored as typed, and one pasted with a bell or an escape in it would
    otherwise make the clocks and the draft of its incident impossible to compute)."""
    kept = "".join(c for c in summary[:STORY_LIMIT]
                   if c in "\n\r\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    return kept.strip()


def done_sentences(items: Sequence[ChecklistItem], playbook: Playbook) -> list[str]:
    """What the company has done, in the letter's words, from the checklist steps already done."""
    sentences = {i.key: i.notice for s in playbook.sections for i in s.items if i.notice}
    return [sentences[i.key] for i in items if i.state == DONE and i.key in sentences]


def assemble(incident: Incident, company: Mapping[str, Any], items: Sequence[ChecklistItem],
             playbook: Playbook) -> dict[str, Any]:
    """The facts file of this incident: typed notice facts first, then what the war room already knows."""
    facts: dict[str, Any] = {k: v for k, v in incident.notice_facts.items() if v not in (None, "", [], {})}
    if story(incident.summary):
        facts.setdefault("what_happened", story(incident.summary))
    if incident.discovered_at:
        facts["discovered_at"] = _iso(incident.discovered_at)
    facts["data_categories"] = list(incident.data_kinds)
    if incident.affected_clients is not None:
        facts["affected_total"] = incident.affected_clients
    if "actions_taken" not in facts:
        facts["actions_taken"] = done_sentences(items, playbook)
    facts["company"] = {k: v for k, v in company.items() if v not in (None, "")}
    return facts


async def load(core: Core, incident_id: int) -> tuple[Incident, Workspace | None, Sequence[ChecklistItem]] | None:
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
        if incident is None:
            return None
        settings = await queries.workspace(session, incident.platform, incident.team_id)
        items = await queries.items(session, incident_id)
    return incident, settings, items


def put(facts: dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    node = facts
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def get(facts: Mapping[str, Any], dotted: str) -> Any:
    node: Any = facts
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


async def raw_facts(core: Core, incident: Incident) -> dict[str, Any]:
    """The facts file of this incident: notice facts, then each recorded clock fact (latest wins), marks, zone."""
    async with core.db.reading() as session:
        settings = await queries.workspace(session, incident.platform, incident.team_id)
        items = await queries.items(session, incident.id or 0)
        recorded = (await session.execute(select(Decision).where(
            Decision.incident_id == incident.id, col(Decision.kind).is_not(None)).order_by(col(Decision.id))
        )).scalars().all()
        marks = (await session.execute(select(ObligationMark).where(
            ObligationMark.incident_id == incident.id))).scalars().all()
    raw = assemble(incident, settings.company if settings else {}, items, core.playbook)
    for decision in recorded:
        put(raw, decision.kind or "", json.loads(decision.value) if decision.value else None)
    raw["timezone"] = settings.timezone if settings else "UTC"
    raw["notified"] = {m.obligation: m.marked_at.isoformat() for m in marks}
    return raw


