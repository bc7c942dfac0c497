"""One letter per client, as the business meets it: a CSV of clients in, Word letters and unsent emails out."""

from __future__ import annotations

import csv
import email
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from email import policy
from pathlib import Path
from typing import Any

import docx
import pytest

from bot.notices import merge as merge_module
from bot.notices.blocks import plain_letter
from bot.notices.clients import ClientListError, Rejected, check_row, country_problem, read_clients, state_problem
from bot.notices.draft import PACKAGE_TEMPLATES, render_markdown
from bot.notices.eml import email_problem
from bot.notices.facts import CATEGORIES, parse_facts
from bot.notices.merge import merge, slug
from bot.notices.word import markdown_to_docx
from bot.notices.word_package import LetterPackage
from storage.db import Database, parse_url
from storage.models import Incident, NoticeDraft

_SCRIPT = Path(sys.executable).with_name("breachroom")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "breachroom.cli"]
FIVE = ["What Happened", "What Information Was Involved", "What We Are Doing", "What You Can Do",
        "For More Information"]
HEADER = "name,email,postal_address,country,state"
NOTICE_DATE = date(2026, 3, 20)
SUMMARY = re.compile(r"^([\d,]+) letters written, ([\d,]+) emails written, ([\d,]+) rows with errors, "
                     r"[\d.]+ s, [\d,]+ letters/s$")


def facts(**changes: Any) -> dict[str, Any]:
    """A complete notice: contact details and passwords of clients in California and Germany."""
    data: dict[str, Any] = {
        "company": {"name": "Acme Bookkeeping LLC", "contact_name": "Jane Doe", "phone": "+1 415 555 0100",
                    "email": "privacy@acme.example", "website": "https://acme.example",
                    "postal_address": "1 Main Street\nSan Francisco, CA 94105"},
        "what_happened": "An attacker copied client folders from our file server.",
        "breach_started_at": "2026-03-01", "breach_ended_at": "2026-03-04", "discovered_at": "2026-03-05",
        "data_categories": ["contact_details", "credentials"],
        "affected_total": 3, "affected_by_region": {"US-CA": 2, "DE": 1},
        "actions_taken": ["We took the file server offline."],
        "identity_protection": {"offered": False},
    }
    data.update(changes)
    return data


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BREACHROOM_TEMPLATES", "DATABASE_URL")}
    return env | settings


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "notices", "merge", *args], cwd=tmp_path, env=environment(**settings),
                          capture_output=True, text=True, timeout=120, check=False)


def merge_files(tmp_path: Path, rows: list[str], *, facts_data: dict[str, Any] | None = None,
                header: str = HEADER, **settings: str) -> subprocess.CompletedProcess[str]:
    """Write facts.json and clients.csv, then run `notices merge --facts` into tmp_path/out."""
    (tmp_path / "facts.json").write_text(json.dumps(facts_data or facts()))
    (tmp_path / "clients.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return run(tmp_path, "--facts", "facts.json", "--clients", "clients.csv", "--out", "out",
               "--date", NOTICE_DATE.isoformat(), **settings)


def table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def paragraphs(path_or_bytes: Path | bytes) -> list[tuple[str, str]]:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return [(p.style.name, p.text) for p in docx.Document(source).paragraphs]


