"""How fast the mail merge writes letters: 10,000 synthetic clients, .docx and .eml measured apart.

Run it from the repository: `python -m bench.mail_merge [--clients N] [--workers N]`. It writes into a temporary
folder that it removes afterwards, and prints one table:

- the full merge (Word letters and emails together, as `breachroom notices merge` runs it),
- the Word letters alone and the emails alone,
- the floor: rendering the letter text with Jinja2 alone, in one process, for the same clients,
- for scale, python-docx building each letter (timed on a small sample: it is too slow for all of them).

Besides the clock, it gives the CPU time per letter (worker processes included), which other work on the
machine does not inflate: on a busy machine, compare that column.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path

from bot.notices.clients import ClientList, read_clients
from bot.notices.draft import letter_renderer
from bot.notices.facts import Facts, parse_facts
from bot.notices.merge import FORMATS, merge
from bot.notices.word import markdown_to_docx

NOTICE_DATE = date(2026, 3, 20)
FIRST = ["Zoë", "Ana", "Björn", "Chloé", "Dmitri", "Emma", "François", "Grace", "Hiroshi", "Inès", "José", "Kai"]
LAST = ["Ångström", "Smith", "Müller", "García", "O'Neil", "Nguyen", "Dubois", "Kowalski", "Rossi", "Chen"]
PLACES = [("US", "CA"), ("US", "US-NY"), ("US", "TX"), ("DE", ""), ("GB", ""), ("FR", ""), ("US", "PR")]


def sample_facts() -> Facts:
    """A complete notice for a breach of contact details, passwords and ID numbers in the US and the EU."""
    return parse_facts({
        "company": {"name": "Acme Bookkeeping LLC", "contact_name": "Jane Doe", "phone": "+1 415 555 0100",
                    "toll_free_phone": "1-800-555-0199", "email": "privacy@acme.example",
                    "website": "https://acme.example", "postal_address": "1 Main Street\nSan Francisco, CA 94105"},
        "what_happened": "An attacker signed in to our file server with a stolen staff password and copied "
                         "client folders.",
        "breach_started_at": "2026-03-01", "breach_ended_at": "2026-03-04", "discovered_at": "2026-03-05",
        "data_categories": ["contact_details", "credentials", "government_id"],
        "affected_total": 10_000, "affected_by_region": {"US-CA": 6000, "US-NY": 2000, "DE": 1000, "GB": 1000},
        "actions_taken": ["We took the file server offline.", "We reset every staff password."],
        "identity_protection": {"offered": True, "provider": "IDShield", "months": 24,
                                "enrollment_url": "https://idshield.example/acme", "enroll_by": "2026-06-30"},
    })


def write_clients(path: Path, count: int, seed: int = 7) -> None:
    """`count` plausible clients, all valid, with one extra column (`account`) as a business would have."""
    pick = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as file:
        table = csv.writer(file)
        table.writerow(["name", "email", "postal_address", "country", "state", "account"])
        for n in range(1, count + 1):
            first, last = pick.choice(FIRST), pick.choice(LAST)
            country, state = pick.choice(PLACES)
            table.writerow([f"{first} {last}", f"client{n}@example.com", f"{n} Main Street\nSpringfield",
                            country, state, f"AC-{n:06d}"])


Row = tuple[str, int, float, float, int]  # what, letters, seconds, CPU seconds, processes


def cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes: unlike the clock, not slowed by whatever
    else the machine runs at the same time."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def timed_merge(label: str, facts: Facts, clients: ClientList, out: Path, formats: Collection[str],
                workers: int | None) -> Row:
    # The disk writes back the previous run's files first, so that they do not slow this one down.
    os.sync()
    start, cpu = time.perf_counter(), cpu_seconds()
    result = merge(facts, clients, out, notice_date=NOTICE_DATE, approved=False, draft="bench",
                   formats=formats, workers=workers)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return label, result.emails if list(formats) == ["eml"] else result.letters, seconds, cpu, result.workers


def timed_loop(label: str, facts: Facts, clients: ClientList, make: Callable[[str], object]) -> Row:
    """`make` applied to the letter of each client, in this one process."""
    render = letter_renderer(facts, notice_date=NOTICE_DATE)
    start, cpu = time.perf_counter(), cpu_seconds()
    for client in clients.clients:
        make(render(client.fields))
    return label, len(clients.clients), time.perf_counter() - start, cpu_seconds() - cpu, 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mail_merge", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000, help="how many synthetic clients (default 10,000)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args(argv)
    facts = sample_facts()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="breachroom-bench-") as tmp:
        folder = Path(tmp)
        write_clients(folder / "clients.csv", args.clients)
        start, cpu = time.perf_counter(), cpu_seconds()
        clients = read_clients(folder / "clients.csv")
        rows.append(("read and check the CSV", clients.rows, time.perf_counter() - start, cpu_seconds() - cpu, 1))
        rows.append(timed_merge("full merge: .docx + .eml", facts, clients, folder / "both", FORMATS, args.workers))
        rows.append(timed_merge(".docx letters only", facts, clients, folder / "docx", ("docx",), args.workers))
        rows.append(timed_merge(".eml emails only", facts, clients, folder / "eml", ("eml",), args.workers))
        rows.append(timed_loop("floor: Jinja2 render, text only", facts, clients, lambda _: None))
        sample = ClientList(clients.columns, clients.clients[:50])
        rows.append(timed_loop("python-docx per letter (50)", facts, sample, markdown_to_docx))
    print(f"Mail merge of {args.clients:,} clients on {os.cpu_count()} cores")
    print(f"{'what':<34}{'letters':>9}{'seconds':>9}{'letters/s':>11}{'processes':>11}{'CPU ms/letter':>15}")
    for label, count, seconds, cpu, workers in rows:
        print(f"{label:<34}{count:>9,}{seconds:>9.2f}{count / seconds:>11,.0f}{workers:>11}{cpu / count * 1000:>15.2f}")


if __name__ == "__main__":
    main()
