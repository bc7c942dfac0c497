"""The facts a client notice and the notification clocks are built from, checked so that a bad value is named
before any letter is drafted or any deadline computed.

Every key is optional: a fact nobody has confirmed yet becomes a `[TO CONFIRM: …]` placeholder in the draft, or a
question next to the clocks, never a guess. The same model serves the war room's "Notice facts" form,
`breachroom notices draft` and `breachroom obligations`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from bot.zones import named_zone

CATEGORIES: tuple[str, ...] = (
    "contact_details", "credentials", "government_id", "payment_card", "bank_account", "health", "other",
)

# ISO 3166-1 alpha-2, optionally followed by an ISO 3166-2 subdivision: `DE`, `US-CA`, `GB-SCT`.
_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
# Codes people write that ISO 3166 spells differently; a silent mismatch would hide a law that applies.
_REGION_SPELLINGS = {"UK": "GB", "EL": "GR"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A regime id from regimes.yml, optionally narrowed to one of its notices: `us-ca-1798.82/attorney_general`.
_OBLIGATION = re.compile(r"^[a-z0-9][a-z0-9.-]*(/[a-z][a-z0-9_]*)?$")


class FactsError(ValueError):
    """The facts cannot be used; the message is one line that names the key and the problem."""


def _text(limit: int) -> Callable[[str], str]:
    """A check for free text: trimmed, not empty, at most `limit` characters, nothing Word cannot store."""

    def check(value: str) -> str:
        value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not value:
            raise ValueError("is empty: write it in, or leave it out until it is known")
        if len(value) > limit:
            raise ValueError(f"is too long: {len(value):,} characters (at most {limit:,})")
        bad = next((c for c in value if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cs")), None)
        if bad is not None:
            raise ValueError(f"contains the control character U+{ord(bad):04X}")
        return value

    return check


def _text_of(limit: int) -> Any:
    return Annotated[str, AfterValidator(_text(limit))]


Name = _text_of(200)
Phone = _text_of(50)
Line = _text_of(500)
Sentence = _text_of(1000)
Story = _text_of(5000)
Code = _text_of(100)


def _when(value: object) -> object:
    """ISO 8601 date (`2026-03-01`) or date and time (`2026-03-01T09:30:00+01:00`)."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                return parse(text)
            except ValueError:
                pass
    raise ValueError(f"not a date: {value!r} (use ISO 8601, such as 2026-03-01 or 2026-03-01T09:30:00Z)")


When = Annotated[datetime | date, BeforeValidator(_when)]


def _category(value: object) -> object:
    if isinstance(value, str) and value.strip() in CATEGORIES:
        return value.strip()
    raise ValueError(f"unknown category {value!r} (use one of {', '.join(CATEGORIES)})")


def _region(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a region code: {value!r}")
    code = value.strip().upper()
    country = code.split("-", 1)[0]
    if country in _REGION_SPELLINGS:
        raise ValueError(f"use {_REGION_SPELLINGS[country]!r}, the ISO 3166 code, instead of {country!r}")
    if not _REGION.match(code):
        raise ValueError(f"not an ISO 3166 code: {value!r} (use a country such as 'DE', or 'US-CA' for a US state)")
    return code


def _none_is(empty: Callable[[], object]) -> Callable[[object], object]:
    """JSON `null` for a list or an object means "not known yet", like a missing key."""
    return lambda value: empty() if value is None else value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


def _zone(value: str) -> str:
    """An IANA time zone name that this machine's time zone database knows."""
    try:
        named_zone(value)
    except ValueError:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin' or "
                         "'America/New_York')") from None
    return value


def _obligation(value: object) -> object:
    if isinstance(value, str) and _OBLIGATION.match(value.strip()):
        return value.strip()
    raise ValueError(f"not a regime id: {value!r} (use an id from regimes.yml, such as 'us-ca-1798.82', "
                     "optionally followed by '/' and a notice, such as 'us-ca-1798.82/attorney_general')")


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


