"""Client notice drafts as a business, its lawyer and its clients meet them: the letter, the .docx, the errors."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import docx
import pytest
from jinja2 import TemplateError

from bot.notices.draft import NoticeTemplateError, missing_facts, render_docx, render_markdown
from bot.notices.facts import CATEGORIES, FactsError, load_facts, missing, parse_facts
from bot.notices.regimes import load_regimes
from breachroom.notices_cli import add_notices_parser

NOTICE_DATE = date(2026, 11, 27)
HEADINGS = ["What Happened", "What Information Was Involved", "What We Are Doing", "What You Can Do",
            "For More Information"]

# One sentence a client would recognise from the advice for each kind of data, and only for that kind.
ADVICE = {
    "contact_details": "Expect more scam messages than usual",
    "credentials": "Change the password of every other account where you used the same",
    "government_id": "Place a fraud alert or a credit freeze",
    "payment_card": "cancel or freeze the card",
    "bank_account": "ask whether to change your account number",
    "health": "explanation-of-benefits statements",
}
PHISHING = "Be wary of emails, calls or texts that mention this breach"
BUREAUS = {
    "Equifax": ("1-800-685-1111", "P.O. Box 105788, Atlanta, GA 30348-5788", "www.equifax.com"),
    "Experian": ("1-888-397-3742", "P.O. Box 9554, Allen, TX 75013", "www.experian.com"),
    "TransUnion": ("1-888-909-8872", "P.O. Box 2000, Chester, PA 19016", "www.transunion.com"),
}
CALIFORNIA_OFFER = "[TO CONFIRM: California requires offering identity theft prevention services at no cost for at " \
                   "least 12 months"


def complete(**changes: Any) -> dict[str, Any]:
    """Facts with every key filled in, for a breach of contact details and passwords in California."""
    facts: dict[str, Any] = {
        "company": {
            "name": "Acme Bookkeeping LLC", "contact_name": "Jane Doe", "phone": "+1 415 555 0100",
            "toll_free_phone": "1-800-555-0199", "email": "privacy@acme.example", "website": "https://acme.example",
            "postal_address": "1 Main Street\nSan Francisco, CA 94105",
        },
        "what_happened": "An attacker signed in to our file server with a stolen staff password and copied client "
                         "folders.",
        "breach_started_at": "2026-03-01",
        "breach_ended_at": "2026-03-04T10:00:00Z",
        "discovered_at": "2026-03-05",
        "data_categories": ["contact_details", "credentials"],
        "affected_total": 852,
        "affected_by_region": {"US-CA": 812, "US-NV": 40},
        "actions_taken": ["We took the file server offline.", "We reset every staff password."],
        "identity_protection": {"offered": False},
    }
    facts.update(changes)
    return facts


def draft(facts: dict[str, Any], templates_dir: Path | None = None) -> str:
    return render_markdown(parse_facts(facts), notice_date=NOTICE_DATE, templates_dir=templates_dir)


def section(markdown: str, heading: str) -> str:
    """The text of one `## heading` section."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start: end if end != -1 else None]


# --- What the letter tells clients to do -------------------------------------------------------------------

@pytest.mark.parametrize("category", sorted(ADVICE))
def test_each_kind_of_data_gets_its_own_client_actions_and_no_others(category: str) -> None:
    letter = section(draft(complete(data_categories=[category], identity_protection={"offered": True,
                                    "provider": "IDCo", "months": 24, "enrollment_url": "https://id.example",
                                    "enroll_by": "2027-01-31"})), "What You Can Do")
    assert ADVICE[category] in letter
    for other, sentence in ADVICE.items():
        if other != category:
            assert sentence not in letter, other
    assert PHISHING in letter


def test_several_kinds_of_data_list_every_action_and_the_phishing_warning_once() -> None:
    letter = draft(complete(data_categories=["payment_card", "bank_account", "health", "credentials"]))
    for category in ("payment_card", "bank_account", "health", "credentials"):
        assert ADVICE[category] in letter
    assert letter.count(PHISHING) == 1


