"""Group commit: requests that arrive while one transaction runs are stored together in the next one.

Fifty people (or one person's fifty retries) declaring at once would otherwise wait for fifty transactions in
a row before the last is acknowledged; each transaction's fixed cost (a connection, BEGIN, the locks, COMMIT
and its flush to disk) is paid once per batch instead. Nothing waits to fill a batch: the first request runs
at once, alone, and those that arrive meanwhile form the next batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await batcher(item)` gives `run([.., item, ..])`'s answer for `item`.

    `run` answers a list of items with a list of answers in the same order, in one transaction. When a batch of
    several fails, each item is tried alone, so that one bad request cannot fail the others.
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], limit: int = 100) -> None:
        self.run = run
        self.limit = limit
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._storing: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._work_through())
        return await answer

    async def _work_through(self) -> None:
        """Store batches until none is waiting; each request is answered as soon as its batch is stored."""
        while self._waiting:
            batch, self._waiting = self._waiting[: self.limit], self._waiting[self.limit:]
            try:
                answers = await self.run([item for item, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], error=exc)
                    continue
                log.warning("a batch of %s failed (%s); storing each alone", len(batch), type(exc).__name__)
                for item, answer in batch:
                    try:
                        _settle(answer, (await self.run([item]))[0])
                    except Exception as alone:
                        _settle(answer, error=alone)
                continue
            for (_, answer), result in zip(batch, answers, strict=True):
                _settle(answer, result)


def _settle(answer: asyncio.Future[R], result: R | None = None, *, error: Exception | None = None) -> None:
    if answer.done():  # its request was given up (the client went away); what was stored stays stored
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)  # type: ignore[arg-type]
