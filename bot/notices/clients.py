"""The client list of a mail merge: a CSV file read whole, checked row by row.

A problem with the file itself (not UTF-8, a required column missing, no clients, too many) stops everything
with one line that names it. A problem with one row (no way to reach the client, an unknown country or state)
only keeps that row from getting a letter: the business fixes it and merges that client again later.

Rows are numbered from 1 after the header, blank rows included (they are skipped, never reported), so row N is
spreadsheet row N + 1 and the number in a letter's file name finds the client in the spreadsheet.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from bot.notices.eml import email_problem

REQUIRED = ("name", "email", "postal_address", "country", "state")
MAX_ROWS = 100_000
# Far above what 100,000 rows of names and addresses take; it stops a wrong file before it is read whole.
MAX_BYTES = 256 * 1024 * 1024
CELL_LIMIT = 1000
NAME_LIMIT = 200  # as for names in the facts; it also keeps the email's To line within RFC 5322's limit
COUNTRIES_FILE = Path(__file__).with_name("countries.yml")
US_STATES_FILE = Path(__file__).with_name("us_states.yml")
# Codes people write that ISO 3166-1 spells differently.
_COUNTRY_SPELLINGS = {"UK": "GB", "EL": "GR"}
_BOM = b"\xef\xbb\xbf"


class ClientListError(ValueError):
    """The client list cannot be used at all; the message is one line naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class Client:
    """A row that gets a letter. `fields` is every column (the templates' `recipient`), values trimmed."""

    row: int
    fields: Mapping[str, str]
    email: str | None  # None when there is no usable address: the letter goes by post
    note: str = ""  # why a client with a postal address gets no email

    @property
    def name(self) -> str:
        return self.fields["name"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that gets no letter, and why (one line)."""

    row: int
    reason: str


@dataclass
class ClientList:
    columns: list[str]
    clients: list[Client] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.clients) + len(self.rejected)


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → short English name."""
    return yaml.safe_load(COUNTRIES_FILE.read_text(encoding="utf-8"))["countries"]


@cache
def _country_by_name() -> dict[str, str]:
    return {name.casefold(): code for code, name in countries().items()}


@cache
def us_states() -> dict[str, str]:
    """USPS code → name, for the 50 states, DC, the territories and Armed Forces mail."""
    data = yaml.safe_load(US_STATES_FILE.read_text(encoding="utf-8"))
    return {**data["states"], **data["military"]}


@cache
def _military() -> frozenset[str]:
    return frozenset(yaml.safe_load(US_STATES_FILE.read_text(encoding="utf-8"))["military"])


def country_problem(value: str) -> str | None:
    """Why `value` is not an ISO 3166-1 alpha-2 country code, or None (blank is allowed: not known)."""
    code = value.strip().upper()
    if not code or code in countries():
        return None
    hint = _COUNTRY_SPELLINGS.get(code) or _country_by_name().get(value.strip().casefold())
    return f"unknown country {value!r}" + (f" (the ISO 3166-1 code is {hint})" if hint else
                                           " (use an ISO 3166-1 alpha-2 code such as US, DE or GB)")


def state_problem(value: str, country: str) -> str | None:
    """Why `value` is not a state of `country`, or None. A blank country with a state means the US.

    US states are checked against the USPS list (`CA` or `US-CA`); other countries' regions are kept as
    written, unless their ISO 3166-2 prefix names another country.
    """
    state, given = value.strip().upper(), country.strip().upper()
    country = given or "US"
    if not state:
        return None
    prefix, _, rest = state.partition("-")
    if rest and prefix != country:
        return f"state {value!r} is not in country {given}" if given else (
            f"state {value!r} is not a US state: write its country in the country column")
    if country != "US":
        return None
    if (rest or state) not in us_states() or (rest and rest in _military()):
        return f"unknown US state {value!r} (use a USPS code such as CA, or US-CA)"
    return None


def read_clients(path: Path | str) -> ClientList:
    """Read and check a client list. Raises ClientListError when the file as a whole cannot be used."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ClientListError(f"{path} is {size / 1024 / 1024:,.0f} MB, too large for a list of at most "
                                  f"{MAX_ROWS:,} clients: is it the right file?")
        data = path.read_bytes()
    except OSError as exc:
        raise ClientListError(f"cannot read {path}: {exc.strerror or exc}") from None
    text = _decode(path, data)
    if not text.strip():
        raise ClientListError(f"{path} is empty: its first line must be the header {','.join(REQUIRED)}")
    first_line = text.split("\n", 1)[0]
    # A spreadsheet set to a European locale saves "CSV" with semicolons; both are read the same way.
    delimiter = next((d for d in ",;\t" if d in first_line), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        columns = _columns(path, header)
        result = ClientList(columns=[c for c in columns if c])
        row = 0
        for values in reader:
            row += 1
            if not any(v.strip() for v in values):
                continue
            if len(result.clients) + len(result.rejected) >= MAX_ROWS:
                raise ClientListError(f"{path} has more than {MAX_ROWS:,} clients, the most one merge takes: "
                                      "split it into several files")
            checked = check_row(row, columns, values)
            (result.clients if isinstance(checked, Client) else result.rejected).append(checked)
    except csv.Error as exc:
        raise ClientListError(f"{path}, line {reader.line_num}: {exc}") from None
    if not result.rows:
        raise ClientListError(f"{path} has a header but no clients")
    return result


def _decode(path: Path, data: bytes) -> str:
    start = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        before = data[start:offset].decode("utf-8")
        line = before.count("\n") + 1
        where = f"line {line}"
        try:
            records = sum(1 for _ in csv.reader(io.StringIO(before, newline="")))
        except csv.Error:
            records = 0  # the line alone must do
        if records:
            if before.endswith(("\n", "\r")):
                records += 1  # the bad byte starts a record of its own
            # Record 1 is the header; rows count from the record after it.
            where += ", the header" if records == 1 else f", row {records - 1}"
        elif not before:
            where += ", the header"
        raise ClientListError(
            f"{path} is not UTF-8 text: byte 0x{data[offset]:02X} at offset {offset:,} ({where}); "
            "save it from your spreadsheet as \"CSV UTF-8\"") from None


def _columns(path: Path, header: list[str]) -> list[str]:
    """The header's column names, the required ones in lower case; '' for a nameless column (ignored)."""
    columns = [name.strip() for name in header]
    columns = [name.lower() if name.lower() in REQUIRED else name for name in columns]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        given = ",".join(c for c in columns if c) or "nothing"
        raise ClientListError(f"{path} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              f"(the header must have {','.join(REQUIRED)}; it has {given})")
    named = [c for c in columns if c]
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise ClientListError(f"{path}: the header names the column {', '.join(twice)} more than once")
    return columns


def check_row(row: int, columns: list[str], values: list[str]) -> Client | Rejected:
    """A client with everything a letter needs, or the reasons (joined with "; ") why the row gets none."""
    problems: list[str] = []
    extra = [v for v in values[len(columns):] if v.strip()]
    if extra:
        problems.append(f"{len(values)} values but the header has {len(columns)} columns")
    fields = {name: values[i].strip() if i < len(values) else "" for i, name in enumerate(columns) if name}
    for name, value in fields.items():
        limit = NAME_LIMIT if name == "name" else CELL_LIMIT
        if len(value) > limit:
            problems.append(f"{name} is too long ({len(value):,} characters, at most {limit:,})")
        bad = next((c for c in value if c not in "\n\r\t" and unicodedata.category(c) in ("Cc", "Cs")), None)
        if bad is not None:
            problems.append(f"{name} contains the control character U+{ord(bad):04X}")
    place = country_problem(fields["country"]) or state_problem(fields["state"], fields["country"])
    if place:
        problems.append(place)
    email, address = fields["email"], fields["postal_address"]
    bad_email = email_problem(email) if email else None
    note = ""
    if not email and not address:
        problems.append("no email and no postal address")
    elif bad_email and not address:
        problems.append(f"malformed email {email!r} ({bad_email}) and no postal address")
    elif bad_email:
        note = f"malformed email {email!r} ({bad_email}): letter for the post only"
    if problems:
        return Rejected(row, "; ".join(problems))
    return Client(row, fields, email if email and not bad_email else None, note)
