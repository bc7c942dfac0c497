"""`breachroom notices draft` and `notices merge`: client notices without any chat platform.

A lawyer or an MSP iterates on a letter with `draft`, from a JSON file of facts, with the same engine the war
room uses; `merge` then writes one letter and one email per client of a CSV list, from the incident's
approved draft (or, for review, from a facts file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.notices.clients import ClientListError, read_clients
from bot.notices.draft import NoticeTemplateError, placeholders, render_markdown
from bot.notices.facts import Facts, FactsError, load_facts, parse_facts
from bot.notices.regimes import RulesError, applicable

if TYPE_CHECKING:  # python-docx and the merge load only for the commands that write letters
    from bot.notices.merge import MergeResult

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
    from bot.notices.word import markdown_to_docx

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


class _Refused(Exception):
    """The merge cannot start; the message is the one line the user reads."""


async def _approved_facts(incident_id: int, templates: Path | None) -> tuple[Facts, str, str]:
    """The facts of the incident's latest approved draft, its manifest label and a line saying what it is."""
    import sqlalchemy as sa
    from sqlmodel import col

    from breachroom.settings import load
    from storage.db import Database
    from storage.models import Incident, NoticeDraft

    db = Database(load().db_url())
    try:
        async with db.reading() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                raise _Refused(f"no incident with id {incident_id} (see `breachroom incidents list`)")
            if incident.drill:
                raise _Refused(f"incident {incident_id} is a drill: its notice is an exercise, never sent to clients; "
                               "to practise a merge, use --facts FILE")
            row = (await session.execute(
                sa.select(NoticeDraft)
                .where(col(NoticeDraft.incident_id) == incident_id, col(NoticeDraft.status) == "approved")
                .order_by(col(NoticeDraft.version).desc()).limit(1))).scalars().first()
    finally:
        await db.dispose()
    if row is None:
        raise _Refused(
            f"incident {incident_id} has no approved client notice: in its war room type `/breach notice` "
            "(or press Draft client notice), then the responder or the backup presses Approve on the draft; "
            "to review letters before that, merge with --facts FILE")
    facts = parse_facts(row.facts)
    # The letters must say what was approved. Re-drawing the approved text from its facts proves the templates
    # are still those it was drafted with; the draft's date may be a day either side of its UTC creation time.
    drafted = row.created_at.date()
    if all(render_markdown(facts, notice_date=drafted + timedelta(days=d), templates_dir=templates) != row.markdown
           for d in (0, -1, 1)):
        raise _Refused(
            f"incident {incident_id}'s approved notice v{row.version} cannot be reproduced: the letter templates "
            f"differ from those it was drafted with (is {TEMPLATES_SETTING} set as it is for the bot?); "
            "draft a new version in the war room and approve it")
    approved_on = f" on {row.decided_at:%Y-%m-%d}" if row.decided_at else ""
    return (facts, f"incident {incident_id} v{row.version}",
            f"Letters of incident {incident_id}, client notice v{row.version}, approved by {row.decided_by}"
            f"{approved_on}.")


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr when a person watches it; nothing when stderr is a file or a pipe."""
    if not sys.stderr.isatty() or total == 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # No refresh thread (auto_refresh=False): the merge forks worker processes, which a live thread makes unsafe.
    with Progress(TextColumn("Letters"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), auto_refresh=False) as bar:
        task = bar.add_task("letters", total=total)

        def advance(done: int) -> None:
            bar.advance(task, done)
            bar.refresh()

        yield advance


def cmd_notices_merge(args: argparse.Namespace) -> int:
    """One .docx and one .eml per client, a manifest and an errors list. 2 and one line when it cannot run."""
    from bot.notices.merge import MergeError, merge

    started = time.perf_counter()
    if (args.incident is None) == (args.facts is None):
        return _fail("give either an incident id or --facts FILE (one of the two)")
    templates = _templates_dir()
    try:
        if args.incident is not None:
            facts, label, origin = asyncio.run(_approved_facts(args.incident, templates))
        else:
            facts, label = load_facts(args.facts), args.facts.name
            origin = (f"Letters of {args.facts}: NOT APPROVED, for review only (the manifest says approved=no); "
                      "send the letters of an approved draft: `breachroom notices merge INCIDENT`.")
        clients = read_clients(args.clients)
        with _progress_bar(len(clients.clients)) as progress:
            result = merge(facts, clients, args.out, notice_date=args.date or date.today(),
                           approved=args.incident is not None, draft=label, templates_dir=templates,
                           progress=progress)
    except _Refused as exc:
        return _fail(str(exc))
    except FactsError as exc:
        return _fail(f"{args.facts}: {exc}" if args.facts and str(args.facts) not in str(exc) else str(exc))
    except NoticeTemplateError as exc:
        return _fail(f"{TEMPLATES_SETTING}: {exc}" if templates is not None else str(exc))
    except (RulesError, ClientListError, MergeError) as exc:
        return _fail(str(exc))
    _report(origin, result, clients.rows, time.perf_counter() - started)
    return 0


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}" if n == 1 else f"{n:,} {thing}s"


def _report(origin: str, result: MergeResult, rows: int, seconds: float) -> None:
    print(origin)
    if result.to_confirm:
        print(f"Not ready to send: every letter still has {_count(len(result.to_confirm), 'fact')} to confirm, "
              "shown as [TO CONFIRM: …] (`breachroom notices draft` lists them).")
    if result.no_email_reason:
        print(f"No emails written: {result.no_email_reason}. Send the letters by post, or add it and merge again.")
    if result.post_only:
        print(f"{_count(result.post_only, 'client')} {'has' if result.post_only == 1 else 'have'} no usable email: "
              "letters for the post only (see the note column of the manifest).")
    if result.rejected:
        print(f"{len(result.rejected):,} of {_count(rows, 'row')} got no letter: see {result.errors}")
    print(f"Manifest: {result.manifest}")
    rate = result.letters / seconds if seconds > 0 else 0.0
    print(f"{result.letters:,} letters written, {result.emails:,} emails written, {len(result.rejected):,} rows "
          f"with errors, {seconds:.1f} s, {rate:,.0f} letters/s")


def add_notices_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `notices draft` and `notices merge` to the `breachroom` command."""
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
    merge_cmd = actions.add_parser(
        "merge", help="one Word letter and one unsent email per client of a CSV list",
        description="Write DIR/letters/NNNN-name.docx and DIR/emails/NNNN-name.eml for every client of the CSV "
                    "list (header name,email,postal_address,country,state; further columns reach the templates "
                    "as recipient.COLUMN), DIR/manifest.csv and DIR/errors.csv. The letters come from the "
                    "incident's latest approved draft (DATABASE_URL), or with --facts from a facts file, marked "
                    "unapproved. No email is sent.",
    )
    merge_cmd.add_argument("incident", nargs="?", type=int, help="incident id: use its latest approved draft")
    merge_cmd.add_argument("--facts", type=Path, default=None, help="JSON file of notice facts instead (for review)")
    merge_cmd.add_argument("--clients", type=Path, required=True, help="CSV file of clients, UTF-8")
    merge_cmd.add_argument("--out", type=Path, required=True, help="new or empty directory to write into")
    merge_cmd.add_argument("--date", type=_iso_date, default=None,
                           help="date of the letters, YYYY-MM-DD (default: today)")
    merge_cmd.set_defaults(run=cmd_notices_merge)
    return notices
