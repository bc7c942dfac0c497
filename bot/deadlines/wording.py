"""The plain words of the clocks: events, deadlines, questions and time left, shared by every way of showing them."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from bot.deadlines.rules import Deadline

# How an event reads after "30 days after …".
EVENT_PHRASES: dict[str, str] = {
    "aware_at": "you became aware",
    "discovered_at": "discovery",
    "determined_at": "you determined a breach occurred",
    "materiality_determined_at": "you determined the incident is material",
    "extortion_paid_at": "the extortion payment",
    "individuals_notified_at": "you notify",
}

_UNTIMED: dict[str, str] = {
    "without_undue_delay": "without undue delay",
    "without_unreasonable_delay": "without unreasonable delay",
    "as_soon_as_feasible": "as soon as feasible",
    "as_soon_as_practicable": "as soon as practicable",
}

CATEGORY_WORDS: dict[str, str] = {
    "contact_details": "contact details",
    "credentials": "account passwords",
    "government_id": "government ID numbers",
    "payment_card": "payment card numbers",
    "bank_account": "bank account numbers",
    "health": "health information",
    "other": "other information",
}

# What a recorded risk assessment means, in a reason.
RISK_WORDS: dict[str, dict[object, str]] = {
    "gdpr": {"unlikely": "risk to people assessed as unlikely", "risk": "a risk to people, not a high one",
             "high": "a high risk to people"},
    "pipeda_real_risk_of_significant_harm": {True: "a real risk of significant harm",
                                             False: "no real risk of significant harm"},
    "ndb_likely_serious_harm": {True: "serious harm is likely", False: "serious harm is not likely"},
}

# One question per fact that is still needed. Keys are the facts file's keys (dotted inside objects).
QUESTIONS: dict[str, str] = {
    "affected_by_region": "Where do the affected people live, and how many in each place? Give a count per "
                          "country, and per state in the US (US-CA, US-TX …).",
    "affected_total": "How many people are affected in total?",
    "data_categories": "Which kinds of data were involved?",
    "data_categories.other": "What was the 'other' information? Some breach laws cover only the personal "
                             "information they define: record a decision not to notify if it is not covered.",
    "data_encrypted": "Was the breached data encrypted?",
    "encryption_key_exposed": "Was the encryption key (or password) exposed as well?",
    "public_company": "Is the business a public company (securities registered with the SEC)?",
    "hipaa_role": "Is the business a HIPAA covered entity, a business associate, or neither?",
    "gdpr_role": "For the EU/UK data, is the business the controller or a processor?",
    "nydfs_regulated": "Is the business licensed or regulated by the New York Department of Financial Services?",
    "ftc_safeguards_covered": "Is the business a non-bank financial institution under the FTC Safeguards Rule "
                              "(a tax preparer, an auto dealer that finances, a mortgage broker …)?",
    "australia_turnover_over_3m": "Has the business had an annual turnover of more than A$3 million?",
    "health_service_provider": "Does the business provide a health service in Australia?",
    "risk.gdpr": "What is the GDPR risk assessment: unlikely to result in a risk, a risk, or a high risk to people?",
    "risk.pipeda_real_risk_of_significant_harm": "Does the breach create a real risk of significant harm "
                                                 "(PIPEDA)?",
    "risk.ndb_likely_serious_harm": "Is serious harm likely (Australian Notifiable Data Breaches assessment)?",
    "aware_at": "When did the business become aware of the breach?",
    "discovered_at": "When was the breach discovered?",
    "determined_at": "When did the business determine that a breach occurred?",
    "materiality_determined_at": "Has the company determined that the incident is material (Form 8-K Item 1.05)? "
                                 "When?",
    "law_enforcement_delay.until": "Until when did law enforcement ask you to delay the notices?",
    "law_enforcement_delay.us_attorney_general_determination": "Is the delay a determination of the US Attorney "
                                                               "General under Form 8-K Item 1.05(c)?",
}


def deadline_words(deadline: Deadline, starts_from: str) -> str:
    """"72 hours after you became aware", "15 days after you notify", "without undue delay"."""
    event = EVENT_PHRASES[starts_from]
    if deadline.unit == "hours":
        return f"{deadline.length} hours after {event}"
    if deadline.unit == "days":
        return f"{deadline.length} days after {event}"
    if deadline.unit == "business_days":
        return f"{deadline.length} business days after {event}"
    if deadline.unit == "end_of_calendar_year_plus_days":
        return f"{deadline.length} days after the end of the calendar year of {event}"
    if deadline.unit == "no_deadline":
        return deadline.says or "no deadline"
    return _UNTIMED[deadline.unit]


def categories(names: list[str]) -> str:
    words = [CATEGORY_WORDS.get(n, n) for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def remaining(delta: timedelta) -> str:
    """Time left as people say it: "2 days 5 hours left", "3 hours 10 minutes overdue"."""
    late = delta < timedelta(0)
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour")] if days else [(hours, "hour"), (minutes, "minute")]
    text = " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n) or "less than a minute"
    return f"{text} {'overdue' if late else 'left'}"


def moment(instant: datetime, zone: tzinfo) -> str:
    """An instant as the business reads it: "2026-03-20 09:00 +01:00"."""
    local = instant.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
