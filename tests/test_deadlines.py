"""Notification clocks as a responder meets them: which laws apply, who must be told by when, what is still asked."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.deadlines.calendar import add_business_days, federal_holidays, is_business_day
from bot.deadlines.engine import Obligation, Result, obligations
from bot.deadlines.rules import EVENTS, TIMED_UNITS
from bot.notices.facts import FactsError, parse_facts
from bot.notices.regimes import RulesError, applicable, load_regimes
from breachroom.obligations_cli import DISCLAIMER, add_obligations_parser

T0 = "2026-03-02T09:00:00Z"  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
STATE_LAWS = ("us-ca-1798.82", "us-co-6-1-716", "us-fl-501.171", "us-wa-19.255.010", "us-tx-521.053",
              "us-ny-gbl-899-aa")


def answered(**changes: Any) -> dict[str, Any]:
    """Facts where every question about the business is answered and nothing brings in a law by itself."""
    facts: dict[str, Any] = {
        "timezone": "UTC",
        "data_categories": ["government_id"],
        "data_encrypted": False,
        "public_company": False,
        "nydfs_regulated": False,
        "ftc_safeguards_covered": False,
        "hipaa_role": "neither",
        "gdpr_role": "controller",
        "australia_turnover_over_3m": True,
    }
    facts.update(changes)
    return facts


def everything(**changes: Any) -> dict[str, Any]:
    """A breach that engages every regime, with every clock started at T0."""
    regions = {"DE": 40, "GB": 30, "US-CA": 600, "US-CO": 1200, "US-FL": 600, "US-WA": 600, "US-TX": 600,
               "US-NY": 600, "CA": 10, "AU": 10}
    facts = answered(
        data_categories=["government_id", "health"], affected_by_region=regions,
        affected_total=sum(regions.values()), hipaa_role="covered_entity", public_company=True, nydfs_regulated=True,
        ftc_safeguards_covered=True, risk={"gdpr": "high", "pipeda_real_risk_of_significant_harm": True},
        aware_at=T0, discovered_at=T0, determined_at=T0, materiality_determined_at=T0, extortion_paid_at=T0)
    facts.update(changes)
    return facts


def run(facts: dict[str, Any], now: datetime | str = "2026-03-02T10:00:00Z") -> Result:
    when = datetime.fromisoformat(now) if isinstance(now, str) else now
    return obligations(parse_facts(facts), now=when)


def find(result: Result, key: str) -> Obligation:
    matches = [o for o in result.obligations if o.key == key]
    assert matches, f"{key} not among {[o.key for o in result.obligations]}"
    return matches[0]


def keys(result: Result) -> set[str]:
    return {o.key for o in result.obligations}


def asked(result: Result) -> set[str]:
    return {q.fact for q in result.questions}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- Each regime's due time from its starting event --------------------------------------------------------

@pytest.mark.parametrize(("key", "due"), [
    ("eu-gdpr-art33/supervisory_authority", "2026-03-05T09:00:00Z"),  # 72 hours from aware_at
    ("uk-gdpr-art33/supervisory_authority", "2026-03-05T09:00:00Z"),
    ("us-hipaa-164.404/individuals", "2026-05-01T09:00:00Z"),  # 60 days from discovered_at
    ("us-hipaa-164.406/media", "2026-05-01T09:00:00Z"),
    ("us-hipaa-164.408/hhs", "2026-05-01T09:00:00Z"),
    ("us-sec-8k-1.05/sec", "2026-03-06T09:00:00Z"),  # 4 business days from materiality_determined_at
    ("us-nydfs-500.17/superintendent", "2026-03-05T09:00:00Z"),  # 72 hours from determined_at
    ("us-nydfs-500.17/superintendent_extortion", "2026-03-03T09:00:00Z"),  # 24 hours from extortion_paid_at
    ("us-nydfs-500.17/superintendent_extortion_explanation", "2026-04-01T09:00:00Z"),  # 30 days
    ("us-ca-1798.82/individuals", "2026-04-01T09:00:00Z"),  # 30 days from discovered_at
    ("us-co-6-1-716/individuals", "2026-04-01T09:00:00Z"),  # 30 days from determined_at
    ("us-co-6-1-716/attorney_general", "2026-04-01T09:00:00Z"),
    ("us-fl-501.171/individuals", "2026-04-01T09:00:00Z"),
    ("us-fl-501.171/attorney_general", "2026-04-01T09:00:00Z"),
    ("us-wa-19.255.010/individuals", "2026-04-01T09:00:00Z"),  # 30 days from discovered_at
    ("us-wa-19.255.010/attorney_general", "2026-04-01T09:00:00Z"),
    ("us-tx-521.053/individuals", "2026-05-01T09:00:00Z"),  # 60 days from determined_at
    ("us-tx-521.053/attorney_general", "2026-04-01T09:00:00Z"),  # 30 days from determined_at
    ("us-ny-gbl-899-aa/individuals", "2026-04-01T09:00:00Z"),
    ("us-ny-gbl-899-aa/regulators", "2026-04-01T09:00:00Z"),
    ("us-ftc-314.4j/ftc", "2026-04-01T09:00:00Z"),  # 30 days from discovered_at
    ("au-privacy-ndb/assessment", "2026-04-01T09:00:00Z"),  # 30 days from aware_at
])
def test_each_regime_falls_due_from_its_starting_event(key: str, due: str) -> None:
    obligation = find(run(everything()), key)
    assert obligation.due_at == utc(due)
    assert obligation.starts_at == utc(T0)
    assert obligation.status == "open"


@pytest.mark.parametrize(("key", "due_text"), [
    ("eu-gdpr-art34/individuals", "without undue delay"),
    ("uk-gdpr-art34/individuals", "without undue delay"),
    ("ca-pipeda-10.1/commissioner", "as soon as feasible"),
    ("ca-pipeda-10.1/individuals", "as soon as feasible"),
    ("us-co-6-1-716/credit_bureaus", "without unreasonable delay"),
    ("eu-gdpr-art33/record", "document the facts, the effects and the remedial action"),
    ("ca-pipeda-10.1/record", "keep a record of every breach for 24 months after determining it"),
])
def test_notices_without_a_fixed_time_are_open_with_their_words(key: str, due_text: str) -> None:
    obligation = find(run(everything()), key)
    assert (obligation.status, obligation.due_at, obligation.due_text) == ("open", None, due_text)


def test_every_obligation_names_its_regime_audience_event_reason_and_citation() -> None:
    for obligation in run(everything()).obligations:
        assert obligation.regime and obligation.regime_name and obligation.audience and obligation.citation
        assert obligation.starts_from in EVENTS
        assert obligation.reason.split(":")[0] and "→" in obligation.reason


def test_a_day_based_deadline_passes_and_becomes_overdue() -> None:
    facts = everything()
    assert find(run(facts, "2026-04-01T08:59:00Z"), "us-ca-1798.82/individuals").status == "open"
    late = find(run(facts, "2026-04-01T09:01:00Z"), "us-ca-1798.82/individuals")
    assert late.status == "overdue"
    assert late.time_left(utc("2026-04-01T09:01:00Z")) == timedelta(minutes=-1)


def test_the_california_attorney_general_copy_waits_for_the_notices_then_falls_due_15_days_later() -> None:
    waiting = find(run(everything()), "us-ca-1798.82/attorney_general")
    assert (waiting.status, waiting.due_at, waiting.due_text) == ("waiting", None, "15 days after you notify")
    assert waiting.reason == "California: 600 affected residents > 500 → Attorney General sample copy"
    result = run(everything(individuals_notified_at="2026-03-20T15:00:00Z"), "2026-03-21T00:00:00Z")
    sample = find(result, "us-ca-1798.82/attorney_general")
    assert (sample.status, sample.due_at) == ("open", utc("2026-04-04T15:00:00Z"))
    told = find(result, "us-ca-1798.82/individuals")
    assert (told.status, told.done_at, told.late_by) == ("done", utc("2026-03-20T15:00:00Z"), None)


def test_a_notice_given_late_says_how_late() -> None:
    result = run(everything(notified={"eu-gdpr-art33/supervisory_authority": "2026-03-05T15:30:00Z"}))
    notice = find(result, "eu-gdpr-art33/supervisory_authority")
    assert notice.status == "done"
    assert notice.late_by == timedelta(hours=6, minutes=30)


def test_the_hipaa_annual_log_is_due_60_days_after_the_end_of_the_year_of_discovery() -> None:
    small = answered(hipaa_role="covered_entity", data_categories=["health"], affected_total=120,
                     affected_by_region={"US-NV": 120}, discovered_at="2026-03-02")
    log = find(run(small), "us-hipaa-164.408/hhs_annual_log")
    assert (log.status, log.due_at) == ("open", utc("2027-03-02T00:00:00Z"))  # end of March 1, 2027
    assert find(run(small), "us-hipaa-164.408/hhs").status == "not_required"
    leap = find(run({**small, "discovered_at": "2027-12-31T23:00:00Z"}), "us-hipaa-164.408/hhs_annual_log")
    assert leap.due_at == utc("2028-03-01T00:00:00Z")  # 2028 is a leap year: end of February 29


def test_an_extortion_payment_adds_two_nydfs_notices_only_once_it_happened() -> None:
    assert not {"us-nydfs-500.17/superintendent_extortion",
                "us-nydfs-500.17/superintendent_extortion_explanation"} & keys(run(everything(extortion_paid_at=None)))
    assert "extortion_paid_at" not in asked(run(everything(extortion_paid_at=None)))


# --- The SEC's business days --------------------------------------------------------------------------------

def sec_due(determined: str) -> datetime:
    facts = answered(timezone="America/New_York", public_company=True, materiality_determined_at=determined)
    due = find(run(facts, "2026-01-01T00:00:00Z"), "us-sec-8k-1.05/sec").due_at
    assert due is not None
    return due.astimezone(NEW_YORK)


def test_sec_business_days_skip_the_weekend() -> None:
    assert sec_due("2026-03-05T15:00:00") == datetime(2026, 3, 11, 15, tzinfo=NEW_YORK)  # Thursday → Wednesday


def test_sec_business_days_skip_a_monday_holiday() -> None:
    # Thursday before Labor Day (Monday, September 7): Fri, Tue, Wed, Thu.
    assert sec_due("2026-09-03T15:00:00") == datetime(2026, 9, 10, 15, tzinfo=NEW_YORK)


def test_sec_business_days_skip_a_saturday_holiday_observed_on_friday() -> None:
    # July 4, 2026 is a Saturday, observed Friday July 3: from Wednesday July 1, Thu, Mon, Tue, Wed.
    assert sec_due("2026-07-01T10:00:00") == datetime(2026, 7, 8, 10, tzinfo=NEW_YORK)


def test_sec_business_days_from_a_weekend_start_on_monday() -> None:
    assert sec_due("2026-03-07T11:00:00") == datetime(2026, 3, 12, 11, tzinfo=NEW_YORK)  # Saturday → Thursday


@pytest.mark.parametrize(("day", "name"), [
    (date(2026, 7, 3), "Independence Day (observed)"),
    (date(2026, 9, 7), "Labor Day"),
    (date(2026, 11, 26), "Thanksgiving Day"),
    (date(2021, 6, 18), "Juneteenth National Independence Day (observed)"),
    (date(2022, 12, 26), "Christmas Day (observed)"),  # Sunday → Monday
    (date(2027, 12, 31), "New Year's Day (observed)"),  # January 1, 2028 is a Saturday
    (date(2026, 1, 19), "Birthday of Martin Luther King, Jr."),
])
def test_federal_holidays_follow_5_usc_6103_with_observed_days(day: date, name: str) -> None:
    assert federal_holidays(day.year)[day] == name
    assert not is_business_day(day)


def test_business_days_do_not_count_the_starting_day_or_weekends() -> None:
    assert add_business_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert add_business_days(date(2026, 3, 6), 1) == date(2026, 3, 9)
    assert date(2028, 1, 1) not in federal_holidays(2028)  # observed the Friday before, in 2027
    assert len(federal_holidays(2026)) == 11


# --- Hours, days and daylight saving ------------------------------------------------------------------------

def gdpr_authority(aware_at: str) -> Obligation:
    facts = answered(timezone="Europe/Berlin", affected_by_region={"DE": 12}, aware_at=aware_at)
    return find(run(facts, aware_at), "eu-gdpr-art33/supervisory_authority")


def test_gdpr_72_hours_run_through_the_weekend() -> None:
    notice = gdpr_authority("2026-03-06T17:00:00+01:00")  # a Friday
    assert notice.due_at == datetime(2026, 3, 9, 17, tzinfo=BERLIN)  # Monday, no roll-forward


def test_gdpr_72_hours_across_the_autumn_clock_change_are_72_elapsed_hours() -> None:
    notice = gdpr_authority("2026-10-23T10:00:00+02:00")  # Berlin leaves summer time on October 25
    assert notice.due_at is not None and notice.starts_at is not None
    assert notice.due_at - notice.starts_at == timedelta(hours=72)
    assert notice.due_at.astimezone(BERLIN).isoformat() == "2026-10-26T09:00:00+01:00"


def test_gdpr_72_hours_across_the_spring_clock_change_are_72_elapsed_hours() -> None:
    notice = gdpr_authority("2026-03-27T10:00:00+01:00")  # summer time starts on March 29
    assert notice.due_at is not None and notice.starts_at is not None
    assert notice.due_at - notice.starts_at == timedelta(hours=72)
    assert notice.due_at.astimezone(BERLIN).isoformat() == "2026-03-30T11:00:00+02:00"


def california_individuals(discovered_at: str, timezone: str) -> Obligation:
    facts = answered(timezone=timezone, affected_by_region={"US-CA": 3}, discovered_at=discovered_at)
    return find(run(facts, "2026-01-01T00:00:00Z"), "us-ca-1798.82/individuals")


def test_30_days_across_the_spring_clock_change_keep_the_local_time_of_day() -> None:
    notice = california_individuals("2026-03-20T10:00:00", "Europe/Berlin")
    assert notice.due_at is not None and notice.starts_at is not None
    assert notice.due_at.astimezone(BERLIN).isoformat() == "2026-04-19T10:00:00+02:00"
    assert notice.due_at - notice.starts_at == timedelta(days=30) - timedelta(hours=1)


def test_30_days_across_the_autumn_clock_change_keep_the_local_time_of_day() -> None:
    notice = california_individuals("2026-10-10T10:00:00", "Europe/Berlin")
    assert notice.due_at is not None and notice.starts_at is not None
    assert notice.due_at.astimezone(BERLIN).isoformat() == "2026-11-09T10:00:00+01:00"
    assert notice.due_at - notice.starts_at == timedelta(days=30, hours=1)


def test_a_date_without_a_time_starts_the_clock_at_the_start_of_that_day_in_the_business_time_zone() -> None:
    notice = california_individuals("2026-03-05", "America/Los_Angeles")
    assert notice.starts_at == datetime(2026, 3, 5, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert notice.due_at == datetime(2026, 4, 4, tzinfo=ZoneInfo("America/Los_Angeles"))


def test_a_due_time_the_spring_change_skips_is_read_as_the_earlier_instant() -> None:
    # 02:30 on March 8, 2026 does not exist in New York; either reading of it is met by the earlier one.
    notice = california_individuals("2026-02-06T02:30:00", "America/New_York")
    assert notice.due_at == utc("2026-03-08T06:30:00Z")


# --- Thresholds, counted per jurisdiction -----------------------------------------------------------------

@pytest.mark.parametrize(("region", "key", "counts"), [
    ("US-CA", "us-ca-1798.82/attorney_general", {499: False, 500: False, 501: True}),
    ("US-WA", "us-wa-19.255.010/attorney_general", {499: False, 500: False, 501: True}),
    ("US-CO", "us-co-6-1-716/attorney_general", {499: False, 500: True, 501: True}),
    ("US-FL", "us-fl-501.171/attorney_general", {499: False, 500: True, 501: True}),
    ("US-TX", "us-tx-521.053/attorney_general", {249: False, 250: True, 251: True}),
    ("US-CO", "us-co-6-1-716/credit_bureaus", {1000: False, 1001: True}),
    ("US-FL", "us-fl-501.171/credit_bureaus", {1000: False, 1001: True}),
    ("US-NY", "us-ny-gbl-899-aa/credit_bureaus", {5000: False, 5001: True}),
    ("US-TX", "us-tx-521.053/credit_bureaus", {10_000: False, 10_001: True}),
])
def test_state_thresholds_at_and_around_each_boundary(region: str, key: str, counts: dict[int, bool]) -> None:
    for count, required in counts.items():
        facts = answered(affected_by_region={region: count}, affected_total=count, discovered_at=T0,
                         determined_at=T0)
        obligation = find(run(facts), key)
        assert (obligation.status != "not_required") is required, (count, obligation.reason)
        if not required:
            assert f"{count:,} affected residents" in obligation.reason and "→ no " in obligation.reason


@pytest.mark.parametrize(("total", "hhs", "log"), [(499, False, True), (500, True, False), (501, True, False)])
def test_hipaa_hhs_with_the_notices_from_500_in_total_else_the_annual_log(total: int, hhs: bool, log: bool) -> None:
    facts = answered(hipaa_role="covered_entity", data_categories=["health"], affected_total=total,
                     affected_by_region={"US-NV": total}, discovered_at=T0)
    result = run(facts)
    assert (find(result, "us-hipaa-164.408/hhs").status == "open") is hhs
    assert (find(result, "us-hipaa-164.408/hhs_annual_log").status == "open") is log


@pytest.mark.parametrize(("count", "required"), [(500, False), (501, True)])
def test_hipaa_media_when_more_than_500_residents_of_one_state(count: int, required: bool) -> None:
    facts = answered(hipaa_role="covered_entity", data_categories=["health"], affected_total=count + 400,
                     affected_by_region={"US-CA": count, "US-NV": 400}, discovered_at=T0)
    media = find(run(facts), "us-hipaa-164.406/media")
    assert (media.status == "open") is required
    assert f"{count} affected residents of US-CA" in media.reason


@pytest.mark.parametrize(("total", "required"), [(499, False), (500, True)])
def test_ftc_safeguards_rule_from_500_consumers(total: int, required: bool) -> None:
    facts = answered(ftc_safeguards_covered=True, affected_total=total, discovered_at=T0)
    assert (find(run(facts), "us-ftc-314.4j/ftc").status == "open") is required


def test_thresholds_count_only_the_residents_of_each_jurisdiction() -> None:
    facts = answered(hipaa_role="covered_entity", data_categories=["health"], affected_total=900,
                     affected_by_region={"US-CA": 450, "US-NY": 450}, discovered_at=T0)
    result = run(facts)
    assert find(result, "us-ca-1798.82/attorney_general").status == "not_required"  # 450 Californians, not 900
    assert find(result, "us-hipaa-164.406/media").status == "not_required"  # no state above 500
    assert find(result, "us-hipaa-164.408/hhs").status == "open"  # 900 in total


def test_a_count_given_for_the_country_only_asks_for_the_states() -> None:
    result = run(answered(affected_by_region={"US": 800}, discovered_at=T0))
    assert not any(o.regime in STATE_LAWS for o in result.obligations)
    assert "affected_by_region" in asked(result)
    # Known state counts still settle what they can.
    mixed = run(answered(affected_by_region={"US": 10, "US-CA": 700}, discovered_at=T0))
    assert find(mixed, "us-ca-1798.82/attorney_general").status == "waiting"


# --- Which data a law covers, and encryption ---------------------------------------------------------------

def test_contact_details_alone_trigger_no_state_law() -> None:
    regions = {"US-CA": 900, "US-CO": 900, "US-FL": 900, "US-WA": 900, "US-TX": 900, "US-NY": 900}
    facts = answered(data_categories=["contact_details"], affected_by_region=regions, discovered_at=T0,
                     determined_at=T0)
    states = [o for o in run(facts).obligations if o.regime in STATE_LAWS]
    assert {o.regime for o in states} == set(STATE_LAWS)
    assert all(o.status == "not_required" and o.due_at is None for o in states)
    assert all("no personal information as this law defines it (contact details alone)" in o.reason for o in states)
    with_ids = run({**facts, "data_categories": ["contact_details", "government_id"]})
    assert all(o.status != "not_required" for o in with_ids.obligations if o.key.endswith("/individuals"))


def test_passwords_are_personal_information_in_california_but_not_in_texas() -> None:
    facts = answered(data_categories=["credentials"], affected_by_region={"US-CA": 5, "US-TX": 5},
                     discovered_at=T0, determined_at=T0)
    result = run(facts)
    assert find(result, "us-ca-1798.82/individuals").status == "open"
    assert find(result, "us-tx-521.053/individuals").status == "not_required"


def test_other_data_alone_asks_what_it_was_instead_of_guessing() -> None:
    result = run(answered(data_categories=["other"], affected_by_region={"US-CA": 5}, discovered_at=T0))
    assert "us-ca-1798.82" not in {o.regime for o in result.obligations}
    question = next(q for q in result.questions if q.fact == "data_categories")
    assert "'other' information" in question.question and "us-ca-1798.82" in question.decides


ENCRYPTED_EXEMPT = ["us-ca-1798.82/individuals", "us-co-6-1-716/individuals", "us-fl-501.171/individuals",
                    "us-wa-19.255.010/individuals", "us-tx-521.053/individuals", "us-ny-gbl-899-aa/individuals",
                    "us-hipaa-164.404/individuals", "us-ftc-314.4j/ftc", "eu-gdpr-art34/individuals"]
ENCRYPTED_STILL_DUE = ["eu-gdpr-art33/supervisory_authority", "us-nydfs-500.17/superintendent",
                       "us-sec-8k-1.05/sec", "ca-pipeda-10.1/commissioner"]


def test_encrypted_data_whose_key_was_not_exposed_is_exempt_where_the_law_says_so() -> None:
    result = run(everything(data_encrypted=True, encryption_key_exposed=False))
    for key in ENCRYPTED_EXEMPT:
        obligation = find(result, key)
        assert obligation.status == "not_required", key
        assert "the data was encrypted and the key was not exposed" in obligation.reason
    for key in ENCRYPTED_STILL_DUE:
        assert find(result, key).status == "open", key


def test_encrypted_data_with_an_exposed_key_is_not_exempt() -> None:
    result = run(everything(data_encrypted=True, encryption_key_exposed=True))
    assert all(find(result, key).status == "open" for key in ENCRYPTED_EXEMPT)


def test_while_encryption_is_unknown_the_notice_stays_due_and_the_question_is_asked() -> None:
    unknown = run(everything(data_encrypted=None))
    assert find(unknown, "us-ca-1798.82/individuals").status == "open"
    assert "data_encrypted" in asked(unknown)
    key_unknown = run(everything(data_encrypted=True))
    assert find(key_unknown, "us-ca-1798.82/individuals").status == "open"
    assert "encryption_key_exposed" in asked(key_unknown)


# --- Law-enforcement delays ----------------------------------------------------------------------------------

DELAY = {"requested_at": "2026-03-03T12:00:00Z", "until": "2026-06-15T00:00:00Z", "requested_by": "the FBI"}


def test_a_law_enforcement_delay_pauses_hipaa_and_state_laws_but_not_gdpr_or_nydfs() -> None:
    result = run(everything(law_enforcement_delay=DELAY))
    for key in ("us-hipaa-164.404/individuals", "us-hipaa-164.406/media", "us-ca-1798.82/individuals",
                "us-tx-521.053/individuals"):
        paused = find(result, key)
        assert paused.paused_by_law_enforcement, key
        assert paused.due_at == utc("2026-06-15T00:00:00Z"), key
        assert "paused by law enforcement until 2026-06-15 00:00 +00:00" in paused.due_text
    for key in ("eu-gdpr-art33/supervisory_authority", "uk-gdpr-art33/supervisory_authority",
                "us-nydfs-500.17/superintendent", "us-ftc-314.4j/ftc", "us-tx-521.053/attorney_general"):
        running = find(result, key)
        assert not running.paused_by_law_enforcement, key
        assert running.due_at is not None and running.due_at < utc("2026-06-15T00:00:00Z"), key


def test_the_sec_filing_pauses_only_for_a_us_attorney_general_determination() -> None:
    result = run(everything(law_enforcement_delay=DELAY))
    assert find(result, "us-sec-8k-1.05/sec").due_at == utc("2026-03-06T09:00:00Z")
    assert "law_enforcement_delay.us_attorney_general_determination" in asked(result)
    attorney_general = {**DELAY, "us_attorney_general_determination": True}
    sec = find(run(everything(law_enforcement_delay=attorney_general)), "us-sec-8k-1.05/sec")
    assert sec.paused_by_law_enforcement and sec.due_at == utc("2026-06-15T00:00:00Z")
    other = {**DELAY, "us_attorney_general_determination": False}
    assert not find(run(everything(law_enforcement_delay=other)), "us-sec-8k-1.05/sec").paused_by_law_enforcement


def test_a_delay_ending_before_the_deadline_changes_nothing() -> None:
    short = {**DELAY, "until": "2026-03-10"}
    notice = find(run(everything(law_enforcement_delay=short)), "us-ca-1798.82/individuals")
    assert (notice.due_at, notice.paused_by_law_enforcement) == (utc("2026-04-01T09:00:00Z"), False)


def test_a_delay_asked_for_after_the_deadline_does_not_cure_it() -> None:
    late = {"requested_at": "2026-04-02", "until": "2026-06-15"}
    notice = find(run(everything(law_enforcement_delay=late), "2026-04-03T00:00:00Z"), "us-ca-1798.82/individuals")
    assert (notice.status, notice.paused_by_law_enforcement) == ("overdue", False)


def test_a_delay_without_an_end_leaves_no_due_time_and_asks_until_when() -> None:
    result = run(everything(law_enforcement_delay={"requested_at": "2026-03-03"}))
    notice = find(result, "us-hipaa-164.404/individuals")
    assert (notice.due_at, notice.paused_by_law_enforcement, notice.status) == (None, True, "open")
    assert "law_enforcement_delay.until" in asked(result)


# --- Unknown facts become questions, never guesses ---------------------------------------------------------

def test_empty_facts_list_nothing_and_ask_what_decides_applicability() -> None:
    result = run({})
    assert result.obligations == []
    assert {"affected_by_region", "public_company", "nydfs_regulated", "ftc_safeguards_covered",
            "hipaa_role"} <= asked(result)
    assert all(q.question.endswith("?") or q.question.endswith(".") for q in result.questions)


def test_an_unknown_role_hides_the_regime_and_asks_for_the_role() -> None:
    result = run(answered(gdpr_role=None, affected_by_region={"DE": 4}, aware_at=T0))
    assert not any(o.regime.startswith("eu-gdpr") for o in result.obligations)
    question = next(q for q in result.questions if q.fact == "gdpr_role")
    assert {"eu-gdpr-art33", "eu-gdpr-art34", "eu-gdpr-art33-processor"} <= set(question.decides)


def test_the_hipaa_role_is_asked_only_when_health_data_was_involved() -> None:
    assert "hipaa_role" in asked(run(answered(hipaa_role=None, data_categories=["health"])))
    assert "hipaa_role" not in asked(run(answered(hipaa_role=None, data_categories=["contact_details"])))


def test_an_unknown_starting_event_waits_and_is_asked_for() -> None:
    result = run(answered(affected_by_region={"DE": 4}))
    authority = find(result, "eu-gdpr-art33/supervisory_authority")
    assert (authority.status, authority.due_at, authority.due_text) == ("waiting", None,
                                                                        "72 hours after you became aware")
    assert "aware_at" in asked(result)


def test_an_unknown_threshold_count_is_asked_for() -> None:
    result = run(answered(ftc_safeguards_covered=True, discovered_at=T0))
    assert "us-ftc-314.4j/ftc" not in keys(result)
    assert "affected_total" in asked(result)


def test_gdpr_risk_unassessed_keeps_the_authority_notice_due_and_the_individual_notice_waiting() -> None:
    result = run(answered(affected_by_region={"DE": 4}, aware_at=T0))
    assert find(result, "eu-gdpr-art33/supervisory_authority").status == "open"
    assert find(result, "eu-gdpr-art34/individuals").status == "waiting"
    assert "risk.gdpr" in asked(result)


@pytest.mark.parametrize(("risk", "authority", "individuals"), [
    ("unlikely", "not_required", "not_required"), ("risk", "open", "not_required"), ("high", "open", "open")])
def test_gdpr_risk_assessment_decides_articles_33_and_34(risk: str, authority: str, individuals: str) -> None:
    result = run(answered(affected_by_region={"DE": 4, "GB": 2}, aware_at=T0, risk={"gdpr": risk}))
    assert find(result, "eu-gdpr-art33/supervisory_authority").status == authority
    assert find(result, "uk-gdpr-art33/supervisory_authority").status == authority
    assert find(result, "eu-gdpr-art34/individuals").status == individuals


def test_a_processor_tells_its_controller_instead() -> None:
    result = run(answered(gdpr_role="processor", affected_by_region={"FR": 4}, aware_at=T0))
    assert keys(result) == {"eu-gdpr-art33-processor/controller"}
    assert find(result, "eu-gdpr-art33-processor/controller").due_text == "without undue delay"


def test_a_hipaa_business_associate_tells_the_covered_entity_within_60_days() -> None:
    result = run(answered(hipaa_role="business_associate", data_categories=["health"], discovered_at=T0))
    assert {k for k in keys(result) if "hipaa" in k} == {"us-hipaa-164.410/covered_entity"}
    assert find(result, "us-hipaa-164.410/covered_entity").due_at == utc("2026-05-01T09:00:00Z")


def test_pipeda_reports_on_a_real_risk_of_significant_harm_and_records_every_breach() -> None:
    facts = answered(affected_by_region={"CA": 3}, determined_at=T0,
                     risk={"pipeda_real_risk_of_significant_harm": False})
    result = run(facts)
    assert find(result, "ca-pipeda-10.1/commissioner").status == "not_required"
    assert find(result, "ca-pipeda-10.1/record").status == "open"


@pytest.mark.parametrize(("turnover", "health", "status"), [
    (False, False, "not_required"), (False, True, "open"), (True, False, "open"), (None, None, "open")])
def test_australia_small_business_exemption_except_health_providers(turnover: bool | None, health: bool | None,
                                                                    status: str) -> None:
    facts = answered(affected_by_region={"AU": 7}, aware_at=T0, australia_turnover_over_3m=turnover,
                     health_service_provider=health)
    result = run(facts)
    assessment = find(result, "au-privacy-ndb/assessment")
    assert assessment.status == status
    if status == "not_required":
        assert "small business operator" in assessment.reason
    if turnover is None:
        assert {"australia_turnover_over_3m", "health_service_provider"} <= asked(result)


def test_the_australian_assessment_is_done_once_recorded_and_then_the_statement_is_due() -> None:
    result = run(answered(affected_by_region={"AU": 7}, aware_at=T0, determined_at=T0,
                          risk={"ndb_likely_serious_harm": True}))
    assert find(result, "au-privacy-ndb/assessment").status == "done"
    assert find(result, "au-privacy-ndb/commissioner").due_text == "as soon as practicable"
    assert find(result, "au-privacy-ndb/commissioner").status == "open"


def test_a_decision_not_to_notify_is_shown_with_its_reason() -> None:
    whole = run(everything(decision_not_to_notify={"us-ca-1798.82": "Counsel: the data was public."}))
    for key in ("us-ca-1798.82/individuals", "us-ca-1798.82/attorney_general"):
        assert find(whole, key).status == "not_required"
        assert find(whole, key).reason == "California: decided not to notify: Counsel: the data was public."
    one = run(everything(decision_not_to_notify={"us-tx-521.053/credit_bureaus": "Fewer than 10,000 in all."}))
    assert find(one, "us-tx-521.053/credit_bureaus").status == "not_required"
    assert find(one, "us-tx-521.053/individuals").status == "open"


@pytest.mark.parametrize(("facts", "message"), [
    ({"decision_not_to_notify": {"us-ca-1798.83": "x"}}, "decision_not_to_notify.us-ca-1798.83: no regime"),
    ({"notified": {"us-ca-1798.82/sheriff": "2026-03-03"}}, "notified.us-ca-1798.82/sheriff: no regime"),
    ({"notified": {"us-ca-1798.82": "2026-03-03"}}, "notified.us-ca-1798.82: name the notice"),
])
def test_unknown_obligation_ids_are_named(facts: dict[str, Any], message: str) -> None:
    with pytest.raises(FactsError, match=message):
        run(facts)


def test_laws_breachroom_does_not_hold_are_said_to_be_missing() -> None:
    assert run(answered(affected_by_region={"US-NV": 40, "US-CA": 3, "JP": 2})).uncovered_regions == {
        "US-NV": 40, "JP": 2}


def test_obligations_are_listed_most_urgent_first() -> None:
    statuses = [o.status for o in run(everything(), "2026-03-05T12:00:00Z").obligations]
    assert statuses == sorted(statuses, key=["overdue", "open", "waiting", "done", "not_required"].index)
    dues = [o.due_at for o in run(everything()).obligations if o.status == "open" and o.due_at]
    assert dues == sorted(dues)


def test_now_must_be_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        obligations(parse_facts({}), now=datetime(2026, 3, 2))


# --- The facts file ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "expected"), [
    ({"timezone": "Europe/Berlinn"}, "timezone: unknown time zone 'Europe/Berlinn'"),
    ({"aware_at": "last Tuesday"}, "aware_at: not a date: 'last Tuesday'"),
    ({"risk": {"gdpr": "medium"}}, "risk.gdpr: input should be 'unlikely', 'risk' or 'high' (got 'medium')"),
    ({"risk": {"gdrp": "high"}}, "risk.gdrp: unknown key (known keys here: gdpr, "),
    ({"hipaa_role": "covered"}, "hipaa_role: input should be 'covered_entity', 'business_associate' or 'neither'"),
    ({"gdpr_role": "owner"}, "gdpr_role: input should be 'controller' or 'processor'"),
    ({"public_company": "maybe"}, "public_company: should be true or false (got 'maybe')"),
    ({"decision_not_to_notify": {"California": "x"}}, "decision_not_to_notify.California: not a regime id"),
    ({"notified": {"us-ca-1798.82/individuals": "soon"}}, "notified.us-ca-1798.82/individuals: not a date"),
    ({"law_enforcement_delay": {"us_attorney_general_determination": "perhaps"}},
     "law_enforcement_delay.us_attorney_general_determination: should be true or false"),
])
def test_bad_clock_facts_give_one_line_naming_the_key(facts: dict[str, Any], expected: str) -> None:
    with pytest.raises(FactsError) as caught:
        parse_facts(facts)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


def test_clock_facts_default_to_unknown_and_utc() -> None:
    facts = parse_facts({"timezone": None, "risk": None})
    assert facts.timezone == "UTC" and facts.risk.gdpr is None
    assert facts.public_company is None and facts.hipaa_role is None and facts.decision_not_to_notify == {}
    full = parse_facts(everything(notified={"us-sec-8k-1.05": T0}))
    assert parse_facts(json.loads(full.model_dump_json())) == full


# --- The law data -----------------------------------------------------------------------------------------

ISSUE_REGIMES = {"eu-gdpr-art33", "eu-gdpr-art33-processor", "eu-gdpr-art34", "uk-gdpr-art33", "uk-gdpr-art34",
                 "us-hipaa-164.404", "us-hipaa-164.406", "us-hipaa-164.408", "us-hipaa-164.410", "us-sec-8k-1.05",
                 "us-nydfs-500.17", "ca-pipeda-10.1", "au-privacy-ndb", "us-ftc-314.4j", *STATE_LAWS}


def test_every_regime_has_a_citation_a_starting_event_and_a_well_formed_deadline() -> None:
    regimes = load_regimes()
    assert {r.id for r in regimes} >= ISSUE_REGIMES
    for regime in regimes:
        assert regime.citation.strip(), regime.id
        assert regime.clocks is not None and regime.clocks.notices, regime.id
        for notice in regime.clocks.notices:
            where = f"{regime.id}/{notice.to}"
            assert notice.citation.strip() and notice.who.strip() and notice.what.strip(), where
            assert notice.starts_from in EVENTS, where
            deadline = notice.deadline
            assert (deadline.length is not None) == (deadline.unit in TIMED_UNITS), where
            assert deadline.length is None or deadline.length > 0, where


def test_deadline_only_regimes_never_change_the_letter() -> None:
    letter = {r.id for r in applicable(parse_facts(everything()))}
    assert letter == {"us-ca-1798.82", "eu-gdpr-art34", "uk-gdpr-art34", "us-hipaa-164.404"}


GOOD_REGIME = """\
regimes:
  - id: xx-test
    name: Test
    citation: Test § 1
    audience: Testers
    clocks:
      short: Test
      jurisdiction: any
      covers: any
      notices:
        - to: individuals
          who: Everyone
          what: notice
          starts_from: aware_at
          deadline: {length: 30, unit: days}
          citation: Test § 1(a)