def summary(result: subprocess.CompletedProcess[str]) -> tuple[str, ...]:
    """(letters, emails, rows with errors) from the last line the merge prints."""
    found = SUMMARY.match(result.stdout.strip().splitlines()[-1])
    assert found, result.stdout
    return found.groups()


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("breachroom: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# --- the letters and the emails ---------------------------------------------------------------------------

def test_each_client_gets_a_word_letter_and_an_unsent_email(tmp_path: Path) -> None:
    done = merge_files(tmp_path, [
        'Zoë Ångström,zoe@example.com,"1 Elm Street\nSpringfield",US,CA',
        "Bob Stone,bob@example.org,,DE,",
        "Ann & Bob <Smith> *Jr*,ann@example.net,,US,US-CA",
    ])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "letters").iterdir()) == [
        "0001-zoe-angstrom.docx", "0002-bob-stone.docx", "0003-ann-bob-smith-jr.docx"]
    assert sorted(p.name for p in (out / "emails").iterdir()) == [
        "0001-zoe-angstrom.eml", "0002-bob-stone.eml", "0003-ann-bob-smith-jr.eml"]

    letter = paragraphs(out / "letters" / "0001-zoe-angstrom.docx")
    assert ("Normal", "Dear Zoë Ångström,") in letter
    assert [text for style, text in letter if style == "Heading 2"] == FIVE
    assert docx.Document(str(out / "letters" / "0001-zoe-angstrom.docx")).core_properties.title == \
        "Notice of Data Breach"
    # A client's name is printed as written, never read as Markdown.
    assert ("Normal", "Dear Ann & Bob <Smith> *Jr*,") in paragraphs(out / "letters" / "0003-ann-bob-smith-jr.docx")

    message = email.message_from_bytes((out / "emails" / "0001-zoe-angstrom.eml").read_bytes(),
                                       policy=policy.default)
    assert message["From"].addresses[0].addr_spec == "privacy@acme.example"
    assert message["From"].addresses[0].display_name == "Acme Bookkeeping LLC"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    assert message["To"].addresses[0].display_name == "Zoë Ångström"
    assert message["Subject"] == "Notice of Data Breach from Acme Bookkeeping LLC"
    assert message["Date"].datetime is not None and message["Message-ID"].endswith("@acme.example>")
    assert message["X-Unsent"] == "1"
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"
    body = message.get_content()
    assert "Dear Zoë Ångström," in body and all(heading in body for heading in FIVE)
    assert "**" not in body and "\\" not in body
    raw = (out / "emails" / "0001-zoe-angstrom.eml").read_bytes()
    assert raw.isascii() and b"\r\n" in raw and max(len(line) for line in raw.split(b"\r\n")) <= 78
    ids = {email.message_from_bytes(p.read_bytes())["Message-ID"] for p in (out / "emails").iterdir()}
    assert len(ids) == 3

    manifest = table(out / "manifest.csv")
    assert [m["row"] for m in manifest] == ["1", "2", "3"]
    assert manifest[0] == {"row": "1", "name": "Zoë Ångström", "email": "zoe@example.com",
                           "docx": "letters/0001-zoe-angstrom.docx", "eml": "emails/0001-zoe-angstrom.eml",
                           "approved": "no", "draft": "facts.json", "note": ""}
    assert table(out / "errors.csv") == []
    assert "NOT APPROVED" in done.stdout.splitlines()[0]
    assert summary(done) == ("3", "3", "0")