def test_government_id_lists_the_three_credit_bureaus_with_phone_address_and_website() -> None:
    letter = section(draft(complete(data_categories=["government_id"])), "What You Can Do")
    for name, (phone, address, website) in BUREAUS.items():
        line = next(line for line in letter.splitlines() if name in line)
        assert phone in line and address in line and website in line


def test_credit_bureaus_are_left_out_when_no_client_lives_in_the_us() -> None:
    letter = draft(complete(data_categories=["government_id"], affected_by_region={"DE": 40}))
    assert "Equifax" not in letter and "fraud alert" not in letter


def test_without_government_ids_there_are_no_credit_bureaus() -> None:
    assert "Equifax" not in draft(complete(data_categories=["payment_card"]))


# --- Placeholders, never guesses ---------------------------------------------------------------------------

def test_missing_facts_show_as_placeholders_and_are_listed() -> None:
    letter = draft({})
    for needed in ("the company's name", "what happened", "the date the breach was discovered",
                   "which kinds of personal information", "the company's phone number", "the name of the contact"):
        assert f"[TO CONFIRM: {needed}" in letter
    listed = missing_facts(parse_facts({}))
    assert "the company's phone number" in listed
    assert len(listed) == len(set(listed))
    assert "None" not in letter


def test_placeholders_disappear_when_every_fact_is_filled_in() -> None:
    facts = complete()
    assert "TO CONFIRM" not in draft(facts)
    assert missing_facts(parse_facts(facts)) == []
    assert missing(parse_facts(facts)) == []


def test_one_missing_fact_leaves_exactly_its_placeholder() -> None:
    facts = complete()
    del facts["company"]["phone"]
    assert missing_facts(parse_facts(facts)) == ["the company's phone number"]
    assert missing(parse_facts(facts)) == ["Company phone"]


def test_the_missing_facts_card_names_facts_in_plain_words() -> None:
    labels = missing(parse_facts({"data_categories": ["health"], "identity_protection": {"offered": True}}))
    assert "Company name" in labels and "What happened, in plain words" in labels
    assert "Toll-free phone number (health data was involved)" in labels
    assert "Identity protection enrollment URL or code" in labels
    assert "Kinds of data involved" not in labels


def test_other_data_asks_the_business_to_describe_it() -> None:
    letter = section(draft(complete(data_categories=["other"])), "What Information Was Involved")
    assert "[TO CONFIRM: describe the other kinds of information involved]" in letter


# --- What the law asks for --------------------------------------------------------------------------------

def test_letter_follows_the_california_structure() -> None:
    letter = draft(complete())
    assert letter.startswith("# Notice of Data Breach\n")
    assert "Date of this notice: November 27, 2026" in letter
    assert re.findall(r"^## (.+)$", letter, re.M) == HEADINGS
    california = next(r for r in load_regimes() if r.id == "us-ca-1798.82")
    assert california.required_sections == HEADINGS
    assert california.title == "Notice of Data Breach"


def test_what_happened_gives_the_breach_dates_and_the_discovery() -> None:
    letter = section(draft(complete()), "What Happened")
    assert "between March 1, 2026 and March 4, 2026" in letter
    assert "discovered it on March 5, 2026" in letter
    assert "852 people" in letter
    one_day = section(draft(complete(breach_ended_at="2026-03-01T23:00:00")), "What Happened")
    assert "happened on March 1, 2026" in one_day


def test_government_ids_without_identity_protection_ask_for_californias_12_month_offer() -> None:
    for protection in ({"offered": False}, {}):
        letter = draft(complete(data_categories=["government_id"], identity_protection=protection))
        assert CALIFORNIA_OFFER in section(letter, "What We Are Doing")


def test_offered_identity_protection_shows_how_to_enroll() -> None:
    offer = {"offered": True, "provider": "IDShield Co", "months": 24, "enrollment_url": "https://enroll.example/acme",
             "enrollment_code": "ACME-2026", "enroll_by": "2027-01-31"}
    letter = draft(complete(data_categories=["government_id"], identity_protection=offer))
    assert "California requires" not in letter
    assert "24 months of identity protection from IDShield Co" in section(letter, "What We Are Doing")
    enrol = section(letter, "What You Can Do")
    for detail in ("IDShield Co", "https://enroll.example/acme", "ACME-2026", "January 31, 2027"):
        assert detail in enrol