class _Strict(BaseModel):
    # A misspelt key would otherwise vanish and its fact turn silently into a placeholder.
    model_config = ConfigDict(extra="forbid")


class Company(_Strict):
    name: Name | None = None
    contact_name: Name | None = None
    phone: Phone | None = None
    toll_free_phone: Phone | None = None
    email: Annotated[Line, AfterValidator(_email)] | None = None
    website: Line | None = None
    postal_address: Line | None = None


class IdentityProtection(_Strict):
    offered: bool | None = None
    provider: Name | None = None
    months: Annotated[int, Field(ge=1, le=120)] | None = None
    enrollment_url: Line | None = None
    enrollment_code: Code | None = None
    enroll_by: When | None = None


class LawEnforcementDelay(_Strict):
    """Present when notice was delayed because a law enforcement agency asked for it."""

    requested_at: When | None = None
    until: When | None = None
    requested_by: Name | None = None
    # Only this kind of delay pauses an SEC Form 8-K Item 1.05 filing (Item 1.05(c)).
    us_attorney_general_determination: bool | None = None


class Risk(_Strict):
    """The recorded risk assessments; each decides whether a law asks for notice at all."""

    gdpr: Literal["unlikely", "risk", "high"] | None = None
    pipeda_real_risk_of_significant_harm: bool | None = None
    ndb_likely_serious_harm: bool | None = None


Category = Annotated[str, BeforeValidator(_category)]
Region = Annotated[str, BeforeValidator(_region)]
Count = Annotated[int, Field(ge=0, le=10_000_000_000)]
ObligationId = Annotated[str, BeforeValidator(_obligation)]
TimeZoneName = Annotated[str, BeforeValidator(_none_is(lambda: "UTC")), AfterValidator(_zone)]


class Facts(_Strict):
    company: Annotated[Company, BeforeValidator(_none_is(dict))] = Field(default_factory=Company)
    what_happened: Story | None = None
    breach_started_at: When | None = None
    breach_ended_at: When | None = None
    discovered_at: When | None = None
    data_categories: Annotated[list[Category], BeforeValidator(_none_is(list))] = Field(default_factory=list)
    affected_total: Count | None = None
    affected_by_region: Annotated[dict[Region, Count], BeforeValidator(_none_is(dict))] = Field(default_factory=dict)
    actions_taken: Annotated[list[Sentence], BeforeValidator(_none_is(list)), Field(max_length=30)] = Field(
        default_factory=list)
    identity_protection: Annotated[IdentityProtection, BeforeValidator(_none_is(dict))] = Field(
        default_factory=IdentityProtection)
    law_enforcement_delay: LawEnforcementDelay | None = None

    # --- For the notification clocks. A date without a time means the start of that day in `timezone`. ---
    timezone: TimeZoneName = "UTC"
    aware_at: When | None = None
    determined_at: When | None = None
    materiality_determined_at: When | None = None
    individuals_notified_at: When | None = None
    extortion_paid_at: When | None = None
    risk: Annotated[Risk, BeforeValidator(_none_is(dict))] = Field(default_factory=Risk)
    decision_not_to_notify: Annotated[dict[ObligationId, Sentence], BeforeValidator(_none_is(dict))] = Field(
        default_factory=dict)
    notified: Annotated[dict[ObligationId, When], BeforeValidator(_none_is(dict))] = Field(default_factory=dict)
    public_company: bool | None = None
    # "neither" says the business holds health data without being under HIPAA; None says nobody has checked.
    hipaa_role: Literal["covered_entity", "business_associate", "neither"] | None = None
    gdpr_role: Literal["controller", "processor"] | None = None
    nydfs_regulated: bool | None = None
    ftc_safeguards_covered: bool | None = None
    data_encrypted: bool | None = None
    encryption_key_exposed: bool | None = None
    australia_turnover_over_3m: bool | None = None
    health_service_provider: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Facts:
        # Duplicates are harmless to the reader but would list one kind of data twice in the letter.
        self.data_categories = list(dict.fromkeys(self.data_categories))
        start, end = self.breach_started_at, self.breach_ended_at
        if start is not None and end is not None and _as_date(end) < _as_date(start):
            raise ValueError(f"breach_ended_at: {end.isoformat()} is before breach_started_at {start.isoformat()}")
        return self

    def involves(self, category: str) -> bool:
        return category in self.data_categories

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def instant(self, value: date | datetime | None) -> datetime | None:
        """An aware datetime for a fact's date or time. A date means the start of that day in the business's time
        zone (the earliest the event can have happened, so a clock is never started late); a time without an offset
        is read in that zone too.
        """
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.combine(value, time())
        return value.replace(tzinfo=self.zone) if value.tzinfo is None else value