def test_columns_beyond_the_five_reach_the_templates(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    letter = (PACKAGE_TEMPLATES / "notice.md.j2").read_text()
    (templates / "notice.md.j2").write_text(letter.replace(
        "We are writing to tell you",
        "{% if recipient %}Your account: {{ recipient.account }}.\n\n{% endif %}We are writing to tell you"))
    done = merge_files(tmp_path, ["Zoë Ångström,zoe@example.com,,US,CA,AC-0042"], header=f"{HEADER},account",
                       BREACHROOM_TEMPLATES=str(templates))
    assert done.returncode == 0, done.stderr
    assert ("Normal", "Your account: AC-0042.") in paragraphs(tmp_path / "out/letters/0001-zoe-angstrom.docx")
    # The war room's draft has no recipient, and the same override still drafts it.
    draft = render_markdown(parse_facts(facts()), notice_date=NOTICE_DATE, templates_dir=templates)
    assert "Your account" not in draft and "Dear client," in draft


@pytest.mark.parametrize(("change", "named"), [
    ("{% if recipient %}{{ recipient.account }}{% endif %}We are writing", "account"),
    ("{% if recipient %We are writing", "notice.md.j2, line"),
])
def test_a_broken_template_stops_before_any_letter(tmp_path: Path, change: str, named: str) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    letter = (PACKAGE_TEMPLATES / "notice.md.j2").read_text()
    (templates / "notice.md.j2").write_text(letter.replace("We are writing", change))
    done = merge_files(tmp_path, ["Zoë,zoe@example.com,,US,CA"], BREACHROOM_TEMPLATES=str(templates))
    one_line_error(done, "BREACHROOM_TEMPLATES", "notice.md.j2, line", named)
    assert not (tmp_path / "out").exists()


# --- rows that get no letter ------------------------------------------------------------------------------

def test_bad_rows_are_listed_and_the_rows_around_them_still_get_letters(tmp_path: Path) -> None:
    done = merge_files(tmp_path, [
        "Good One,one@example.com,,US,CA",
        "No Contact,,,US,CA",
        "Bad Email,bob@,,US,NY",
        'Post Only,carl@@example.com,"2 Oak Street\nBoston, MA",US,MA',
        "Nowhere,eve@example.com,,XX,",
        "Wrong State,fay@example.com,,US,ZZ",
        ",,,,",
        "Good Two,two@example.com,,US-CA,",
        "Good Three,three@example.com,,de,by",
    ])
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    errors = {e["row"]: e["reason"] for e in table(out / "errors.csv")}
    assert set(errors) == {"2", "3", "5", "6", "8"}
    assert errors["2"] == "no email and no postal address"
    assert "malformed email 'bob@'" in errors["3"] and "no postal address" in errors["3"]
    assert "unknown country 'XX'" in errors["5"]
    assert "unknown US state 'ZZ'" in errors["6"]
    assert "unknown country 'US-CA'" in errors["8"]  # a state code in the country column
    manifest = {m["row"]: m for m in table(out / "manifest.csv")}
    assert set(manifest) == {"1", "4", "9"}  # row 7 is blank: skipped, never reported
    # A malformed email with a postal address: the letter is written for the post, with no email.
    assert manifest["4"]["docx"] == "letters/0004-post-only.docx" and manifest["4"]["eml"] == ""
    assert "malformed email" in manifest["4"]["note"] and "post" in manifest["4"]["note"]
    assert sorted(p.name for p in (out / "emails").iterdir()) == ["0001-good-one.eml", "0009-good-three.eml"]
    assert "1 client has no usable email" in done.stdout
    assert "5 of 8 rows got no letter" in done.stdout
    assert summary(done) == ("3", "2", "5")


def test_without_a_company_email_no_email_is_written_and_it_is_said(tmp_path: Path) -> None:
    data = facts()
    del data["company"]["email"]
    done = merge_files(tmp_path, ["Zoë,zoe@example.com,,US,CA", "Bob,,1 Elm Street,US,CA"], facts_data=data)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert not (out / "emails").exists()
    assert len(list((out / "letters").iterdir())) == 2
    assert "No emails written: the facts have no company email" in done.stdout
    manifest = table(out / "manifest.csv")
    assert [m["eml"] for m in manifest] == ["", ""]
    assert "no company email" in manifest[0]["note"]
    assert manifest[1]["note"] == "no email: letter for the post only"
    assert summary(done) == ("2", "0", "0")


def test_letters_with_facts_still_to_confirm_are_said_not_ready(tmp_path: Path) -> None:
    data = facts()
    del data["company"]["phone"]
    done = merge_files(tmp_path, ["Zoë,zoe@example.com,,US,CA"], facts_data=data)
    assert done.returncode == 0, done.stderr
    assert "Not ready to send: every letter still has 1 fact to confirm" in done.stdout


def test_country_and_state_codes() -> None:
    assert country_problem("GB") is None and country_problem("gb ") is None and country_problem("") is None
    assert "GB" in (country_problem("UK") or "")
    assert "DE" in (country_problem("Germany") or "")
    assert country_problem("XX") and country_problem("USA")
    for state in ("CA", "US-CA", "us-ny", "DC", "PR", "GU", "VI", "AS", "MP", "UM", "AA"):
        assert state_problem(state, "US") is None, state
    assert state_problem("CA", "") is None  # a blank country with a state is the US
    assert state_problem("ZZ", "US") and state_problem("US-AA", "US") and state_problem("US-ZZ", "")
    assert state_problem("BY", "DE") is None and state_problem("DE-BY", "DE") is None
    assert state_problem("US-CA", "DE") and state_problem("CA-ON", "")


def test_email_addresses() -> None:
    for good in ("a@b.co", "first.last+tag@mail.example.com", "o'neil@example.ie", "zoe@bücher.de"):
        assert email_problem(good) is None, good
    for bad in ("bob@", "@example.com", "a b@c.de", "x@localhost", "a..b@x.de", "a@@b.de", "é@x.de",
                "a@-x.de", "a" * 65 + "@x.de"):
        assert email_problem(bad), bad


def rejection(*values: str) -> str:
    checked = check_row(1, HEADER.split(","), list(values))
    assert isinstance(checked, Rejected), checked
    return checked.reason


def test_control_characters_overlong_cells_and_extra_values_are_row_errors() -> None:
    assert "name contains the control character U+0007" in rejection("Bell\x07", "a@b.co", "", "US", "CA")
    assert "name is too long" in rejection("x" * 201, "a@b.co", "", "US", "CA")
    assert "postal_address is too long" in rejection("Ann", "a@b.co", "x" * 1001, "US", "CA")
    assert "6 values" in rejection("Ann", "a@b.co", "", "US", "CA", "extra")
    # Several problems are all named, so one fix is enough.
    assert rejection("Ann", "", "", "XX", "") == "unknown country 'XX' (use an ISO 3166-1 alpha-2 code such as " \
        "US, DE or GB); no email and no postal address"


# --- a client list that cannot be used at all --------------------------------------------------------------

def test_a_file_that_is_not_utf8_is_one_line_naming_where(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text(json.dumps(facts()))
    text = f"{HEADER}\nAnn,ann@example.com,,US,CA\nBob,bob@example.com,,US,CA\nJosé,jose@example.com,,US,CA\n"
    (tmp_path / "clients.csv").write_bytes(text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xe9")
    done = run(tmp_path, "--facts", "facts.json", "--clients", "clients.csv", "--out", "out")
    one_line_error(done, "not UTF-8", "0xE9", f"offset {offset}", "line 4", "row 3")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "where"), [
    (b"\xe9name,email,postal_address,country,state\n", "line 1, the header"),
    (f"{HEADER}\nAnn,a@b.co,,US,CA\n".encode() + b"\xc9ve,e@b.co,,US,CA\n", "line 3, row 2"),
    (f"{HEADER}\n".encode() + b'"1 Elm\nSt\xff",x,,US,CA\n', "line 3, row 1"),
])
def test_the_first_byte_that_is_not_utf8_is_placed(tmp_path: Path, content: bytes, where: str) -> None:
    (tmp_path / "clients.csv").write_bytes(content)
    with pytest.raises(ClientListError, match=where):
        read_clients(tmp_path / "clients.csv")


def test_a_byte_order_mark_and_semicolons_are_read(tmp_path: Path) -> None:
    (tmp_path / "clients.csv").write_bytes(b"\xef\xbb\xbf" + "Name;Email;postal_address;country;state\r\n"
                                           "Zoë;zoe@example.com;;US;CA\r\n".encode())
    clients = read_clients(tmp_path / "clients.csv")
    assert clients.clients[0].fields["name"] == "Zoë" and clients.clients[0].email == "zoe@example.com"


def test_missing_columns_are_named(tmp_path: Path) -> None:
    done = merge_files(tmp_path, ["Zoë,zoe@example.com,US"], header="name,email,country")
    one_line_error(done, "lacks the columns postal_address, state", "name,email,country")


def test_more_than_100000_clients_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text(json.dumps(facts()))
    rows = "".join(f"c{n},c{n}@example.com,,US,CA\n" for n in range(100_001))
    (tmp_path / "clients.csv").write_text(f"{HEADER}\n{rows}")
    done = run(tmp_path, "--facts", "facts.json", "--clients", "clients.csv", "--out", "out")
    one_line_error(done, "more than 100,000 clients")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", ["", "\ufeff", "\n\n", f"{HEADER}\n", f"{HEADER}\n,,,,\n"])
def test_an_empty_file_is_one_line(tmp_path: Path, content: str) -> None:
    (tmp_path / "facts.json").write_text(json.dumps(facts()))
    (tmp_path / "clients.csv").write_text(content, encoding="utf-8")
    done = run(tmp_path, "--facts", "facts.json", "--clients", "clients.csv", "--out", "out")
    one_line_error(done, "clients.csv")
    assert "empty" in done.stderr or "no clients" in done.stderr


def test_a_folder_with_an_earlier_merge_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out" / "letters").mkdir(parents=True)
    (tmp_path / "out" / "letters" / "0001-someone-else.docx").write_bytes(b"old")
    done = merge_files(tmp_path, ["Zoë,zoe@example.com,,US,CA"])
    one_line_error(done, "out is not empty")


def test_an_incident_and_facts_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "clients.csv").write_text(f"{HEADER}\nZoë,zoe@example.com,,US,CA\n")
    done = run(tmp_path, "7", "--facts", "facts.json", "--clients", "clients.csv", "--out", "out")
    one_line_error(done, "either an incident id or --facts")


