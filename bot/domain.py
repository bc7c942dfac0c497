"""Words of the domain shared by the use cases: who acts, severities, kinds of data, time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SEVERITIES: dict[str, str] = {
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "critical": "Critical",
}
DEFAULT_SEVERITY = "high"

# Keys are the data categories of the notice facts file (README), so one word means one thing everywhere.
DATA_KINDS: dict[str, str] = {
    "contact_details": "Names and contact details",
    "credentials": "Account passwords",
    "government_id": "Government ID numbers",
    "payment_card": "Payment card numbers",
    "bank_account": "Bank account numbers",
    "health": "Health data",
    "other": "Other",
}

DUPLICATE_WINDOW = timedelta(minutes=10)
OPEN, DONE = "open", "done"
# Ids (and counts kept beside them) are INTEGER columns: signed 32-bit on PostgreSQL (64-bit on SQLite).
MAX_INTEGER = 2**31 - 1


def parse_id(text: str) -> int | None:
    """The row id a button or a form carries back (`"42"` → 42), or None when it cannot be one of ours.

    Such values come from the person's client and may be anything: only ASCII digits count (`'²'.isdigit()` is
    true, yet `int('²')` fails), and only what an INTEGER column holds (a larger number fails in the query itself:
    PostgreSQL's NumericValueOutOfRange, SQLite's OverflowError).

    >>> parse_id("42"), parse_id("²"), parse_id("-1"), parse_id("2147483648"), parse_id("9" * 5000)
    (42, None, None, None, None)
    """
    if not text or len(text) > len(str(MAX_INTEGER)) or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number <= MAX_INTEGER else None


@dataclass(frozen=True)
class Actor:
    """A person acting on one platform, in one workspace."""

    platform: str
    team_id: str
    user_id: str


def when(instant: datetime) -> str:
    """How the bot writes an instant: `27 Nov 2026, 09:41 UTC`."""
    return instant.strftime("%-d %b %Y, %H:%M UTC")


def age(delta: timedelta) -> str:
    """A duration as people say it: `2 h 14 min`, `3 d 4 h`, `less than a minute`."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"
