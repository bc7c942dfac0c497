"""Closed-loop clients and bursts, and the figures drawn from their latencies."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

Request = tuple[bytes, dict[str, str]]
Send = Callable[[Request], Awaitable[tuple[int, float]]]


@dataclass
class Run:
    """Latencies (seconds) of the requests of one or more rounds, and the seconds those rounds took."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failed: int = 0

    def add(self, other: Run) -> None:
        self.latencies += other.latencies
        self.seconds += other.seconds
        self.failed += other.failed

    def figures(self) -> dict[str, float | int]:
        return {"requests": len(self.latencies), "failed": self.failed,
                "p50_ms": round(percentile(self.latencies, 50) * 1000, 2),
                "p99_ms": round(percentile(self.latencies, 99) * 1000, 2),
                "max_ms": round(max(self.latencies, default=math.nan) * 1000, 2),
                "per_s": round(len(self.latencies) / self.seconds, 1) if self.seconds else 0.0}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


async def closed_loop(send: Send, requests: Sequence[Sequence[Request]]) -> Run:
    """One client per list of requests, each sending its next request as soon as the last was answered."""
    run = Run()

    async def client(mine: Sequence[Request]) -> None:
        for request in mine:
            status, seconds = await send(request)
            run.latencies.append(seconds)
            if status != 200:
                run.failed += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(mine) for mine in requests))
    run.seconds = time.perf_counter() - start
    return run


async def burst(send: Send, requests: Sequence[Request]) -> tuple[Run, float]:
    """All requests at once; also returns when the burst started (time.monotonic, the clock of bench.slack_api)."""
    run = Run()
    start = time.monotonic()
    answers = await asyncio.gather(*(send(r) for r in requests))
    run.seconds = time.monotonic() - start
    run.latencies = [seconds for _, seconds in answers]
    run.failed = sum(1 for status, _ in answers if status != 200)
    return run, start
