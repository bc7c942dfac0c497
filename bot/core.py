"""What every use case is given, and what it hands back to the adapter."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.cards import Card, Form
from bot.domain import Actor
from bot.playbook import Playbook
from bot.ports import ChatPort
from storage.db import Database
from storage.models import utcnow

Work = Callable[[ChatPort], Awaitable[None]]


@dataclass
class Core:
    """The bot's dependencies: the store, the playbook, the clock (tests may pass their own)."""

    db: Database
    playbook: Playbook
    clock: Callable[[], datetime] = utcnow
    templates_dir: Path | None = None
    # Read-then-update of one posted message must not interleave, or an older render could land last.
    message_locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))


@dataclass(frozen=True)
class Invocation:
    """A command a person typed, as every platform can describe it."""

    actor: Actor
    channel_id: str
    text: str
    delivery_key: str | None = None
    reply_handle: str | None = None


@dataclass
class Reply:
    """The adapter shows `card` privately (or opens `form`) at once, then runs `work` after acknowledging."""

    card: Card | None = None
    form: Form | None = None
    work: list[Work] = field(default_factory=list)
    # Where a private answer belongs when the request came from a form (which has no channel).
    room: str | None = None
