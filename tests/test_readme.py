"""The README tells the truth: its example facts file drafts a complete notice."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from bot.notices.draft import placeholders, render_markdown
from bot.notices.facts import parse_facts

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_facts_example_is_valid_and_complete() -> None:
    example = re.search(r"```json\n(.*?)```", README.read_text(), re.S)
    assert example is not None
    facts = parse_facts(json.loads(example.group(1)))
    letter = render_markdown(facts, notice_date=date(2026, 3, 20))
    assert placeholders(letter) == []
    assert "Acme Dental" in letter


def test_the_readme_gives_the_two_commands_first() -> None:
    head = README.read_text().split("## What it is")[0]
    assert "breachroom serve" in head and "python -m pytest" in head
    ci = (README.parent / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest" in ci and ".venv/bin/python -m pytest" in head
