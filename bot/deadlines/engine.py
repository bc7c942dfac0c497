"""Which notification obligations a breach creates, by when, and which facts are still needed to tell.

`obligations(facts, now=…)` reads the regimes' clocks in regimes.yml against one incident's facts. It answers with
each obligation that applies (open, overdue, waiting for an event, done, or not required and why) and with the
questions whose answers decide the rest. It never guesses: when a fact that decides whether a law applies is
missing, the obligation is left out and the fact is asked for. How deadlines are counted: see `bot.deadlines.due`.
Breachroom informs; it does not give legal advice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.deadlines import applicability
from bot.deadlines.due import due_at
from bot.deadlines.rules import Clocks, DelayRule, Notice
from bot.deadlines.wording import QUESTIONS, RISK_WORDS, deadline_words, moment
from bot.notices.facts import Facts, FactsError
from bot.notices.regimes import Regime, load_regimes

Status = Literal["open", "overdue", "done", "not_required", "waiting"]
STATUSES: tuple[Status, ...] = ("overdue", "open", "waiting", "done", "not_required")
# Events a person records as they happen; the others (notifying, paying a ransom) are not asked about.
ASKED_EVENTS = ("aware_at", "discovered_at", "determined_at", "materiality_determined_at")


@dataclass(frozen=True)
class Obligation:
    """One notice one law asks for. `key` (`<regime>/<to>`) names it in the facts' `notified` and
    `decision_not_to_notify` maps and wherever it is marked done."""

    key: str
    regime: str
    regime_name: str
    audience: str
    starts_from: str
    starts_at: datetime | None
    due_at: datetime | None
    due_text: str
    reason: str
    citation: str
    status: Status
    paused_by_law_enforcement: bool = False
    done_at: datetime | None = None
    note: str | None = None

    def time_left(self, now: datetime) -> timedelta | None:
        """Negative once overdue; None without a due time."""
        return None if self.due_at is None else self.due_at - now

    @property
    def late_by(self) -> timedelta | None:
        """How late the notice was given, for the post-incident summary; None when on time or not yet given."""
        if self.done_at is None or self.due_at is None or self.done_at <= self.due_at:
            return None
        return self.done_at - self.due_at


@dataclass(frozen=True)
class Question:
    """A fact still needed, the question that asks for it, and the regimes whose obligations its answer may add,
    remove or change (`decides`)."""

    fact: str
    question: str
    decides: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    obligations: list[Obligation]
    questions: list[Question]
    now: datetime
    timezone: str
    # Where affected people live whose laws regimes.yml does not hold (every US state has a breach law): silence
    # about them must not read as "nothing to do".
    uncovered_regions: dict[str, int] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class _Questions:
    """The facts asked for so far, each once, with every regime that waits on it."""

    def __init__(self) -> None:
        self._asked: dict[str, list[str]] = {}

    def ask(self, keys: tuple[str, ...], regime: str) -> None:
        for key in keys:
            waiting = self._asked.setdefault(key, [])
            if regime not in waiting:
                waiting.append(regime)

    def questions(self) -> list[Question]:
        return [Question(key.removesuffix(".other"), QUESTIONS[key], tuple(regimes))
                for key, regimes in self._asked.items()]


@dataclass
class _Scene:
    """What is known about one regime for this breach, shared by its notices."""

    regime: Regime
    clocks: Clocks
    facts: Facts
    now: datetime
    asks: _Questions
    # Why the law applies, in words: who is affected, what the business is.
    parts: list[str] = field(default_factory=list)
    # Why none of its notices is owed (the data is not covered, an exemption), if so.
    off: str | None = None

    def applies(self, notice: Notice, parts: list[str]) -> str:
        why = "; ".join(p for p in parts if p)
        return f"{self.clocks.short}: {why} → {notice.what}" if why else f"{self.clocks.short} → {notice.what}"

    def not_required(self, notice: Notice, why: str) -> str:
        return f"{self.clocks.short}: {why} → no {notice.what}"


def obligations(facts: Facts, *, now: datetime, regimes: list[Regime] | None = None) -> Result:
    """Every obligation these facts create, and the questions still open.

    Example: `obligations(load_facts("facts.json"), now=datetime.now(UTC)).obligations[0].due_at`.
    Raises FactsError when `notified` or `decision_not_to_notify` names a regime or notice that does not exist.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    with_clocks = [r for r in (regimes if regimes is not None else load_regimes()) if r.clocks is not None]
    _check_keys(facts, with_clocks)
    asks = _Questions()
    found: list[Obligation] = []
    for regime in with_clocks:
        found += _for_regime(regime, facts, now, asks)
    # Most urgent first; among equals, the order of regimes.yml.
    found.sort(key=lambda o: (STATUSES.index(o.status), o.due_at is None, o.due_at or now))
    return Result(found, asks.questions(), now, facts.timezone, _uncovered(facts, with_clocks))


