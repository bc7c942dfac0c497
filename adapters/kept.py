"""Answers a platform gave about people and rooms, kept a little while in this process.

bot/access.py asks who is in a war room or who is an admin before each press; the platforms are slow to answer
and throttle. Each answer is kept `ttl` seconds and asked once however many ask at once (a burst of presses is
one call), and forgotten sooner when the platform says it changed. Another process asks for itself: nothing
here is state that several replicas must share.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any


class KeptAnswers:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._kept: dict[str, tuple[float, Any]] = {}
        self._asking: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._forgotten: dict[str, float] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """The answer kept for `key`, else `fetch()`'s. An answer that a `forget` overtook is used but not kept."""
        found = self._kept.get(key)
        if found is not None and time.monotonic() - found[0] < self.ttl:
            return found[1]
        async with self._asking[key]:
            found = self._kept.get(key)
            if found is not None and time.monotonic() - found[0] < self.ttl:
                return found[1]
            started = time.monotonic()
            answer = await fetch()
            if self._forgotten.get(key, -1.0) < started:
                self._kept[key] = (started, answer)
            return answer

    def forget(self, key: str) -> None:
        """It changed (someone joined or left): ask the platform again next time."""
        self._kept.pop(key, None)
        self._forgotten[key] = time.monotonic()
