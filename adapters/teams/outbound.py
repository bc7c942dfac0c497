"""The bot's ChatPort on the Bot Connector. Teams has no ephemeral messages: "privately" means a 1:1 chat.

For now only private answers and forms are sent; war rooms, card updates and files come in later slices,
and raise ChatError('not_supported_yet') so the flows that need them report it instead of crashing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
)
from botbuilder.schema import Attachment as CardAttachment

from adapters.teams import render
from adapters.teams.inbound import Handle
from bot.cards import Card
from bot.ports import Attachment, Audience, ChatError, RoomRef

log = logging.getLogger(__name__)
NOT_SUPPORTED = "not_supported_yet"
# Said in a shared conversation instead of the answer, which may carry breach details.
ANSWERED_PRIVATELY = "I've answered you privately, in your 1:1 chat with me."
ASK_ONE_TO_ONE = ("I can't answer this here, where everyone can read it. Open a 1:1 chat with me "
                  "(select my name, then Chat) and type the command there.")

Continue = Callable[[ConversationReference, Callable[[TurnContext], Awaitable[None]], str], Awaitable[Any]]


class PersonalChats(Protocol):
    """Where each person's 1:1 chat with the bot is, once known (a stored conversation reference)."""

    async def find(self, tenant_id: str, user_id: str) -> Handle | None: ...


class NoPersonalChats:
    """Until references are stored, a person's 1:1 chat is known only when they write in it."""

    async def find(self, tenant_id: str, user_id: str) -> Handle | None:
        return None


def reference(handle: Handle) -> ConversationReference:
    return ConversationReference(
        channel_id=handle.channel_id,
        service_url=handle.service_url,
        bot=ChannelAccount(id=handle.bot_id),
        conversation=ConversationAccount(id=handle.conversation_id, conversation_type=handle.conversation_type,
                                         tenant_id=handle.tenant_id or None),
    )


def card_message(content: dict[str, Any]) -> Activity:
    carried = render.attachment(content)
    return Activity(type=ActivityTypes.message, summary=content.get("fallbackText") or None,
                    attachments=[CardAttachment(content_type=carried["contentType"], content=carried["content"])])


class TeamsChat:
    """ChatPort for Teams; `continue_conversation` is the CloudAdapter's, bound to the bot's app id."""

    def __init__(self, continue_conversation: Continue, app_id: str,
                 personal_chats: PersonalChats | None = None) -> None:
        self._continue = continue_conversation
        self._app_id = app_id
        self.personal_chats = personal_chats or NoPersonalChats()

    async def send(self, handle: Handle, activity: Activity, step: str) -> None:
        """One activity into the handle's conversation; any connector or token failure is a ChatError."""

        async def deliver(turn: TurnContext) -> None:
            await turn.send_activity(activity)

        try:
            await self._continue(reference(handle), deliver, self._app_id)
        except Exception as exc:  # msrest, requests and msal each raise their own kinds
            status = getattr(getattr(exc, "response", None), "status_code", None)
            code = f"http_{status}" if status else type(exc).__name__
            log.warning("teams %s failed: %s", step, code)
            raise ChatError(code, step) from None

    async def tell(self, audience: Audience, card: Card) -> None:
        """In a 1:1 chat, the answer itself; elsewhere a detail-free line, and the answer in the 1:1 chat if known."""
        handle = Handle.decode(audience.reply_handle)
        if handle is None:
            raise ChatError("no_conversation", "tell")
        message = card_message(render.card(card))
        if handle.personal:
            await self.send(handle, message, "tell")
            return
        personal = await self.personal_chats.find(handle.tenant_id, audience.user_id)
        if personal is None:
            await self.send(handle, Activity(type=ActivityTypes.message, text=ASK_ONE_TO_ONE), "tell")
            return
        await self.send(personal, message, "tell")
        await self.send(handle, Activity(type=ActivityTypes.message, text=ANSWERED_PRIVATELY), "tell")

    async def show_form(self, handle: Handle, content: dict[str, Any]) -> None:
        """A form is a card of inputs; it holds nothing typed yet, so it may go where it was asked for."""
        await self.send(handle, card_message(content), "form")

    async def open_private_room(self, name: str) -> RoomRef:
        raise ChatError(NOT_SUPPORTED, "create")

    async def invite(self, room_id: str, user_ids: list[str]) -> None:
        raise ChatError(NOT_SUPPORTED, "invite")

    async def set_topic(self, room_id: str, text: str) -> None:
        raise ChatError(NOT_SUPPORTED, "topic")

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        raise ChatError(NOT_SUPPORTED, "post")

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None:
        raise ChatError(NOT_SUPPORTED, "update")

    async def pin(self, room_id: str, message_id: str) -> None:
        raise ChatError(NOT_SUPPORTED, "pin")

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        raise ChatError(NOT_SUPPORTED, "upload")
