"""One letter per client (mail merge): a Word letter and a ready-to-send email for every row of a client list.

Layout of the output folder, which must be new or empty so that no letter of an earlier merge mixes in:

    letters/0001-zoe-angstrom.docx   one per client that gets a letter, numbered by client-list row
    emails/0001-zoe-angstrom.eml     the same letter as an unsent email (only with a company email to send from)
    manifest.csv                     row,name,email,docx,eml,approved,draft,note: one line per letter
    errors.csv                       row,reason: one line per row that got no letter

Both CSV files start with a byte-order mark so that Excel reads their accents right. The letter is rendered
once per client with Jinja2 and the Word file filled into a pre-built package (`word_package`), which is what
makes ten thousand letters take seconds; above `PARALLEL_FROM` clients the work is shared by one process
per core.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import Callable, Collection
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bot.notices.blocks import plain_letter
from bot.notices.clients import Client, ClientList, Rejected
from bot.notices.draft import NoticeTemplateError, letter_renderer, placeholders
from bot.notices.eml import Sender, email_problem, eml
from bot.notices.facts import Facts
from bot.notices.word_package import LetterPackage

FORMATS = ("docx", "eml")
MANIFEST_COLUMNS = ("row", "name", "email", "docx", "eml", "approved", "draft", "note")
ERRORS_COLUMNS = ("row", "reason")
# Below this many letters a second process costs more to start than it saves (about even at 1,000 on two cores).
PARALLEL_FROM = 1000
CHUNK = 250


class MergeError(ValueError):
    """The merge cannot run or cannot finish; one line naming the problem."""


@dataclass(frozen=True)
class Plan:
    """What every letter of one merge shares; sent once to each worker process."""

    facts: Facts
    notice_date: date
    templates_dir: str | None
    out: Path
    sender: Sender | None  # None: no .eml files
    formats: frozenset[str]


@dataclass(frozen=True, slots=True)
class Written:
    """What became of one client: the files written (paths relative to the output folder), or an error."""

    row: int
    docx: str = ""
    eml: str = ""
    error: str = ""


@dataclass
class MergeResult:
    letters: int = 0
    emails: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    no_email_reason: str = ""  # why no .eml was written at all
    post_only: int = 0  # clients with a postal address whose email is missing or malformed
    to_confirm: list[str] = field(default_factory=list)  # placeholders left in the letter
    workers: int = 1
    manifest: Path | None = None
    errors: Path | None = None


def slug(name: str) -> str:
    """A file-name-safe short form of a client's name: `Zoë Ångström` → `zoe-angstrom`."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:40].rstrip("-") or "client"


