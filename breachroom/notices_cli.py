"""`breachroom notices draft`: a client notice from a JSON file of facts, without any chat platform.

A lawyer or an MSP iterates on a letter here with the same engine the war room uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from bot.notices.draft import NoticeTemplateError, placeholders, render_markdown
from bot.notices.facts import FactsError, load_facts
from bot.notices.regimes import RulesError, applicable
from bot.notices.word import markdown_to_docx

TEMPLATES_SETTING = "BREACHROOM_TEMPLATES"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _fail(message: str) -> int:
    print(f"breachroom: {message}", file=sys.stderr)
    return 2


def _templates_dir() -> Path | None:
    value = os.environ.get(TEMPLATES_SETTING, "").strip()
    return Path(value) if value else None


def cmd_notices_draft(args: argparse.Namespace) -> int:
    """Write DIR/notice.md and DIR/notice.docx; list what is still to confirm. 2 and one line on bad input."""
    templates = _templates_dir()
    try:
        facts = load_facts(args.facts)
        markdown = render_markdown(facts, notice_date=args.date or date.today(), templates_dir=templates)
    except FactsError as exc:
        return _fail(f"{args.facts}: {exc}" if str(args.facts) not in str(exc) else str(exc))
    except NoticeTemplateError as exc:
        return _fail(f"{TEMPLATES_SETTING}: {exc}" if templates is not None else str(exc))
    except RulesError as exc:
        return _fail(str(exc))
    out: Path = args.out
    md_path, docx_path = out / "notice.md", out / "notice.docx"
    try:
        document = markdown_to_docx(markdown)
        out.mkdir(parents=True, exist_ok=True)
        md_path.write_text(markdown, encoding="utf-8")
        docx_path.write_bytes(document)
    except OSError as exc:
        return _fail(f"cannot write to {out}: {exc.strerror or exc}")
    print(md_path)
    print(docx_path)
    rules = "; ".join(r.citation for r in applicable(facts))
    print(f"Rules followed: {rules or 'none matched; the letter keeps the California structure'}")
    todo = placeholders(markdown)
    if todo:
        print(f"Still to confirm ({len(todo)}):")
        for what in todo:
            print(f"  - {what}")
    else:
        print("Nothing left to confirm.")
    return 0


def add_notices_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `notices draft --facts FILE --out DIR [--date YYYY-MM-DD]` to the `breachroom` command."""
    notices = subparsers.add_parser("notices", help="draft client notices")
    actions = notices.add_subparsers(dest="notices_command", required=True)
    draft = actions.add_parser(
        "draft", help="write notice.md and notice.docx from a JSON file of facts",
        description=f"Draft the client notice from a JSON file of facts. Templates in ${TEMPLATES_SETTING}, "
                    "if set, replace the built-in ones of the same name.",
    )
    draft.add_argument("--facts", type=Path, required=True, help="JSON file of notice facts")
    draft.add_argument("--out", type=Path, required=True, help="directory to write notice.md and notice.docx to")
    draft.add_argument("--date", type=_iso_date, default=None, help="date of the notice, YYYY-MM-DD (default: today)")
    draft.set_defaults(run=cmd_notices_draft)
    return notices
