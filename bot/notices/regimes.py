"""Which notification laws and which client advice fit a breach, read from regimes.yml and guidance.yml.

The rules are data so that a lawyer can correct them without touching code. Each regime holds what the letter
must contain and, under `clocks`, who must be told by when (read by `bot.deadlines`).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.deadlines.rules import Clocks
from bot.notices.facts import CATEGORIES, Facts

REGIMES_FILE = Path(__file__).with_name("regimes.yml")
GUIDANCE_FILE = Path(__file__).with_name("guidance.yml")


_M = TypeVar("_M", bound=BaseModel)


class RulesError(ValueError):
    """regimes.yml or guidance.yml is missing or not of the expected shape."""


class Condition(BaseModel):
    """When a regime, a requirement or a piece of advice applies; every condition given must match."""

    model_config = ConfigDict(extra="forbid")
    regions: list[str] | None = None
    data_categories: list[str] | None = None

    @field_validator("data_categories")
    @classmethod
    def _known(cls, categories: list[str] | None) -> list[str] | None:
        unknown = sorted(set(categories or ()) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown data categories: {', '.join(unknown)}")
        return categories

    def matches(self, facts: Facts) -> bool:
        if self.data_categories is not None and not set(self.data_categories) & set(facts.data_categories):
            return False
        # Where clients live is often learnt late; until then a regional law may apply, so it is kept.
        return self.regions is None or not facts.affected_by_region or any(
            _covers(rule, code) for rule in self.regions for code in facts.affected_by_region)


def _covers(rule: str, code: str) -> bool:
    """`US` covers `US-CA`; `US-CA` covers `US-CA`, and also a bare `US` (the state is not known)."""
    return rule == code or code.startswith(rule + "-") or rule.startswith(code + "-")


def _always(when: Condition | None, facts: Facts) -> bool:
    return when is None or when.matches(facts)


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    says: str
    when: Condition | None = None
    minimum_months: int | None = None


class Regime(BaseModel):
    # A misspelt key in law data would otherwise vanish, and a deadline or a requirement with it.
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    name: str
    citation: str
    audience: str
    applies_when: Condition = Field(default_factory=Condition)
    title: str | None = None
    required_sections: list[str] = Field(default_factory=list)
    required_contents: list[Requirement] = Field(default_factory=list)
    clocks: Clocks | None = None

    @property
    def shapes_letter(self) -> bool:
        """Whether the regime says anything about the client letter; some regimes only set deadlines."""
        return bool(self.title or self.required_sections or self.required_contents)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    when: Condition | None = None


def _step(value: object) -> object:
    return {"text": value} if isinstance(value, str) else value


class Advice(BaseModel):
    """What the letter says about one kind of data."""

    model_config = ConfigDict(extra="forbid")
    label: str
    involved: str | None = None
    consequences: str | None = None
    steps: list[Step] = Field(default_factory=list)

    @field_validator("steps", mode="before")
    @classmethod
    def _plain_steps(cls, steps: object) -> object:
        return [_step(s) for s in steps] if isinstance(steps, list) else steps


class Bureau(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    phone: str
    address: str
    website: str


class Bureaus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checked: date
    when: Condition
    bureaus: list[Bureau] = Field(min_length=1)


class Guidance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: dict[str, Advice]
    always: list[Step] = Field(default_factory=list)
    credit_bureaus: Bureaus

    @field_validator("always", mode="before")
    @classmethod
    def _plain_steps(cls, steps: object) -> object:
        return [_step(s) for s in steps] if isinstance(steps, list) else steps

    @model_validator(mode="after")
    def _every_category(self) -> Guidance:
        missing = [c for c in CATEGORIES if c not in self.categories]
        unknown = [c for c in self.categories if c not in CATEGORIES]
        if missing or unknown:
            raise ValueError(f"categories must be exactly {', '.join(CATEGORIES)}")
        return self


class Regimes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regimes: list[Regime] = Field(min_length=1)

    @field_validator("regimes")
    @classmethod
    def _unique(cls, regimes: list[Regime]) -> list[Regime]:
        ids = [r.id for r in regimes]
        if len(set(ids)) != len(ids):
            raise ValueError("two regimes share an id")
        return regimes


def _read(path: Path, model: type[_M]) -> _M:
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise RulesError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise RulesError(f"{path}: {where}: {first['msg']}") from None


@cache
def load_regimes(path: Path = REGIMES_FILE) -> list[Regime]:
    return _read(path, Regimes).regimes


@cache
def load_guidance(path: Path = GUIDANCE_FILE) -> Guidance:
    return _read(path, Guidance)


def applicable(facts: Facts, regimes: list[Regime] | None = None) -> list[Regime]:
    """The regimes that shape the letter and whose conditions these facts meet (or may meet, while regions are
    unknown). Which deadlines apply is `bot.deadlines.engine.obligations`' question, answered more strictly."""
    return [r for r in (regimes if regimes is not None else load_regimes())
            if r.shapes_letter and r.applies_when.matches(facts)]


def requirements(facts: Facts, regimes: list[Regime] | None = None) -> dict[str, Requirement]:
    """What the letter must contain, by requirement id, over every regime that applies."""
    needed: dict[str, Requirement] = {}
    for regime in applicable(facts, regimes):
        for requirement in regime.required_contents:
            if _always(requirement.when, facts):
                needed.setdefault(requirement.id, requirement)
    return needed


def steps_for(advice: Advice, facts: Facts) -> list[str]:
    return [s.text for s in advice.steps if _always(s.when, facts)]