"""


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{length: 30, unit: days}", "{unit: days}", "a deadline in days needs a length"),
    ("{length: 30, unit: days}", "{length: 3, unit: without_undue_delay}", "has no length"),
    ("unit: days}", "unit: fortnights}", r"deadline\.unit"),
    ("starts_from: aware_at", "starts_from: noticed_at", r"notices\.0\.starts_from"),
    ("Test § 1(a)\n", "Test § 1(a)\n          threshold: {count: residents, more_than: 5, at_least: 5}\n",
     "exactly one of more_than"),
    ("Test § 1(a)\n", "Test § 1(a)\n          law_enforcment_delay: allowed\n", "law_enforcment_delay"),
    ("covers: any", "covers: [ssn]", "unknown data categories: ssn"),
])
def test_a_malformed_regime_entry_is_refused_with_its_place(tmp_path: Path, old: str, new: str,
                                                            message: str) -> None:
    good, broken = tmp_path / "good.yml", tmp_path / "broken.yml"
    good.write_text(GOOD_REGIME, encoding="utf-8")
    assert [r.id for r in load_regimes(good)] == ["xx-test"]
    assert old in GOOD_REGIME
    broken.write_text(GOOD_REGIME.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError, match=message):
        load_regimes(broken)


# --- The command line -------------------------------------------------------------------------------------

FACTS = {
    "company": {"name": "Acme Bookkeeping LLC"},
    "timezone": "America/Los_Angeles",
    "aware_at": "2026-03-04T16:20:00",
    "discovered_at": "2026-03-05",
    "determined_at": "2026-03-06T11:00:00",
    "data_categories": ["contact_details", "credentials"],
    "affected_total": 852,
    "affected_by_region": {"US-CA": 812, "US-NV": 40},
    "data_encrypted": False,
    "public_company": False,
    "nydfs_regulated": False,
    "ftc_safeguards_covered": True,
}


def cli() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="breachroom")
    add_obligations_parser(top.add_subparsers(dest="command", required=True))
    return top


def call(tmp_path: Path, capsys: pytest.CaptureFixture[str], facts: object, *argv: str) -> tuple[int, str, str]:
    path = tmp_path / "facts.json"
    path.write_text(facts if isinstance(facts, str) else json.dumps(facts), encoding="utf-8")
    args = cli().parse_args(["obligations", "--facts", str(path), *argv])
    code = args.run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_lists_obligations_with_local_offsets_and_questions(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(tmp_path, capsys, FACTS, "--now", "2026-03-10T09:00", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["now"] == "2026-03-10T09:00:00-07:00"
    for item in data["obligations"]:
        assert {"regime", "audience", "starts_from", "due_at", "reason", "citation", "status"} <= set(item)
    by_key = {o["key"]: o for o in data["obligations"]}
    california = by_key["us-ca-1798.82/individuals"]
    assert california["due_at"] == "2026-04-04T00:00:00-07:00"
    assert (california["regime"], california["starts_from"], california["status"]) == (
        "us-ca-1798.82", "discovered_at", "open")
    sample = by_key["us-ca-1798.82/attorney_general"]
    assert (sample["due_at"], sample["status"], sample["due_text"]) == (None, "waiting", "15 days after you notify")
    assert sample["reason"] == "California: 812 affected residents > 500 → Attorney General sample copy"
    assert by_key["us-ftc-314.4j/ftc"]["status"] == "open"
    assert all({"fact", "question"} <= set(q) for q in data["questions"])
    assert data["regions_without_regimes"] == {"US-NV": 40}


def test_cli_table_is_readable_and_ends_with_the_no_legal_advice_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(tmp_path, capsys, {**FACTS, "nydfs_regulated": None}, "--now", "2026-03-10T09:00:00-07:00")
    assert code == 0
    lines = out.rstrip("\n").splitlines()
    assert lines[-1] == DISCLAIMER and "does not give legal advice" in lines[-1]
    assert "Times in America/Los_Angeles; now is 2026-03-10 09:00 -07:00." in out
    assert "OPEN          Affected California residents" in out
    assert "due:  2026-04-04 00:00 -07:00, 24 days 15 hours left (30 days after discovery)" in out
    assert "WAITING       California Attorney General" in out
    assert "[nydfs_regulated]" in out and "US-NV (40)" in out


@pytest.mark.parametrize(("facts", "argv", "expected"), [
    ('{"data_categories": ["ssn"]}', (), "facts.json: data_categories.0: unknown category 'ssn'"),
    ("{", (), "facts.json is not valid JSON"),
    (FACTS, ("--now", "yesterday"), "--now: not a date or time: 'yesterday'"),
    ({"decision_not_to_notify": {"us-zz-1": "x"}}, (), "decision_not_to_notify.us-zz-1: no regime"),
    ({"timezone": "Mars/Olympus"}, (), "timezone: unknown time zone 'Mars/Olympus'"),
])
def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], facts: object,
                                            argv: tuple[str, ...], expected: str) -> None:
    code, out, err = call(tmp_path, capsys, facts, *argv)
    assert code == 2 and out == ""
    assert err.startswith("breachroom: ") and expected in err
    assert len(err.strip().splitlines()) == 1


def test_cli_names_a_missing_facts_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = cli().parse_args(["obligations", "--facts", str(tmp_path / "absent.json")])
    assert args.run(args) == 2
    assert "cannot read" in capsys.readouterr().err


RUN_CLI = (
    "import argparse, sys\n"
    "from breachroom.obligations_cli import add_obligations_parser\n"
    "top = argparse.ArgumentParser(prog='breachroom')\n"
    "add_obligations_parser(top.add_subparsers(dest='command', required=True))\n"
    "args = top.parse_args(sys.argv[1:])\n"
    "sys.exit(args.run(args))\n"
)


def test_cli_end_to_end_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text(json.dumps(FACTS), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", RUN_CLI, "obligations", "--facts", "facts.json", "--now",
                           "2026-03-10T09:00", "--format", "json"], cwd=tmp_path, env=dict(os.environ),
                          capture_output=True, text=True, encoding="utf-8", timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["obligations"][0]["due_at"] == "2026-04-04T00:00:00-07:00"
    bad = subprocess.run([sys.executable, "-c", RUN_CLI, "obligations", "--facts", "nowhere.json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
