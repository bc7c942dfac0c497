"""The bot's ChatPort on the Slack Web API: each neutral call becomes one or two API calls."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render
from bot.cards import Card
from bot.ports import Attachment, Audience, ChatError, RoomRef

log = logging.getLogger(__name__)
CALL_TIMEOUT = 10


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """A client that retries connection errors, 5xx and 429 (honouring Retry-After) a few times."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=CALL_TIMEOUT,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def _code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = response.get("error") if isinstance(response.data, dict) else None
        return str(error or f"http_{response.status_code}")
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


class SlackChat:
    """ChatPort for one Slack workspace."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def _call(self, step: str, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.client.api_call(method, json=kwargs)
            return response.data if isinstance(response.data, dict) else {}
        except (TimeoutError, SlackClientError, OSError) as exc:
            code = _code(exc)
            log.warning("slack %s failed: %s", method, code)
            raise ChatError(code, step) from None

    async def open_private_room(self, name: str, *, title: str = "", members: Sequence[str] = (),
                                near: str | None = None) -> RoomRef:
        """A private channel; Slack invites its members afterwards, and the name is all it needs."""
        data = await self._call("create", "conversations.create", name=name, is_private=True)
        channel = data["channel"]
        return RoomRef(id=channel["id"], name=channel.get("name", name))

    async def invite(self, room_id: str, user_ids: list[str]) -> None:
        try:
            await self._call("invite", "conversations.invite", channel=room_id, users=",".join(user_ids))
        except ChatError as exc:
            if exc.code != "already_in_channel":
                raise

    async def set_topic(self, room_id: str, text: str) -> None:
        await self._call("topic", "conversations.setTopic", channel=room_id, topic=render.topic(text))

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        ids: list[str] = [""] * len(cards)
        for group in render.pack(cards):
            data = await self._call("post", "chat.postMessage", channel=room_id,
                                    **render.message([cards[i] for i in group]))
            for index in group:
                ids[index] = data["ts"]
        return ids

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None:
        await self._call("update", "chat.update", channel=room_id, ts=message_id, **render.message(cards))

    async def pin(self, room_id: str, message_id: str) -> None:
        try:
            await self._call("pin", "pins.add", channel=room_id, timestamp=message_id)
        except ChatError as exc:
            if exc.code != "already_pinned":
                raise

    async def tell(self, audience: Audience, card: Card) -> None:
        """Privately: through the response URL when there is one, else ephemeral, else a direct message."""
        body = render.message([card])
        if audience.reply_handle:
            try:
                response = await AsyncWebhookClient(audience.reply_handle, timeout=CALL_TIMEOUT).send_dict(
                    {"response_type": "ephemeral", "replace_original": False, **body}
                )
                if response.status_code == 200:
                    return
                log.warning("slack response_url answered %s", response.status_code)
            except (TimeoutError, OSError) as exc:
                log.warning("slack response_url failed: %s", type(exc).__name__)
        if audience.channel_id:
            try:
                await self._call("tell", "chat.postEphemeral", channel=audience.channel_id,
                                 user=audience.user_id, **body)
                return
            except ChatError:
                pass  # the bot is not in that channel: fall back to a direct message
        await self._call("tell", "chat.postMessage", channel=audience.user_id, **body)

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        """files.upload is sunset: files_upload_v2 gets an upload URL per file, posts, then completes."""
        try:
            response = await self.client.files_upload_v2(
                file_uploads=[{"content": f.content, "filename": f.filename, "title": f.title} for f in files],
                channel=room_id,
                initial_comment=render.mrkdwn(comment),
            )
        except (TimeoutError, SlackClientError, OSError) as exc:
            code = _code(exc)
            log.warning("slack files_upload_v2 failed: %s", code)
            raise ChatError(code, "upload") from None
        return [f["id"] for f in response.get("files") or []]

    async def open_form(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("form", "views.open", trigger_id=trigger_id, view=view)