def _uncovered(facts: Facts, regimes: list[Regime]) -> dict[str, int]:
    places = [code for r in regimes if r.clocks and r.clocks.jurisdiction != "any" for code in r.clocks.jurisdiction]
    return {code: n for code, n in facts.affected_by_region.items()
            if n and not applicability.inside(code, places) and not applicability.around(code, places)}


def _check_keys(facts: Facts, regimes: list[Regime]) -> None:
    notices = {r.id: [n.to for n in r.clocks.notices] for r in regimes if r.clocks}
    known = set(notices) | {f"{regime}/{to}" for regime, tos in notices.items() for to in tos}
    for name in ("decision_not_to_notify", "notified"):
        for key in getattr(facts, name):
            if key not in known:
                raise FactsError(f"{name}.{key}: no regime or notice has this id (see regimes.yml; a notice is "
                                 "named like us-ca-1798.82/attorney_general)")
    for key in facts.notified:
        if key in notices and len(notices[key]) > 1:
            raise FactsError(f"notified.{key}: name the notice that was given: "
                             f"{', '.join(f'{key}/{to}' for to in notices[key])}")


def _for_regime(regime: Regime, facts: Facts, now: datetime, asks: _Questions) -> list[Obligation]:
    clocks = regime.clocks
    assert clocks is not None
    where = applicability.jurisdiction(clocks, facts)
    if where.holds is False:
        return []
    role = applicability.engaged(clocks, facts)
    if role.holds is False:
        return []
    if where.holds is None or role.holds is None:
        asks.ask(where.unknown + role.unknown, regime.id)
        return []
    data = applicability.data(clocks, facts)
    if data.holds is None:
        asks.ask(data.unknown, regime.id)
        return []
    scene = _Scene(regime, clocks, facts, now, asks, parts=[where.says, role.says])
    if data.holds is False:
        scene.off = data.says
    else:
        for check in (applicability.exemption(clocks, facts), applicability.encryption(clocks, facts)):
            if check.holds:
                scene.off = check.says
                break
            asks.ask(check.unknown, regime.id)
    return [o for o in (_obligation(scene, n) for n in clocks.notices) if o is not None]


def _done_at(scene: _Scene, notice: Notice, key: str) -> datetime | None:
    facts = scene.facts
    given = facts.notified.get(key) or facts.notified.get(scene.regime.id)
    if given is None and notice.to == "individuals":
        given = facts.individuals_notified_at
    return facts.instant(given)


