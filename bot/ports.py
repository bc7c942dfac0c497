"""What the bot needs from a chat platform. Adapters implement it; the bot never sees their types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.cards import Card


class ChatError(Exception):
    """A platform call failed after the adapter's own retries.

    `code` is the platform's short reason (`name_taken`, `ratelimited`, `http_500`, `timeout` …),
    kept so the bot can react to the few it understands and report the rest in plain words. `advice`, when
    the adapter knows it, is one sentence for the person on what would fix it (a permission to grant).
    """

    def __init__(self, code: str, step: str = "", advice: str | None = None) -> None:
        super().__init__(f"{step}: {code}" if step else code)
        self.code = code
        self.step = step
        self.advice = advice


@dataclass(frozen=True)
class RoomRef:
    id: str
    name: str


@dataclass(frozen=True)
class Audience:
    """One person to answer privately, and where they asked from.

    `reply_handle` is an opaque platform handle for a private reply (Slack: a response URL).
    """

    user_id: str
    channel_id: str | None = None
    reply_handle: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to share in a room (a notice draft, an export)."""

    filename: str
    content: bytes
    title: str


class ChatPort(Protocol):
    async def open_private_room(self, name: str, *, title: str = "", members: Sequence[str] = (),
                                near: str | None = None) -> RoomRef:
        """Create a private room; raises ChatError('name_taken') when the name is in use.

        `title` is the room's longer heading, `members` the people it is for (the first is its owner) and
        `near` the room the request came from: platforms that create a room with its members, or reach it
        through the same service, use them; others invite afterwards.
        """

    async def invite(self, room_id: str, user_ids: list[str]) -> None: ...

    async def set_topic(self, room_id: str, text: str) -> None: ...

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        """Post cards, packed into as few messages as the platform allows; one message id per card."""

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None: ...

    async def pin(self, room_id: str, message_id: str) -> None: ...

    async def tell(self, audience: Audience, card: Card) -> None:
        """Say something to one person only."""

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        """Upload files into a room with one comment; returns the platform's file ids."""