class LetterWriter:
    """Renders and writes the files of one client; one per process."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.render = letter_renderer(plan.facts, notice_date=plan.notice_date, templates_dir=plan.templates_dir)
        self.package = LetterPackage() if "docx" in plan.formats else None

    def write(self, client: Client, stem: str) -> Written:
        """Raises OSError when a file cannot be written (that stops the merge: the next would fail too)."""
        try:
            markdown = self.render(client.fields)
            document = self.package.docx(markdown) if self.package else None
        except (NoticeTemplateError, ValueError) as exc:
            return Written(client.row, error=f"the letter could not be written: {exc}")
        docx_name = eml_name = ""
        if document is not None:
            docx_name = f"letters/{stem}.docx"
            (self.plan.out / docx_name).write_bytes(document)
        sender = self.plan.sender
        if sender is not None and client.email:
            message = eml(sender, to_name=client.name, to_address=client.email, body=plain_letter(markdown),
                          row=client.row)
            eml_name = f"emails/{stem}.eml"
            (self.plan.out / eml_name).write_bytes(message)
        return Written(client.row, docx_name, eml_name)


_writer: LetterWriter | None = None


def _start_worker(plan: Plan) -> None:
    global _writer
    # A forked worker already holds the writer the merge made (and its warm caches); a spawned one makes its own.
    if _writer is None or _writer.plan is not plan:
        _writer = LetterWriter(plan)


def _write_chunk(jobs: list[tuple[Client, str]]) -> list[Written]:
    assert _writer is not None, "the worker was not started"
    return [_writer.write(client, stem) for client, stem in jobs]


def _sender(facts: Facts, now: datetime) -> tuple[Sender | None, str]:
    """Who the emails come from, or why there are none."""
    company = facts.company
    if not company.email:
        return None, "the facts have no company email to send from (company.email)"
    problem = email_problem(company.email)
    if problem:
        return None, f"the company email {company.email!r} cannot be a sender ({problem})"
    run_id = f"{now:%Y%m%d%H%M%S}.{secrets.token_hex(3)}"
    return Sender(company.name, company.email, now, run_id), ""


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise MergeError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise MergeError(f"{out} is not empty: merge into a new folder, so that no letter of an earlier merge "
                         "is mixed with these")


def merge(facts: Facts, clients: ClientList, out: Path, *, notice_date: date, approved: bool, draft: str,
          templates_dir: Path | str | None = None, formats: Collection[str] = FORMATS,
          workers: int | None = None, progress: Callable[[int], None] | None = None,
          now: datetime | None = None) -> MergeResult:
    """Write the letters, emails, manifest and errors of `clients` into `out`.

    `draft` says in the manifest what the letters were drawn from (`incident 7 v2`, `facts.json`); `workers`
    None shares the work over the cores when there are many clients; `progress` is called with the number of
    clients just done. Raises NoticeTemplateError before writing anything when the template fails for the first
    client, MergeError when `out` cannot be used.
    """
    out = Path(out)
    _prepare(out)
    now = now or datetime.now().astimezone()
    sender, no_email = _sender(facts, now) if "eml" in formats else (None, "")
    plan = Plan(facts, notice_date, None if templates_dir is None else str(templates_dir), out, sender,
                frozenset(formats))
    result = MergeResult(rejected=list(clients.rejected), no_email_reason=no_email)
    writer = LetterWriter(plan)
    if clients.clients:
        # The template fails here, before any file exists, when it cannot serve this client list at all.
        result.to_confirm = placeholders(writer.render(clients.clients[0].fields))
    width = max(4, len(str(max((c.row for c in clients.clients), default=0))))
    jobs = [(c, f"{c.row:0{width}d}-{slug(c.name)}") for c in clients.clients]
    try:
        out.mkdir(parents=True, exist_ok=True)
        for folder, kind in (("letters", "docx"), ("emails", "eml")):
            if kind in formats and (kind != "eml" or sender is not None):
                (out / folder).mkdir(exist_ok=True)
        written = _write_all(plan, writer, jobs, workers, progress, result)
        _record(out, clients, written, approved, draft, sender is not None, result)
    except OSError as exc:
        raise MergeError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return result


def _write_all(plan: Plan, writer: LetterWriter, jobs: list[tuple[Client, str]], workers: int | None,
               progress: Callable[[int], None] | None, result: MergeResult) -> list[Written]:
    chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    if workers is None:
        workers = min(os.cpu_count() or 1, len(chunks)) if len(jobs) >= PARALLEL_FROM else 1
    result.workers = max(1, min(workers, len(chunks)))
    written: list[Written] = []
    if result.workers == 1:
        for chunk in chunks:
            written += [writer.write(client, stem) for client, stem in chunk]
            if progress:
                progress(len(chunk))
        return written
    global _writer
    # fork: the workers inherit the modules, the templates and the writer instead of loading them again.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    _writer = writer
    try:
        with ProcessPoolExecutor(result.workers, mp_context=context, initializer=_start_worker,
                                 initargs=(plan,)) as pool:
            futures = {pool.submit(_write_chunk, chunk): len(chunk) for chunk in chunks}
            try:
                for future in as_completed(futures):
                    written += future.result()
                    if progress:
                        progress(futures[future])
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        _writer = None
    return written


def _record(out: Path, clients: ClientList, written: list[Written], approved: bool, draft: str,
            emails_on: bool, result: MergeResult) -> None:
    by_row = {c.row: c for c in clients.clients}
    letters: list[list[object]] = []
    for done in sorted(written, key=lambda w: w.row):
        if done.error:
            result.rejected.append(Rejected(done.row, done.error))
            continue
        client = by_row[done.row]
        result.letters += bool(done.docx) or bool(done.eml)
        result.emails += bool(done.eml)
        note = client.note or ("" if client.email else "no email: letter for the post only")
        if client.email and not done.eml and not emails_on and result.no_email_reason:
            note = f"no .eml: {result.no_email_reason}"
        result.post_only += not client.email
        letters.append([done.row, client.name, client.fields["email"], done.docx, done.eml,
                        "yes" if approved else "no", draft, note])
    result.manifest, result.errors = out / "manifest.csv", out / "errors.csv"
    _write_csv(result.manifest, MANIFEST_COLUMNS, letters)
    _write_csv(result.errors, ERRORS_COLUMNS,
               [[r.row, r.reason] for r in sorted(result.rejected, key=lambda r: r.row)])


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        table = csv.writer(file)
        table.writerow(header)
        table.writerows(rows)