def test_a_short_identity_protection_offer_is_flagged_for_california() -> None:
    offer = {"offered": True, "provider": "IDCo", "months": 6, "enrollment_code": "X1", "enroll_by": "2027-01-31"}
    letter = draft(complete(data_categories=["government_id"], identity_protection=offer))
    assert "[TO CONFIRM: California requires identity theft prevention services for at least 12 months" in letter


def test_california_offer_is_not_asked_for_when_no_client_lives_in_california() -> None:
    letter = draft(complete(data_categories=["government_id"], affected_by_region={"US-NY": 3}))
    assert "California requires" not in letter
    assert "Equifax" in letter


def test_a_law_enforcement_delay_is_explained() -> None:
    delay = {"requested_at": "2026-03-06", "until": "2026-03-20", "requested_by": "the FBI"}
    letter = section(draft(complete(law_enforcement_delay=delay)), "What Happened")
    assert "We delayed this notice because the FBI asked us to on March 6, 2026" in letter
    assert "until March 20, 2026" in letter
    assert "not delayed" not in letter
    assert "This notice was not delayed because of a law enforcement investigation." in draft(complete())


def test_a_law_enforcement_delay_without_the_agency_asks_for_it() -> None:
    letter = draft(complete(law_enforcement_delay={}))
    assert "[TO CONFIRM: the law enforcement agency that asked for the delay]" in letter


@pytest.mark.parametrize("region", ["DE", "GB", "FR-75"])
def test_clients_in_the_eu_or_uk_get_what_gdpr_article_34_asks_for(region: str) -> None:
    letter = draft(complete(affected_by_region={region: 40}))
    consequences = section(letter, "What Information Was Involved")
    assert "What this could mean for you" in consequences
    assert "Someone could sign in to your account" in consequences  # credentials: the likely consequence
    assert "please contact Jane Doe" in letter  # the contact point
    assert "We took the file server offline." in section(letter, "What We Are Doing")  # the measures
    assert "data protection authority" in letter


def test_clients_only_in_the_us_get_no_gdpr_additions() -> None:
    letter = draft(complete())
    assert "What this could mean for you" not in letter
    assert "data protection authority" not in letter


def test_health_data_puts_a_toll_free_number_among_the_contacts() -> None:
    letter = section(draft(complete(data_categories=["health"])), "For More Information")
    assert "- Toll-free phone: 1-800-555-0199" in letter
    facts = complete(data_categories=["health"])
    del facts["company"]["toll_free_phone"]
    assert "- Toll-free phone: [TO CONFIRM: a toll-free phone number" in draft(facts)


def test_without_health_data_a_missing_toll_free_number_is_not_asked_for() -> None:
    facts = complete()
    del facts["company"]["toll_free_phone"]
    assert "Toll-free" not in draft(facts)


# --- The Word document ------------------------------------------------------------------------------------

def test_docx_opens_with_the_title_and_the_five_headings_as_word_headings() -> None:
    data = render_docx(parse_facts(complete(data_categories=["government_id"])), notice_date=NOTICE_DATE)
    document = docx.Document(io.BytesIO(data))
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [("Heading 1", "Notice of Data Breach")] + [("Heading 2", h) for h in HEADINGS]
    bullets = [p.text for p in document.paragraphs if p.style.name == "List Bullet"]
    assert "We took the file server offline." in bullets
    assert any(p.text.startswith("Equifax: phone 1-800-685-1111") and p.runs[0].bold for p in document.paragraphs)


def test_docx_and_markdown_say_the_same() -> None:
    facts = parse_facts(complete(data_categories=["government_id", "other"]))
    markdown = render_markdown(facts, notice_date=NOTICE_DATE)
    document = docx.Document(io.BytesIO(render_docx(facts, notice_date=NOTICE_DATE)))
    words = " ".join(p.text for p in document.paragraphs).split()
    expected = re.sub(r"^#+ |^- |\*\*|\\(?=\W)", "", markdown, flags=re.M).split()
    assert words == expected


