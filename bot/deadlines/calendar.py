"""US federal holidays and business days, for the SEC's "four business days" (Form 8-K Item 1.05).

The holidays are the legal public holidays of 5 U.S.C. § 6103(a). One that falls on a Saturday is observed on the
Friday before, one on a Sunday on the Monday after (§ 6103(b) and Executive Order 11582), so a Saturday New Year's
Day closes Friday, December 31 of the year before. Inauguration Day (§ 6103(c), a holiday only for employees around
Washington, D.C.) and one-off closures by executive order are not counted: leaving a closure out can only make a
deadline earlier, never later.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

_MONDAY, _THURSDAY, _SATURDAY, _SUNDAY = 0, 3, 5, 6
JUNETEENTH_FIRST_YEAR = 2021  # Juneteenth National Independence Day Act, June 17, 2021


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday of a month (n = -1: the last one)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def legal_public_holidays(year: int) -> dict[date, str]:
    """The holidays of 5 U.S.C. § 6103(a) on their own dates, before any weekend shift."""
    days = {
        date(year, 1, 1): "New Year's Day",
        _nth_weekday(year, 1, _MONDAY, 3): "Birthday of Martin Luther King, Jr.",
        _nth_weekday(year, 2, _MONDAY, 3): "Washington's Birthday",
        _nth_weekday(year, 5, _MONDAY, -1): "Memorial Day",
        date(year, 7, 4): "Independence Day",
        _nth_weekday(year, 9, _MONDAY, 1): "Labor Day",
        _nth_weekday(year, 10, _MONDAY, 2): "Columbus Day",
        date(year, 11, 11): "Veterans Day",
        _nth_weekday(year, 11, _THURSDAY, 4): "Thanksgiving Day",
        date(year, 12, 25): "Christmas Day",
    }
    if year >= JUNETEENTH_FIRST_YEAR:
        days[date(year, 6, 19)] = "Juneteenth National Independence Day"
    return dict(sorted(days.items()))


def observed(day: date) -> date:
    """The weekday on which a holiday falling on `day` is observed."""
    if day.weekday() == _SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == _SUNDAY:
        return day + timedelta(days=1)
    return day


@cache
def federal_holidays(year: int) -> dict[date, str]:
    """The days in `year` on which federal offices close for a holiday, as observed, with the holiday's name.

    Example: `federal_holidays(2026)[date(2026, 7, 3)] == "Independence Day (observed)"`.
    """
    days: dict[date, str] = {}
    for holiday_year in (year, year + 1):
        for day, name in legal_public_holidays(holiday_year).items():
            shifted = observed(day)
            if shifted.year == year:
                days[shifted] = name if shifted == day else f"{name} (observed)"
    return dict(sorted(days.items()))


def is_business_day(day: date) -> bool:
    """Not a Saturday, a Sunday or an observed federal holiday."""
    return day.weekday() < _SATURDAY and day not in federal_holidays(day.year)


def add_business_days(day: date, count: int) -> date:
    """The date `count` business days after `day`; `day` itself is never counted, even if it is a business day."""
    if count < 0:
        raise ValueError("count must not be negative")
    while count:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day
