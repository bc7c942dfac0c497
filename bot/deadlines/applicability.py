"""Whether a regime applies to a breach, read strictly from the facts: yes, no, or not known yet.

Each check answers `holds` True, False or None. None comes with the facts that would decide it, so that the
engine can ask for them instead of guessing; every answer comes with the words that explain it in a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.deadlines.rules import Clocks, Exemption, Threshold
from bot.deadlines.wording import categories
from bot.notices.facts import Facts


@dataclass(frozen=True)
class Check:
    holds: bool | None
    says: str = ""
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class Count:
    """A head count from the facts: exact, or only a lower bound (some people's state or country is unknown)."""

    low: int
    exact: bool
    where: str = ""

    def words(self) -> str:
        return f"{self.low:,}" if self.exact else f"at least {self.low:,}"


def inside(code: str, rules: list[str]) -> bool:
    """`US-CA` is inside `US-CA` and inside `US`."""
    return any(code == rule or code.startswith(rule + "-") for rule in rules)


def around(code: str, rules: list[str]) -> bool:
    """`US` may hold residents of `US-CA`: the facts name the country but not the state."""
    return any(rule.startswith(code + "-") for rule in rules)


def residents(facts: Facts, jurisdiction: list[str]) -> Count | None:
    """Affected residents of a jurisdiction; None while nobody has said where anyone lives."""
    regions = facts.affected_by_region
    if not regions:
        return None
    low = sum(n for code, n in regions.items() if inside(code, jurisdiction))
    vague = any(n for code, n in regions.items() if around(code, jurisdiction))
    return Count(low, exact=not vague)


def total(facts: Facts) -> Count | None:
    if facts.affected_total is not None:
        return Count(facts.affected_total, exact=True)
    if facts.affected_by_region:
        return Count(sum(facts.affected_by_region.values()), exact=False)
    return None


def largest_state(facts: Facts) -> Count | None:
    """The affected residents of the US state with the most of them."""
    regions = facts.affected_by_region
    if not regions:
        return None
    states = {code: n for code, n in regions.items() if code.startswith("US-")}
    code, low = max(states.items(), key=lambda item: item[1], default=("", 0))
    return Count(low, exact=not regions.get("US"), where=code)


def jurisdiction(clocks: Clocks, facts: Facts) -> Check:
    """Does the breach touch the people this law protects? Says how many, for the reasons."""
    if clocks.jurisdiction == "any":
        return Check(True)
    count = residents(facts, clocks.jurisdiction)
    if count is None or (count.low == 0 and not count.exact):
        return Check(None, unknown=("affected_by_region",))
    if count.low > 0:
        return Check(True, f"{count.words()} affected {clocks.people}")
    return Check(False)


def engaged(clocks: Clocks, facts: Facts) -> Check:
    """Do the facts about the business (its role, its regulator) bring it under the law?"""
    says: list[str] = []
    unknown: list[str] = []
    for rule in clocks.engaged_if:
        value = getattr(facts, rule.fact)
        if value is None:
            relevant = rule.ask_if_data is None or not facts.data_categories or any(
                facts.involves(c) for c in rule.ask_if_data)
            if not relevant:
                return Check(False)
            unknown.append(rule.fact)
        elif value in rule.is_:
            says.append(rule.says)
        else:
            return Check(False)
    return Check(None, unknown=tuple(unknown)) if unknown else Check(True, "; ".join(says))


def data(clocks: Clocks, facts: Facts) -> Check:
    """Was personal information as this law defines it involved?"""
    if clocks.covers == "any":
        return Check(True)
    involved = facts.data_categories
    if not involved:
        return Check(None, unknown=("data_categories",))
    covered = [c for c in involved if c in clocks.covers]
    if covered:
        return Check(True, f"{categories(covered)} involved")
    if "other" in involved:
        return Check(None, unknown=("data_categories.other",))
    alone = " alone" if len(involved) == 1 else ""
    return Check(False, f"no personal information as this law defines it ({categories(involved)}{alone})")


def encryption(clocks: Clocks, facts: Facts) -> Check:
    """Is the breach exempt because the data was encrypted and its key stayed safe? Unknown: not exempt yet."""
    if not clocks.encryption_exempt or facts.data_encrypted is False:
        return Check(False)
    if facts.data_encrypted is None:
        return Check(None, unknown=("data_encrypted",))
    if facts.encryption_key_exposed is None:
        return Check(None, unknown=("encryption_key_exposed",))
    if facts.encryption_key_exposed:
        return Check(False)
    return Check(True, "the data was encrypted and the key was not exposed")


def _exempt_by(rule: Exemption, facts: Facts) -> Check:
    unknown: list[str] = []
    for fact, wanted in rule.facts.items():
        value = getattr(facts, fact)
        if value is None:
            unknown.append(fact)
        elif value != wanted:
            return Check(False)
    return Check(None, unknown=tuple(unknown)) if unknown else Check(True, rule.because)


def exemption(clocks: Clocks, facts: Facts) -> Check:
    """Does an exemption of the law take the business out? Unknown: not exempt yet (the questions say why)."""
    unknown: list[str] = []
    for rule in clocks.exempt_if:
        check = _exempt_by(rule, facts)
        if check.holds:
            return check
        unknown += check.unknown
    return Check(None, unknown=tuple(unknown)) if unknown else Check(False)


def count_for(threshold: Threshold, clocks: Clocks, facts: Facts) -> Count | None:
    if threshold.count == "total":
        return total(facts)
    if threshold.count == "largest_state":
        return largest_state(facts)
    return residents(facts, [] if clocks.jurisdiction == "any" else clocks.jurisdiction)


def crosses(threshold: Threshold, count: Count | None) -> bool | None:
    """Whether the count meets the threshold; None when only a lower bound is known and it does not settle it."""
    if count is None:
        return None
    op, bound = threshold.bound
    if op == ">":
        return True if count.low > bound else (False if count.exact else None)
    if op == "≥":
        return True if count.low >= bound else (False if count.exact else None)
    return False if count.low >= bound else (True if count.exact else None)


def threshold_words(threshold: Threshold, clocks: Clocks, count: Count, crossed: bool) -> str:
    """"812 affected residents > 500", or for a threshold not met, "400 affected residents ≤ 500"."""
    op, bound = threshold.bound
    if not crossed:
        op = {">": "≤", "≥": "<", "<": "≥"}[op]
    who = {"residents": f"affected {clocks.people}", "total": "affected in total",
           "largest_state": f"affected residents of {count.where or 'one state'}"}[threshold.count]
    return f"{count.words()} {who} {op} {bound:,}"
