"""Obligations as plain JSON-ready data, with times in the business's time zone and its offset."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.deadlines.engine import Obligation, Result


def _iso(instant: datetime | None, zone: tzinfo) -> str | None:
    return None if instant is None else instant.astimezone(zone).isoformat()


def obligation_data(obligation: Obligation, zone: tzinfo) -> dict[str, Any]:
    """One obligation: `regime`, `audience`, `starts_from`, `due_at` (ISO 8601 with offset, or null), `reason`,
    `citation`, `status`, and the details a card or a summary may want."""
    return {
        "key": obligation.key,
        "regime": obligation.regime,
        "regime_name": obligation.regime_name,
        "audience": obligation.audience,
        "starts_from": obligation.starts_from,
        "starts_at": _iso(obligation.starts_at, zone),
        "due_at": _iso(obligation.due_at, zone),
        "due_text": obligation.due_text,
        "reason": obligation.reason,
        "citation": obligation.citation,
        "status": obligation.status,
        "paused_by_law_enforcement": obligation.paused_by_law_enforcement,
        "done_at": _iso(obligation.done_at, zone),
        "note": obligation.note,
    }


def result_data(result: Result) -> dict[str, Any]:
    """The whole answer: `timezone`, `now`, `obligations`, `questions` (each `fact`, `question`, `decides`) and
    `regions_without_regimes` (affected people whose laws Breachroom does not hold, by region)."""
    zone = result.zone
    return {
        "timezone": result.timezone,
        "now": _iso(result.now, zone),
        "obligations": [obligation_data(o, zone) for o in result.obligations],
        "questions": [{"fact": q.fact, "question": q.question, "decides": list(q.decides)} for q in result.questions],
        "regions_without_regimes": result.uncovered_regions,
    }