# --- the fast Word writer ----------------------------------------------------------------------------------

def docx_shape(data: bytes) -> tuple[str, list[tuple[str, str, list[tuple[str, bool | None]]]]]:
    document = docx.Document(io.BytesIO(data))
    return document.core_properties.title, [
        (p.style.name, p.text, [(r.text, r.bold) for r in p.runs]) for p in document.paragraphs]


TRICKY = """# Title with **bold** and \\# escapes

**Acme & Sons <Ltd>**

A paragraph on
two lines, with **bold** in the middle, a\ttab, \\*stars\\* and a \\\\ backslash.

- first bullet
continued on the next line
  - second level with **bold**
- third

## Heading with trailing hashes ##

### Level three

Plain text with "quotes" & 'apostrophes' > and < signs, Zoë Ångström, 日本語.
"""


@pytest.mark.parametrize("case", ["every category", "tricky markdown", "empty"])
def test_the_fast_word_letter_equals_python_docx(case: str) -> None:
    if case == "every category":
        data = facts(data_categories=list(CATEGORIES), affected_by_region={"US-CA": 1, "DE": 1},
                     identity_protection={"offered": True, "provider": "IDShield", "months": 24,
                                          "enrollment_code": "X-1", "enroll_by": "2026-06-30"})
        markdown = render_markdown(parse_facts(data), notice_date=NOTICE_DATE,
                                   recipient={"name": "Zoë Ångström", "email": "zoe@example.com"})
    else:
        markdown = TRICKY if case == "tricky markdown" else ""
    fast, slow = LetterPackage().docx(markdown), markdown_to_docx(markdown)
    assert docx_shape(fast) == docx_shape(slow)
    if case == "every category":
        headings = [text for style, text, _ in docx_shape(fast)[1] if style.startswith("Heading")]
        assert headings[0] == "Notice of Data Breach" and all(h in headings for h in FIVE)
    # Same package otherwise: every part python-docx writes, with the same styles and numbering.
    with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
        assert a.testzip() is None
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in ("word/styles.xml", "word/numbering.xml", "word/fontTable.xml", "[Content_Types].xml"):
            assert a.read(name) == b.read(name), name


