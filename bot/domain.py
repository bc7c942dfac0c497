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