def parse_facts(data: object) -> Facts:
    """Facts from already-decoded JSON (a dict); raises FactsError naming the first bad key."""
    if not isinstance(data, dict):
        raise FactsError(f"the facts must be a JSON object of keys such as \"company\", got {type(data).__name__}")
    try:
        return Facts.model_validate(data)
    except ValidationError as exc:
        raise FactsError(_one_line(exc.errors()[0])) from None


def load_facts(path: Path | str) -> Facts:
    """Read a facts JSON file. Example: `load_facts("facts.json").company.name`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FactsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FactsError(f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FactsError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    return parse_facts(data)


_PLAIN_TYPES = {
    "model_type": "should be a JSON object of keys",
    "model_attributes_type": "should be a JSON object of keys",
    "dict_type": "should be a JSON object",
    "list_type": "should be a JSON list",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
}


def _one_line(error: Any) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    where = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = ", ".join(_model_at(loc[:-1]).model_fields)
        return f"{where}: unknown key (known keys here: {known})"
    message = _PLAIN_TYPES.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    if kind != "value_error":
        message = message[:1].lower() + message[1:]
        given = error.get("input")
        if isinstance(given, str | int | float | bool) and len(repr(given)) <= 60:
            message += f" (got {given!r})"
    message = " ".join(message.split())
    return f"{where}: {message}" if where else message


def _model_at(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = Facts
    for part in loc:
        annotation = model.model_fields[part].annotation
        nested = next((a for a in (annotation, *getattr(annotation, "__args__", ())) if isinstance(a, type)
                       and issubclass(a, BaseModel)), None)
        if nested is None:
            break
        model = nested
    return model


def missing(facts: Facts) -> list[str]:
    """What a person still has to fill in, as labels for the "which facts are still missing" card."""
    company, protection = facts.company, facts.identity_protection
    wanted: list[tuple[object, str]] = [
        (facts.what_happened, "What happened, in plain words"),
        (facts.breach_started_at, "When the breach started"),
        (facts.breach_ended_at, "When the breach ended"),
        (facts.discovered_at, "When the breach was discovered"),
        (facts.data_categories, "Kinds of data involved"),
        (facts.affected_total, "Number of affected clients"),
        (facts.affected_by_region, "Where the affected clients live (country, and US state)"),
        (facts.actions_taken, "What the company has done"),
        (protection.offered, "Whether identity protection is offered"),
        (company.name, "Company name"),
        (company.contact_name, "Contact person"),
        (company.phone, "Company phone"),
        (company.email, "Company email"),
        (company.website, "Company website"),
        (company.postal_address, "Company postal address"),
    ]
    if facts.involves("health"):
        wanted.append((company.toll_free_phone, "Toll-free phone number (health data was involved)"))
    if protection.offered:
        wanted += [
            (protection.provider, "Identity protection provider"),
            (protection.months, "Identity protection duration in months"),
            (protection.enrollment_url or protection.enrollment_code, "Identity protection enrollment URL or code"),
            (protection.enroll_by, "Last day to enroll in identity protection"),
        ]
    return [label for value, label in wanted if value is None or value == [] or value == {}]