def test_a_fact_cannot_change_the_letters_structure() -> None:
    hostile = "# Fake heading\n\n- fake bullet **bold** [link](https://evil.example) <b>x</b> 1. one\n\n---"
    facts = complete(what_happened=hostile, actions_taken=["## Also a heading", "1. numbered"])
    markdown = draft(facts)
    assert re.findall(r"^#{1,3} ", markdown, re.M) == ["# "] + ["## "] * 5
    document = docx.Document(io.BytesIO(render_docx(parse_facts(facts), notice_date=NOTICE_DATE)))
    texts = [p.text for p in document.paragraphs]
    assert "# Fake heading" in texts
    assert any("fake bullet **bold** [link](https://evil.example) <b>x</b>" in t for t in texts)
    assert "## Also a heading" in texts
    assert not any(run.bold for p in document.paragraphs if "fake bullet" in p.text for run in p.runs)
    assert sum(p.style.name.startswith("Heading") for p in document.paragraphs) == 6


# --- A business's own templates ---------------------------------------------------------------------------

def test_a_template_directory_replaces_the_letter(tmp_path: Path) -> None:
    (tmp_path / "notice.md.j2").write_text("# Our own letter\n\nFrom {{ company.name }}, {{ notice_date }}.\n")
    assert draft(complete(), tmp_path) == "# Our own letter\n\nFrom Acme Bookkeeping LLC, November 27, 2026.\n"


def test_a_template_directory_can_replace_one_section(tmp_path: Path) -> None:
    (tmp_path / "what_happened.md.j2").write_text("## What Happened\n\nIn our words: {{ facts.what_happened }}\n")
    letter = draft(complete(), tmp_path)
    assert "In our words: An attacker signed in" in letter
    assert "Notice of Data Breach" in letter and "## For More Information" in letter


def test_a_template_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "notice.md.j2"
    broken.write_text("# Letter\n\n{% if facts.what_happened %}\nNo endif here.\n")
    with pytest.raises(TemplateError) as caught:
        draft(complete(), tmp_path)
    assert isinstance(caught.value, NoticeTemplateError)
    message = str(caught.value)
    assert str(broken) in message and "line 4" in message and "\n" not in message


def test_a_misspelt_name_in_a_template_is_an_error_not_a_gap(tmp_path: Path) -> None:
    (tmp_path / "what_happened.md.j2").write_text("## What Happened\n\n{{ facts.what_hapened }}\n")
    with pytest.raises(NoticeTemplateError, match=r"what_happened\.md\.j2, line 3: .*what_hapened"):
        draft(complete(), tmp_path)


def test_a_missing_template_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(NoticeTemplateError, match="does not exist"):
        draft(complete(), tmp_path / "nowhere")


# --- Bad facts --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "expected"), [
    ({"data_categories": ["credentials", "ssn"]}, "data_categories.1: unknown category 'ssn' (use one of "),
    ({"discovered_at": "31/02/2026"}, "discovered_at: not a date: '31/02/2026'"),
    ({"breach_started_at": "2026-02-30"}, "breach_started_at: not a date: '2026-02-30'"),
    ({"what_happened": "x" * 5001}, "what_happened: is too long: 5,001 characters (at most 5,000)"),
    ({"company": {"name": "  "}}, "company.name: is empty"),
    ({"actions_taken": ["Done.", ""]}, "actions_taken.1: is empty"),
    ({"affected_by_region": {"California": 3}}, "affected_by_region.California: not an ISO 3166 code"),
    ({"affected_by_region": {"UK": 3}}, "affected_by_region.UK: use 'GB'"),
    ({"affected_total": -1}, "affected_total: input should be greater than or equal to 0"),
    ({"identity_protection": {"enroll_by": "next month"}}, "identity_protection.enroll_by: not a date"),
    ({"company": {"email": "privacy at acme"}}, "company.email: not an email address"),
    ({"compnay": {}}, "compnay: unknown key (known keys here: company, "),
    ({"breach_started_at": "2026-03-05", "breach_ended_at": "2026-03-01"}, "breach_ended_at: 2026-03-01 is before"),
    ({"what_happened": "bad\x00byte"}, "what_happened: contains the control character U+0000"),
])
def test_bad_facts_give_one_line_naming_the_key(facts: dict[str, Any], expected: str) -> None:
    with pytest.raises(FactsError) as caught:
        parse_facts(facts)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


