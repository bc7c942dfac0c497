"""How many workers should build war rooms? `python -m bench.workers [--db sqlite|postgres] [--bounds 1,2,4,8]`.

For each bound it serves the bot afresh and measures what the bound trades: the acknowledgements of a burst of
150 declarations (and of 10 clients declaring in a closed loop) against the time until the last war room of the
burst is complete. A bound of 1000 stands for no bound at all.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.load import Run, burst, closed_loop
from bench.run import Bench, Sizes, log
from bench.targets import Slack, compile_once


async def one_bound(kind: str, workers: int, sizes: Sizes, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="breachroom-bench-") as tmp:
        bench = Bench(kind, sizes, Path(tmp), workers)
        await bench.api.start()
        try:
            bench.database_url = bench.dbs.new()
            bench.bot, _ = await bench.start_bot(bench.database_url, "bot.log")
            bench.to_bot = to = Slack(bench.bot.url, bench.api.url + "/response")
            await closed_loop(to.send, [bench.declares(to, 10)])
            bench.declared += 10
            await bench.rooms_done()
            loop, bursts, last = Run(), Run(), []
            for _ in range(rounds):
                run = await closed_loop(to.send, [bench.declares(to, 15) for _ in range(10)])
                loop.add(run)
                bench.declared += len(run.latencies) - run.failed
                await bench.rooms_done()
                first = len(bench.api.rooms_in_order)
                run, start = await burst(to.send, bench.declares(to, sizes.burst))
                bursts.add(run)
                bench.declared += len(run.latencies) - run.failed
                await bench.rooms_done(180)
                done = [r.complete for r in bench.api.rooms_in_order[first:] if r.complete is not None]
                last.append(max(done) - start if len(done) == sizes.burst else float("inf"))
                await bench.api.quiet(0.2)
            return {"workers": workers, "slash_c10": loop.figures(), "burst": bursts.figures(),
                    "last_room_complete_s": round(max(last), 2), "rss_mb": round(bench.bot.rss_mb(), 1)}
        finally:
            if bench.to_bot is not None:
                await bench.to_bot.close()
            if bench.bot is not None:
                await bench.bot.stop()
            await bench.api.stop()
            bench.dbs.drop_all()


async def sweep(kind: str, bounds: list[int], rounds: int, size: int) -> list[dict[str, Any]]:
    await asyncio.to_thread(compile_once)
    sizes = Sizes(burst=size)
    rows = []
    for workers in bounds:
        log(f"{kind}: {workers} workers")
        rows.append(await one_bound(kind, workers, sizes, rounds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--bounds", default="1,2,4,8,16,1000", help="comma-separated bounds to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--burst", type=int, default=150)
    args = parser.parse_args()
    rows = asyncio.run(sweep(args.db, [int(b) for b in args.bounds.split(",")], args.rounds, args.burst))
    print(f"| workers | c10 ack p50 | c10 ack p99 | burst ack p50 | burst ack p99 | burst ack max "
          f"| last of {args.burst} rooms complete | RSS |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        c10, b = row["slash_c10"], row["burst"]
        print(f"| {row['workers']} | {c10['p50_ms']:.0f} ms | {c10['p99_ms']:.0f} ms | {b['p50_ms']:.0f} ms "
              f"| {b['p99_ms']:.0f} ms | {b['max_ms']:.0f} ms | {row['last_room_complete_s']:.1f} s "
              f"| {row['rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
