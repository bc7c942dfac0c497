"""Answers first: work done after an acknowledgement steps aside while a request is being answered.

Slack shows a command as failed when it is not acknowledged within 3 s, and every person waiting on a
button wants its answer now; a war room being built or a checklist being re-rendered can wait a few
milliseconds. One process runs both on one event loop, so background work (marked with `in_background`)
waits at its next database transaction or platform call while any request is being answered, for at most
`max_wait` at a time, so that a steady stream of requests slows it down but never stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Iterator
from typing import TypeVar

T = TypeVar("T")
_background: contextvars.ContextVar[bool] = contextvars.ContextVar("breachroom_background", default=False)


def in_background() -> None:
    """Mark the current task (and the tasks it starts) as work after an acknowledgement."""
    _background.set(True)


class Pacer:
    """Counts the requests being answered; background steps wait until there are none."""

    def __init__(self, max_wait: float = 0.25) -> None:
        self.max_wait = max_wait
        self._answering = 0
        self._idle: asyncio.Event | None = None

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the handling of one request."""
        if self._idle is None:
            self._idle = asyncio.Event()
        self._answering += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._idle.set()

    async def step(self) -> None:
        """Called before each transaction and platform call: background work lets requests go first."""
        if not self._answering or not _background.get() or self._idle is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.max_wait)


async def as_background(work: Awaitable[T]) -> T:
    """Run `work` in the current task as work after an acknowledgement (wrap it before `create_task`)."""
    in_background()
    return await work