def test_facts_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "facts.json"
    broken.write_text('{"company": {"name": "Acme",}}')
    with pytest.raises(FactsError, match=r"facts\.json is not valid JSON: .* line 1, column 29"):
        load_facts(broken)
    with pytest.raises(FactsError, match=r"cannot read .*absent\.json"):
        load_facts(tmp_path / "absent.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(FactsError, match="must be a JSON object"):
        load_facts(tmp_path / "list.json")


def test_facts_accept_dates_and_datetimes_and_survive_a_round_trip() -> None:
    facts = parse_facts(complete(data_categories=list(CATEGORIES), affected_by_region={"us-ca": 1, "DE": 2}))
    assert facts.affected_by_region == {"US-CA": 1, "DE": 2}
    assert parse_facts(json.loads(facts.model_dump_json())) == facts
    assert parse_facts({"data_categories": None, "company": None}).company.name is None


# --- The command line -------------------------------------------------------------------------------------

def cli() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="breachroom")
    add_notices_parser(top.add_subparsers(dest="command", required=True))
    return top


def test_cli_writes_the_markdown_and_the_docx(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BREACHROOM_TEMPLATES", raising=False)
    facts = complete(data_categories=["government_id"])
    del facts["company"]["phone"]
    (tmp_path / "facts.json").write_text(json.dumps(facts))
    out = tmp_path / "drafts" / "v1"
    args = cli().parse_args(["notices", "draft", "--facts", str(tmp_path / "facts.json"), "--out", str(out),
                             "--date", "2026-11-27"])
    assert args.run(args) == 0
    printed = capsys.readouterr().out
    assert str(out / "notice.md") in printed and str(out / "notice.docx") in printed
    assert "the company's phone number" in printed and "California requires" in printed
    assert (out / "notice.md").read_text().startswith("# Notice of Data Breach")
    assert "November 27, 2026" in (out / "notice.md").read_text()
    assert docx.Document(str(out / "notice.docx")).paragraphs[0].text == "Notice of Data Breach"


def test_cli_rejects_bad_facts_with_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "facts.json").write_text('{"data_categories": ["ssn"]}')
    args = cli().parse_args(["notices", "draft", "--facts", str(tmp_path / "facts.json"), "--out", str(tmp_path)])
    assert args.run(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("breachroom: ") and "data_categories.0: unknown category 'ssn'" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "notice.md").exists()


RUN_CLI = (
    "import argparse, sys\n"
    "from breachroom.notices_cli import add_notices_parser\n"
    "top = argparse.ArgumentParser(prog='breachroom')\n"
    "add_notices_parser(top.add_subparsers(dest='command', required=True))\n"
    "args = top.parse_args(sys.argv[1:])\n"
    "sys.exit(args.run(args))\n"
)


def run_cli(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "BREACHROOM_TEMPLATES"} | env
    return subprocess.run([sys.executable, "-c", RUN_CLI, *argv], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_end_to_end_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text(json.dumps(complete(affected_by_region={"DE": 40})))
    done = run_cli(tmp_path, "notices", "draft", "--facts", "facts.json", "--out", "out", "--date", "2026-11-27")
    assert done.returncode == 0, done.stderr
    assert "Nothing left to confirm." in done.stdout and "GDPR" in done.stdout
    assert (tmp_path / "out" / "notice.md").is_file()
    assert docx.Document(str(tmp_path / "out" / "notice.docx")).core_properties.title == "Notice of Data Breach"


def test_cli_process_with_a_broken_override_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text(json.dumps(complete()))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "notice.md.j2").write_text("# Letter\n{{ company.name \n")
    done = run_cli(tmp_path, "notices", "draft", "--facts", "facts.json", "--out", "out",
                   BREACHROOM_TEMPLATES=str(tmp_path / "templates"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("breachroom: BREACHROOM_TEMPLATES: ")
    assert "notice.md.j2, line 2" in lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_process_with_invalid_json_exits_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text("{")
    done = run_cli(tmp_path, "notices", "draft", "--facts", "facts.json", "--out", "out")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "facts.json is not valid JSON" in done.stderr
