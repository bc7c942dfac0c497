"""When a deadline falls due, from the instant its clock started. Every result is an aware datetime in UTC.

- Hours are elapsed time: 72 hours is 72 hours on a stopwatch, across weekends and daylight-saving changes.
- Days are calendar days in the business's time zone: the deadline falls N dates later at the same local time
  of day. Across a daylight-saving change the elapsed time is therefore an hour more or less than N × 24 hours
  (30 days from 10:00 on March 20 in Berlin is 10:00 on April 19, 719 hours later), which is how a person
  counting days on a calendar reads "within 30 days". No weekend or holiday moves a deadline.
- Business days (the SEC's) skip weekends and US federal holidays, counted on the business's local dates, and
  fall due at the same local time of day.
- "N days after the end of the calendar year" counts from midnight at the end of December 31, local time.

When the local time of day does not exist on the due date (the hour skipped in spring) or exists twice (the hour
repeated in autumn), the earlier instant is taken: a deadline read either way is then met.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.deadlines.calendar import add_business_days
from bot.deadlines.rules import Deadline


def _earliest(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant of a local wall-clock time; of two candidates (a gap or a repeated hour), the earlier."""
    candidates = (local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1))
    return min(c.astimezone(UTC) for c in candidates)


def after_hours(start: datetime, hours: int) -> datetime:
    return start.astimezone(UTC) + timedelta(hours=hours)


def after_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    local = start.astimezone(zone).replace(tzinfo=None)
    return _earliest(local + timedelta(days=days), zone)


def after_business_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    local = start.astimezone(zone).replace(tzinfo=None)
    return _earliest(datetime.combine(add_business_days(local.date(), days), local.time()), zone)


def after_year_end(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    year_end = date(start.astimezone(zone).year + 1, 1, 1)
    return _earliest(datetime.combine(year_end + timedelta(days=days), time()), zone)


def due_at(deadline: Deadline, start: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant `deadline` falls due when its clock started at `start`; None for "without undue delay" and
    the other deadlines that name no time.

    Example: `due_at(Deadline(length=72, unit="hours"), aware_at, ZoneInfo("Europe/Berlin"))`.
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    length = deadline.length or 0
    if deadline.unit == "hours":
        return after_hours(start, length)
    if deadline.unit == "days":
        return after_days(start, length, zone)
    if deadline.unit == "business_days":
        return after_business_days(start, length, zone)
    if deadline.unit == "end_of_calendar_year_plus_days":
        return after_year_end(start, length, zone)
    return None
