"""`breachroom obligations`: which notification deadlines a breach sets, from the same facts file as `notices draft`.

A lawyer, an MSP or a business without a chat platform sees the clocks the war room shows, from the same engine.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from bot.deadlines.engine import Obligation, Result, obligations
from bot.deadlines.export import result_data
from bot.deadlines.wording import moment, remaining
from bot.notices.facts import Facts, FactsError, load_facts
from bot.notices.regimes import RulesError

DISCLAIMER = ("Breachroom informs; it does not give legal advice. Have a lawyer confirm which laws apply "
              "and by when.")
_LABELS = {"overdue": "OVERDUE", "open": "OPEN", "waiting": "WAITING", "done": "DONE", "not_required": "NOT REQUIRED"}
_INDENT = " " * 14


def _fail(message: str) -> int:
    print(f"breachroom: {message}", file=sys.stderr)
    return 2


def _now(text: str | None, facts: Facts) -> datetime:
    """`--now` as an instant; a date or a time without an offset is read in the business's time zone."""
    if text is None:
        return datetime.now(UTC)
    for parse in (datetime.fromisoformat, date.fromisoformat):
        try:
            value = parse(text.strip())
        except ValueError:
            continue
        instant = facts.instant(value)
        assert instant is not None
        return instant
    raise ValueError(f"--now: not a date or time: {text!r} (use ISO 8601, such as 2026-03-10T09:00:00Z)")


def _due_line(obligation: Obligation, result: Result) -> str:
    if obligation.due_at is None:
        waiting = " (not started yet)" if obligation.status == "waiting" else ""
        return f"{obligation.due_text}{waiting}"
    when = moment(obligation.due_at, result.zone)
    if obligation.status in ("open", "overdue"):
        left = obligation.time_left(result.now)
        assert left is not None
        return f"{when}, {remaining(left)} ({obligation.due_text})"
    return f"{when} ({obligation.due_text})"


def _block(obligation: Obligation, result: Result) -> list[str]:
    lines = [f"{_LABELS[obligation.status]:<13} {obligation.audience}"]
    if obligation.status != "not_required":
        # "due: without undue delay" would read as a time; a notice with no fixed time says when in words.
        label = "due: " if obligation.due_at is not None or obligation.status == "waiting" else "when:"
        lines.append(f"{_INDENT}{label} {_due_line(obligation, result)}")
    if obligation.done_at is not None:
        late = obligation.late_by
        lines.append(f"{_INDENT}done: {moment(obligation.done_at, result.zone)}"
                     + (f" ({remaining(-late).removesuffix(' overdue')} late)" if late else ""))
    lines.append(f"{_INDENT}why:  {obligation.reason}")
    lines.append(f"{_INDENT}law:  {obligation.citation}")
    if obligation.note:
        lines.append(f"{_INDENT}note: {obligation.note}")
    return lines


def render_table(result: Result, *, source: str = "") -> str:
    """The obligations for a person to read; the last line says Breachroom gives no legal advice."""
    lines = [f"Notification obligations{f' for {source}' if source else ''}",
             f"Times in {result.timezone}; now is {moment(result.now, result.zone)}.", ""]
    if not result.obligations:
        lines += ["No obligation can be shown yet: answer the questions below.", ""]
    for obligation in result.obligations:
        lines += [*_block(obligation, result), ""]
    if result.uncovered_regions:
        places = ", ".join(f"{code} ({n:,})" for code, n in result.uncovered_regions.items())
        lines += [f"Not in Breachroom's law data, so not shown above: affected people in {places}. "
                  "Their laws may still ask for notice.", ""]
    if result.questions:
        lines.append(f"Still to answer ({len(result.questions)}), each may add or remove obligations:")
        lines += [f"  - {q.question} [{q.fact}]" for q in result.questions]
        lines.append("")
    lines.append(DISCLAIMER)
    return "\n".join(lines)


def _print(text: str) -> None:
    """Print, replacing characters a legacy console encoding cannot show instead of failing on them."""
    encoding = sys.stdout.encoding or "utf-8"
    print(text.encode(encoding, errors="replace").decode(encoding))


def cmd_obligations(args: argparse.Namespace) -> int:
    """Print the obligations as a table or JSON. 2 and one line on bad input."""
    try:
        facts = load_facts(args.facts)
        now = _now(args.now, facts)
        result = obligations(facts, now=now)
    except FactsError as exc:
        return _fail(f"{args.facts}: {exc}" if str(args.facts) not in str(exc) else str(exc))
    except (RulesError, ValueError) as exc:
        return _fail(str(exc))
    if args.format == "json":
        utf8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
        data = {**result_data(result), "disclaimer": DISCLAIMER}
        print(json.dumps(data, indent=2, ensure_ascii=not utf8))
    else:
        _print(render_table(result, source=str(args.facts)))
    return 0


def add_obligations_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `obligations --facts FILE [--now ISO] [--format json|table]` to the `breachroom` command."""
    command = subparsers.add_parser(
        "obligations", help="list the notification deadlines a breach sets",
        description="List who must be told about a breach and by when, from a JSON file of facts (the same file "
                    "as `notices draft`). Breachroom informs; it does not give legal advice.",
    )
    command.add_argument("--facts", type=Path, required=True, help="JSON file of incident facts")
    command.add_argument("--now", default=None,
                         help="the moment to compute statuses at, ISO 8601 (default: now); a time without an "
                              "offset is read in the facts' timezone")
    command.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    command.set_defaults(run=cmd_obligations)
    return command
