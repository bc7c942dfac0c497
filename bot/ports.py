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

    async def find_room(self, name: str) -> RoomRef | None:
        """The private room this bot created under `name`, if it exists (to adopt a room whose creation was
        sent just before a crash, rather than create a second one); None where the platform cannot say."""

    async def find_message(self, room_id: str, text: str) -> str | None:
        """The id of this bot's latest message in the room whose notification text is `text`, if any (to
        recognise a post whose answer never arrived); None where the platform cannot say."""

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

    # Facts for bot/access.py: who may do what is decided there, from what the platform reports here.

    async def room_members(self, room_id: str) -> set[str] | None:
        """The people in a room now, as the platform reports them (people added through the platform's own
        interface count; a short cache is allowed), as the user ids actors carry; None when the platform cannot
        say (a failed call, a missing permission): bot/access.py then lets the person act, and logs it once."""

    async def is_admin(self, user_id: str) -> bool:
        """Whether the platform itself makes this person an administrator of the workspace (Slack: an admin or
        an owner). False where the platform has no such notion for a bot, or cannot say: BREACHROOM_ADMINS
        names admins there (bot/access.py reads it, not the adapters)."""

    async def group_members(self, group_id: str) -> set[str] | None:
        """The people in a user group named with `/breach declarers @group` (Slack's user groups); None when
        the platform has no groups or cannot say."""
