"""The bot's ChatPort on the Slack Web API: each neutral call becomes one or two API calls."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.kept import KeptAnswers
from adapters.slack import render
from bot.cards import Card
from bot.ports import Attachment, Audience, ChatError, RoomRef

log = logging.getLogger(__name__)
CALL_TIMEOUT = 10
# How long a room's members, a group's members and who is an admin are kept before Slack is asked again.
FACTS_TTL = 60.0


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

    def __init__(self, client: AsyncWebClient, pace: Callable[[], Awaitable[None]] | None = None) -> None:
        self.client = client
        self.pace = pace
        # Facts for bot/access.py (see `_fact`): answers with when they were asked, and one lock per question.
        self._kept = KeptAnswers(FACTS_TTL)

    async def _call(self, step: str, method: str, **kwargs: Any) -> dict[str, Any]:
        if self.pace is not None:
            await self.pace()
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

    async def find_room(self, name: str) -> RoomRef | None:
        """A private channel the bot is in, by name (conversations.list lists only those it belongs to)."""
        cursor = ""
        for _ in range(50):  # 10,000 channels at most: a small business has far fewer
            data = await self._call("create", "conversations.list", types="private_channel",
                                    exclude_archived=True, limit=200, cursor=cursor)
            for channel in data.get("channels") or []:
                if channel.get("name") == name:
                    return RoomRef(id=channel["id"], name=name)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return None

    async def find_message(self, room_id: str, text: str) -> str | None:
        wanted = render.clip(render.mrkdwn(text), render.MAX_TEXT)  # as `render.message` wrote it
        data = await self._call("post", "conversations.history", channel=room_id, limit=200)
        for message in data.get("messages") or []:
            if message.get("text") == wanted and (message.get("bot_id") or message.get("subtype") == "bot_message"):
                return str(message.get("ts"))
        return None

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

    # Facts for bot/access.py: who is in a room, in a user group, an admin. Each answer is kept FACTS_TTL seconds
    # in this process (Slack rate-limits these methods, and a busy war room presses often); a room's members are
    # dropped sooner when Slack says someone joined or left it (`forget_room`, from adapters/slack/app.py).

    async def _read(self, step: str, method: str, **params: Any) -> dict[str, Any]:
        """A read method (`conversations.members`, `users.info` …): these take form or query arguments, not JSON."""
        try:
            response = await self.client.api_call(method, http_verb="GET", params=params)
            return response.data if isinstance(response.data, dict) else {}
        except (TimeoutError, SlackClientError, OSError) as exc:
            code = _code(exc)
            log.warning("slack %s failed: %s", method, code)
            raise ChatError(code, step) from None

    async def _fact(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """The answer kept for `key` (`members:C1`, `admin:U1` …), else fetched once however many ask at once (a
        burst of presses is one call). A fetch that a membership event overtook is used but not kept."""
        return await self._kept.get(key, fetch)

    async def _paged(self, method: str, field: str, **params: Any) -> frozenset[str]:
        found: set[str] = set()
        cursor = ""
        for _ in range(50):  # 10,000 members at most
            data = await self._read("members", method, limit=200, cursor=cursor, **params)
            found.update(str(u) for u in data.get(field) or [])
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return frozenset(found)

    async def room_members(self, room_id: str) -> set[str] | None:
        """conversations.members (all pages), kept at most FACTS_TTL seconds; None when Slack refuses or fails
        (a missing `groups:read` scope, an outage)."""
        try:
            return set(await self._fact(f"members:{room_id}", lambda: self._paged(
                "conversations.members", "members", channel=room_id)))
        except ChatError:
            return None

    def forget_room(self, room_id: str) -> None:
        """Someone joined or left the room: ask Slack again next time."""
        self._kept.forget(f"members:{room_id}")

    async def is_admin(self, user_id: str) -> bool:
        """users.info: a workspace admin or owner (the primary owner is an owner too); not one when Slack fails."""

        async def fetch() -> bool:
            data = await self._read("admin", "users.info", user=user_id)
            user = data.get("user") if isinstance(data.get("user"), dict) else {}
            return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

        try:
            return bool(await self._fact(f"admin:{user_id}", fetch))
        except ChatError:
            return False

    async def group_members(self, group_id: str) -> set[str] | None:
        """usergroups.users.list; None when Slack refuses or fails (a missing `usergroups:read` scope)."""

        async def fetch() -> frozenset[str]:
            data = await self._read("members", "usergroups.users.list", usergroup=group_id)
            return frozenset(str(u) for u in data.get("users") or [])

        try:
            return set(await self._fact(f"group:{group_id}", fetch))
        except ChatError:
            return None