def _obligation(scene: _Scene, notice: Notice) -> Obligation | None:
    """The notice's obligation and status, or None while a fact that decides it is missing (it is asked for)."""
    facts, regime, clocks = scene.facts, scene.regime, scene.clocks
    key = f"{regime.id}/{notice.to}"
    start = facts.instant(getattr(facts, notice.starts_from))
    if notice.only_if_event and start is None:
        return None
    words = deadline_words(notice.deadline, notice.starts_from)
    due = due_at(notice.deadline, start, facts.zone) if start is not None else None

    def make(status: Status, reason: str, *, done_at: datetime | None = None) -> Obligation:
        when, paused, pause_words = None, False, None
        if status != "not_required":  # a notice nobody owes has no due time to pause
            when, paused, pause_words = _pause(scene, clocks.delay_rule(notice), due)
        return Obligation(key=key, regime=regime.id, regime_name=regime.name, audience=notice.who,
                          starts_from=notice.starts_from, starts_at=start, due_at=when,
                          due_text=f"{words}; {pause_words}" if pause_words else words, reason=reason,
                          citation=notice.citation, status=status, paused_by_law_enforcement=paused,
                          done_at=done_at, note=notice.note)

    parts = list(scene.parts)
    done_at = _done_at(scene, notice, key)
    if done_at is not None:
        return make("done", scene.applies(notice, parts), done_at=done_at)
    decided = facts.decision_not_to_notify.get(key) or facts.decision_not_to_notify.get(regime.id)
    if decided is not None:
        return make("not_required", f"{clocks.short}: decided not to notify: {decided}")
    if scene.off is not None:
        return make("not_required", scene.not_required(notice, scene.off))
    if notice.threshold is not None:
        count = applicability.count_for(notice.threshold, clocks, facts)
        crossed = applicability.crosses(notice.threshold, count)
        if crossed is None or count is None:
            scene.asks.ask(("affected_total",) if notice.threshold.count == "total" else ("affected_by_region",),
                           regime.id)
            return None
        said = applicability.threshold_words(notice.threshold, clocks, count, crossed)
        if not crossed:
            return make("not_required", scene.not_required(notice, said))
        if notice.threshold.count == "residents":
            parts[0] = said  # "812 affected residents > 500" says the count already
        else:
            parts.append(said)
    if notice.risk is not None:
        rule = notice.risk
        value = getattr(facts.risk, rule.fact)
        if value is None:
            scene.asks.ask((f"risk.{rule.fact}",), regime.id)
            if rule.required is not None:
                return make("waiting", scene.applies(notice, [*parts, "waiting for the risk assessment"]))
        elif not rule.leaves_notice_due(value):
            return make("not_required", scene.not_required(notice, RISK_WORDS[rule.fact][value]))
        else:
            parts.append(RISK_WORDS[rule.fact][value])
    reason = scene.applies(notice, parts)
    if notice.done_when_assessed is not None and getattr(facts.risk, notice.done_when_assessed) is not None:
        return make("done", reason)
    if start is None:
        if notice.starts_from in ASKED_EVENTS:
            scene.asks.ask((notice.starts_from,), regime.id)
        return make("waiting", reason)
    obligation = make("open", reason)
    if obligation.due_at is not None and scene.now > obligation.due_at:
        return replace(obligation, status="overdue")
    return obligation


def _pause(scene: _Scene, rule: DelayRule, due: datetime | None) -> tuple[datetime | None, bool, str | None]:
    """A law-enforcement delay, where the law allows one, moves the due time to the end of the delay if later.

    A delay asked for after the deadline had passed does not cure the lateness. Returns the due time, whether the
    obligation is paused, and words for the due text.
    """
    facts, regime = scene.facts, scene.regime
    delay = facts.law_enforcement_delay
    if delay is None or rule == "not_allowed":
        return due, False, None
    if rule == "us_attorney_general_only" and not delay.us_attorney_general_determination:
        if delay.us_attorney_general_determination is None:
            scene.asks.ask(("law_enforcement_delay.us_attorney_general_determination",), regime.id)
        return due, False, None
    requested, until = facts.instant(delay.requested_at), facts.instant(delay.until)
    if requested is not None and due is not None and requested > due:
        return due, False, None
    if until is None:
        scene.asks.ask(("law_enforcement_delay.until",), regime.id)
        return None, True, "paused by law enforcement until it says notice may go ahead"
    if due is None:
        active = until > scene.now
        return None, active, f"paused by law enforcement until {moment(until, facts.zone)}" if active else None
    if until > due:
        return until, True, f"paused by law enforcement until {moment(until, facts.zone)}"
    return due, False, None
