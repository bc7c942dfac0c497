"""The shape of a regime's `clocks` in regimes.yml: who must be told, from which event, within how long, and when
the law asks for it at all.

It is checked when the file is read, so that a typo in the law data stops the program with a message instead of
quietly hiding a deadline.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.notices.facts import CATEGORIES, Facts

# The recorded events a clock can start from, in the order an incident usually meets them.
Event = Literal["aware_at", "discovered_at", "determined_at", "materiality_determined_at", "extortion_paid_at",
                "individuals_notified_at"]
EVENTS: tuple[str, ...] = Event.__args__  # type: ignore[attr-defined]

TIMED_UNITS = ("hours", "days", "business_days", "end_of_calendar_year_plus_days")
UNTIMED_UNITS = ("without_undue_delay", "without_unreasonable_delay", "as_soon_as_feasible", "as_soon_as_practicable",
                 "no_deadline")
Unit = Literal["hours", "days", "business_days", "end_of_calendar_year_plus_days", "without_undue_delay",
               "without_unreasonable_delay", "as_soon_as_feasible", "as_soon_as_practicable", "no_deadline"]
RiskFact = Literal["gdpr", "pipeda_real_risk_of_significant_harm", "ndb_likely_serious_harm"]
# allowed: the law provides for a delay at law enforcement's request; us_attorney_general_only: only a delay the US
# Attorney General determined (SEC Form 8-K Item 1.05(c)); not_allowed: no delay pauses this clock.
DelayRule = Literal["allowed", "not_allowed", "us_attorney_general_only"]
FactValue = str | bool

_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_APPLICABILITY_FACTS = ("public_company", "hipaa_role", "gdpr_role", "nydfs_regulated", "ftc_safeguards_covered",
                        "australia_turnover_over_3m", "health_service_provider")


def _listed(value: object) -> object:
    return [value] if isinstance(value, str | bool) else value


def _check_fact_values(fact: str, values: list[FactValue]) -> None:
    """Each value must be one the facts file accepts for this key, or the rule could never match."""
    for value in values:
        try:
            accepted = getattr(Facts.model_validate({fact: value}), fact)
        except ValidationError:
            accepted = None
        # "yes" would pass as true in a facts file, but would never equal the true it becomes.
        if accepted != value or type(accepted) is not type(value):
            raise ValueError(f"{value!r} is not a possible value of {fact}")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deadline(_Rule):
    """`{length: 72, unit: hours}`, or a unit that names no time, such as `{unit: without_undue_delay}`."""

    length: Annotated[int, Field(ge=1, le=3660)] | None = None
    unit: Unit
    says: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _well_formed(self) -> Deadline:
        if self.unit in TIMED_UNITS and self.length is None:
            raise ValueError(f"a deadline in {self.unit} needs a length")
        if self.unit in UNTIMED_UNITS and self.length is not None:
            raise ValueError(f"a deadline '{self.unit}' has no length")
        if self.unit == "no_deadline" and not self.says:
            raise ValueError("a 'no_deadline' entry needs `says`: what has to be done instead")
        return self

    @property
    def timed(self) -> bool:
        return self.unit in TIMED_UNITS


class Threshold(_Rule):
    """How many affected people make the notice due. `count` says who is counted: residents of the regime's
    jurisdiction, everyone affected, or the residents of the one US state with the most of them."""

    count: Literal["residents", "total", "largest_state"]
    more_than: Annotated[int, Field(ge=0)] | None = None
    at_least: Annotated[int, Field(ge=1)] | None = None
    fewer_than: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if sum(b is not None for b in (self.more_than, self.at_least, self.fewer_than)) != 1:
            raise ValueError("give exactly one of more_than, at_least, fewer_than")
        return self

    @property
    def bound(self) -> tuple[str, int]:
        """The comparison and its number, such as `(">", 500)`."""
        if self.more_than is not None:
            return ">", self.more_than
        if self.at_least is not None:
            return "≥", self.at_least
        return "<", self.fewer_than or 0


class RiskRule(_Rule):
    """`required`: the notice is due only when the assessment is one of these. `not_required`: the notice is due
    unless the assessment is one of these (so it is due while nobody has assessed the risk)."""

    fact: RiskFact
    required: Annotated[list[FactValue], BeforeValidator(_listed)] | None = None
    not_required: Annotated[list[FactValue], BeforeValidator(_listed)] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> RiskRule:
        values = self.required if self.required is not None else self.not_required
        if (self.required is None) == (self.not_required is None) or not values:
            raise ValueError("give exactly one of required, not_required, with at least one value")
        for value in values:
            try:
                accepted = getattr(Facts.model_validate({"risk": {self.fact: value}}).risk, self.fact)
            except ValidationError:
                accepted = None
            if accepted != value or type(accepted) is not type(value):
                raise ValueError(f"{value!r} is not a possible value of risk.{self.fact}")
        return self

    def leaves_notice_due(self, value: FactValue) -> bool:
        """Whether a recorded assessment leaves the notice due."""
        if self.required is not None:
            return value in self.required
        return value not in (self.not_required or [])


class FactIs(_Rule):
    """A fact about the business that must hold for the regime to apply, such as `hipaa_role: covered_entity`."""

    fact: str
    is_: Annotated[list[FactValue], BeforeValidator(_listed), Field(alias="is", min_length=1)]
    says: str = Field(min_length=1)
    # While the fact is unknown it is asked about only when one of these kinds of data was involved (a HIPAA role
    # matters only with health data); without it, an unknown value is always asked about.
    ask_if_data: list[str] | None = None

    @model_validator(mode="after")
    def _known_fact(self) -> FactIs:
        if self.fact not in _APPLICABILITY_FACTS:
            raise ValueError(f"unknown fact {self.fact!r} (use one of {', '.join(_APPLICABILITY_FACTS)})")
        _check_fact_values(self.fact, self.is_)
        unknown = sorted(set(self.ask_if_data or ()) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown data categories: {', '.join(unknown)}")
        return self


class Exemption(_Rule):
    """When every one of `facts` holds, none of the regime's notices is required, `because` …"""

    facts: dict[str, bool | str] = Field(min_length=1)
    because: str = Field(min_length=1)

    @field_validator("facts")
    @classmethod
    def _known_facts(cls, facts: dict[str, bool | str]) -> dict[str, bool | str]:
        for fact, value in facts.items():
            if fact not in _APPLICABILITY_FACTS:
                raise ValueError(f"unknown fact {fact!r} (use one of {', '.join(_APPLICABILITY_FACTS)})")
            _check_fact_values(fact, [value])
        return facts


