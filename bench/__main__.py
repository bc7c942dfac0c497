"""`python -m bench [--db sqlite|postgres]`: how fast Breachroom acknowledges, builds war rooms and writes letters.

It serves the bot (`breachroom serve`) and the floor (a bare Bolt app that only acknowledges, `bench.floor`) in
processes of their own, plays Slack's Web API itself with every call answered after L = 50 ms, prints one table
and writes `bench/results.json` (one entry per database; a run on the other database keeps its entry).
PostgreSQL runs need a server that lets the bench create databases: BREACHROOM_BENCH_PG (or BREACHROOM_TEST_PG),
by default postgresql://postgres@127.0.0.1:5432/test, as the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from pathlib import Path

from bench.report import table
from bench.run import SMOKE, Sizes, run

RESULTS = Path(__file__).with_name("results.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the bench runs, measures nothing")
    parser.add_argument("--workers", type=int, default=None,
                        help="war-room workers of the bot (default: its own bound), to compare bounds")
    parser.add_argument("--burst", type=int, default=None, help="declarations in a burst (default 150)")
    parser.add_argument("--no-mail-merge", action="store_true", help="leave the mail merge out (item 5)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes()
    if args.burst is not None:
        sizes = replace(sizes, burst=args.burst)
    result = asyncio.run(run(args.db, sizes, workers=args.workers, mail=not args.no_mail_merge))
    print(table(result))
    try:
        kept = json.loads(args.out.read_text())
        kept = kept if isinstance(kept, dict) else {}
    except (OSError, ValueError):
        kept = {}
    kept[args.db] = result
    args.out.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")
    held = all(t["held"] for t in result["targets"])
    print(f"\n{'Every target held' if held else 'Some targets were missed'}; figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
