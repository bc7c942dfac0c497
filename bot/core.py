"""What every use case is given, and what it hands back to the adapter."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cards import Card, Form
from bot.domain import Actor
from bot.pacing import Pacer
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
    # The incident's timeline count each posted checklist message was last drawn at (bot/checklist.py).
    drawn: dict[str, int] = field(default_factory=dict)
    # How long one attempt at building a war room holds it (renewed at each step) before a sweep may take
    # over, and how long after a failed attempt the next one starts.
    build_lease: timedelta = timedelta(seconds=60)
    build_retry: timedelta = timedelta(seconds=30)
    # Platform user ids of admins (BREACHROOM_ADMINS): the only admins on Teams and the console (bot/access.py).
    admins: frozenset[str] = frozenset()
    # Each platform's port by the platform's name, for the facts bot/access.py asks before a use case answers
    # (who is in a room, who is an admin). Filled by the server as it starts each adapter; a platform without
    # one here cannot say, and bot/access.py treats it so.
    ports: dict[str, ChatPort] = field(default_factory=dict)
    # Requests stored together when they arrive together (bot/batching.py), by what they store.
    batches: dict[str, Any] = field(default_factory=dict)
    # Requests being answered go before work after an acknowledgement (bot/pacing.py).
    pacer: Pacer = field(default_factory=Pacer)


@dataclass(frozen=True)
class Invocation:
    """A command a person typed, as every platform can describe it."""

    actor: Actor
    channel_id: str
    text: str
    delivery_key: str | None = None
    reply_handle: str | None = None
    # User groups mentioned in `text` (Slack's `@team`), which the text shows as plain words: (those words, the
    # group's id). Only `/breach declarers` reads them.
    groups: tuple[tuple[str, str], ...] = ()


@dataclass
class Reply:
    """The adapter shows `card` privately (or opens `form`) at once, then runs `work` after acknowledging."""

    card: Card | None = None
    form: Form | None = None
    work: list[Work] = field(default_factory=list)
    # Where a private answer belongs when the request came from a form (which has no channel).
    room: str | None = None