class Notice(_Rule):
    """One notice a regime asks for: to whom, from which event, by when, and on what condition."""

    to: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    who: str = Field(min_length=1)
    what: str = Field(min_length=1)
    starts_from: Event
    deadline: Deadline
    citation: str = Field(min_length=1)
    threshold: Threshold | None = None
    risk: RiskRule | None = None
    law_enforcement_delay: DelayRule | None = None
    # The notice exists only once its event happened (an extortion payment); until then it is not listed.
    only_if_event: bool = False
    # The notice is an assessment, done once its result is recorded.
    done_when_assessed: RiskFact | None = None
    note: str | None = None


class Clocks(_Rule):
    """The deadline part of one regime."""

    short: str = Field(min_length=1)
    # ISO 3166 codes whose residents the regime protects (`US-CA`, or a list of countries), or `any`.
    jurisdiction: Literal["any"] | list[str]
    # How the protected people are called in a reason: "residents", "people in the EU/EEA".
    people: str = "residents"
    # The kinds of data that are personal information as this law defines it, or `any`.
    covers: Literal["any"] | list[str]
    encryption_exempt: bool = False
    law_enforcement_delay: DelayRule = "not_allowed"
    engaged_if: list[FactIs] = Field(default_factory=list)
    exempt_if: list[Exemption] = Field(default_factory=list)
    notices: list[Notice] = Field(min_length=1)

    @field_validator("jurisdiction")
    @classmethod
    def _regions(cls, value: Literal["any"] | list[str]) -> Literal["any"] | list[str]:
        if value != "any":
            bad = [code for code in value if not isinstance(code, str) or not _REGION.match(code)]
            if bad or not value:
                raise ValueError(f"not ISO 3166 codes: {bad}" if bad else "list at least one region, or say any")
        return value

    @field_validator("covers")
    @classmethod
    def _categories(cls, value: Literal["any"] | list[str]) -> Literal["any"] | list[str]:
        if value != "any":
            unknown = sorted(set(value) - set(CATEGORIES))
            if unknown or not value:
                raise ValueError(f"unknown data categories: {', '.join(unknown)}" if unknown else "list categories")
        return value

    @field_validator("notices")
    @classmethod
    def _unique(cls, notices: list[Notice]) -> list[Notice]:
        names = [n.to for n in notices]
        if len(set(names)) != len(names):
            raise ValueError("two notices of one regime share a `to`")
        return notices

    def delay_rule(self, notice: Notice) -> DelayRule:
        return notice.law_enforcement_delay or self.law_enforcement_delay