def test_the_email_body_is_the_letter_in_plain_text() -> None:
    text = plain_letter(TRICKY)
    assert text.startswith("Title with bold and # escapes\n=")
    assert "Acme & Sons <Ltd>" in text and "*stars*" in text and "\\ backslash" in text
    assert "- first bullet continued on the next line\n  - second level with bold\n- third\n" in text


def test_file_names() -> None:
    assert slug("Zoë Ångström") == "zoe-angstrom"
    assert slug("日本語") == "client" and slug("  ") == "client"
    assert slug("O'Neil, Jr. & Co") == "o-neil-jr-co"
    assert len(slug("x" * 100)) == 40


def test_worker_processes_write_the_same_letters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [f"Client {n},c{n}@example.com,,US,CA" for n in range(1, 13)] + ["Nobody,,,US,CA"]
    (tmp_path / "clients.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    clients = read_clients(tmp_path / "clients.csv")
    monkeypatch.setattr(merge_module, "CHUNK", 3)
    kw: dict[str, Any] = {"notice_date": NOTICE_DATE, "approved": False, "draft": "facts.json"}
    one = merge(parse_facts(facts()), clients, tmp_path / "one", workers=1, **kw)
    two = merge(parse_facts(facts()), clients, tmp_path / "two", workers=2, **kw)
    assert (one.workers, two.workers) == (1, 2)
    assert (two.letters, two.emails, len(two.rejected)) == (12, 12, 1)
    assert (tmp_path / "one/manifest.csv").read_bytes() == (tmp_path / "two/manifest.csv").read_bytes()
    assert (tmp_path / "one/errors.csv").read_bytes() == (tmp_path / "two/errors.csv").read_bytes()
    for path in (tmp_path / "one/letters").iterdir():
        assert paragraphs(path) == paragraphs(tmp_path / "two/letters" / path.name)


def test_progress_is_reported_as_clients_are_done(tmp_path: Path) -> None:
    (tmp_path / "clients.csv").write_text(f"{HEADER}\n" + "".join(f"C{n},c{n}@example.com,,US,CA\n"
                                                                   for n in range(5)))
    seen: list[int] = []
    merge(parse_facts(facts()), read_clients(tmp_path / "clients.csv"), tmp_path / "out",
          notice_date=NOTICE_DATE, approved=False, draft="x", progress=seen.append)
    assert sum(seen) == 5


# --- from the incident's approved draft (SQLite and PostgreSQL) --------------------------------------------

async def add_incident(db_url: str, *drafts: tuple[str, str | None]) -> int:
    """An incident with one notice draft per (status, markdown or None for the true rendering)."""
    db = Database(parse_url(db_url))
    data = facts()
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            incident = Incident(platform="slack", team_id="T1", summary="Client folders copied", severity="high",
                                declared_by="U1", responder_id="U1", dedupe_key="k1")
            session.add(incident)
            await session.flush()
            for version, (status, markdown) in enumerate(drafts, start=1):
                text = markdown or render_markdown(parse_facts(data), notice_date=now.date())
                session.add(NoticeDraft(
                    incident_id=incident.id or 0, version=version, created_by="U1", created_at=now, facts=data,
                    markdown=text, docx=b"", status=status,
                    decided_by="U1" if status != "draft" else None, decided_at=now if status != "draft" else None))
            return incident.id or 0
    finally:
        await db.dispose()


async def test_an_incident_merges_its_latest_approved_draft(db_url: str, tmp_path: Path) -> None:
    incident = await add_incident(db_url, ("approved", None), ("draft", None))
    (tmp_path / "clients.csv").write_text(f"{HEADER}\nZoë Ångström,zoe@example.com,,US,CA\n", encoding="utf-8")
    done = run(tmp_path, str(incident), "--clients", "clients.csv", "--out", "out", DATABASE_URL=db_url)
    assert done.returncode == 0, done.stderr
    assert f"incident {incident}, client notice v1, approved by U1" in done.stdout
    manifest = table(tmp_path / "out" / "manifest.csv")
    assert manifest[0]["approved"] == "yes" and manifest[0]["draft"] == f"incident {incident} v1"
    message = email.message_from_bytes((tmp_path / "out/emails/0001-zoe-angstrom.eml").read_bytes(),
                                       policy=policy.default)
    assert "Dear Zoë Ångström," in message.get_content()


async def test_an_incident_without_an_approved_draft_is_one_line(db_url: str, tmp_path: Path) -> None:
    incident = await add_incident(db_url, ("changes_requested", None), ("draft", None))
    (tmp_path / "clients.csv").write_text(f"{HEADER}\nZoë,zoe@example.com,,US,CA\n")
    done = run(tmp_path, str(incident), "--clients", "clients.csv", "--out", "out", DATABASE_URL=db_url)
    one_line_error(done, f"incident {incident} has no approved client notice", "Approve", "--facts")
    assert not (tmp_path / "out").exists()
    missing = run(tmp_path, "999", "--clients", "clients.csv", "--out", "out", DATABASE_URL=db_url)
    one_line_error(missing, "no incident with id 999")


async def test_letters_that_would_differ_from_the_approved_text_are_refused(db_url: str, tmp_path: Path) -> None:
    incident = await add_incident(db_url, ("approved", "# Notice of Data Breach\n\nAn older wording.\n"))
    (tmp_path / "clients.csv").write_text(f"{HEADER}\nZoë,zoe@example.com,,US,CA\n")
    done = run(tmp_path, str(incident), "--clients", "clients.csv", "--out", "out", DATABASE_URL=db_url)
    one_line_error(done, "approved notice v1 cannot be reproduced", "BREACHROOM_TEMPLATES")
