"""Microsoft Graph for the Teams adapter: what it takes to open a war room as a group chat or a team channel.

The Bot Framework can only answer in conversations that exist; creating a chat or a channel, installing the
bot in it and finding people goes through Graph with the app's own (application) permissions. Every call
here retries what is worth retrying (429, 503, 504, connection errors and timeouts, honouring Retry-After)
and then raises `ChatError`; a 403 carries the one permission an administrator has to grant, because that is
by far the most likely reason a first war room fails on a new tenant.

Nothing here logs a token or a request or response body: people's names, emails and breach summaries travel
in them. A failure logs one line: HTTP method, path template, status, and Graph's short error code.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from bot.ports import ChatError

log = logging.getLogger(__name__)

# Graph refuses a chat topic over 250 characters, and a ':' in it ("Update chat", v1.0).
TOPIC_LIMIT = 250
# Teams limits for channels: display name at most 50 characters ("Create channel", v1.0); these characters,
# C0/C1 control characters, '..', and a leading '_' or '.' or trailing '.' are refused ("Limits and
# specifications for Microsoft Teams"); the description is at most 1024 characters.
CHANNEL_NAME_LIMIT = 50
CHANNEL_DESCRIPTION_LIMIT = 1024
CHANNEL_FORBIDDEN = set('~#%&*{}+/\\:<>?|\'",') | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}

RETRY_STATUSES = frozenset({429, 503, 504})
MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"

CATALOG_ADVICE = (
    "Upload the Breachroom app package to your organisation's Teams app catalog (Teams admin center, Manage apps, "
    "Upload new app), or set TEAMS_CATALOG_APP_ID."
)
SIGN_IN_ADVICE = (
    "Check that the Breachroom app ID, client secret and tenant ID in the settings match the app registration in "
    "the Azure portal, and that the client secret has not expired."
)

# The application permission each call needs; a 403 names it in the advice.
CHAT_CREATE = "Chat.Create"
APP_IN_CHAT = "TeamsAppInstallation.ReadWriteForChat.All"
CHAT_MEMBERS = "ChatMember.ReadWrite.All"
CHANNEL_CREATE = "Channel.Create"
CHANNEL_SETTINGS = "ChannelSettings.ReadWrite.All"
CHANNEL_READ = "Channel.ReadBasic.All"
TEAM_MEMBERS = "TeamMember.Read.All"
APP_CATALOG = "AppCatalog.Read.All"
USER_READ = "User.Read.All"


def forbidden_advice(permission: str) -> str:
    return (
        f"Grant the Microsoft Graph application permission {permission} to the Breachroom app in the Azure portal "
        "(API permissions), with admin consent, then try again."
    )


def utf16_len(text: str) -> int:
    """Length as Graph counts it (.NET strings: UTF-16 code units, so an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int, ellipsis: str = "") -> str:
    """`text` shortened to at most `limit` UTF-16 code units, ending in `ellipsis` when it was shortened."""
    if utf16_len(text) <= limit:
        return text
    room, end = limit - utf16_len(ellipsis), 0
    for char in text:
        room -= 2 if ord(char) > 0xFFFF else 1
        if room < 0:
            break
        end += 1
    return text[:end].rstrip() + ellipsis


def chat_topic(text: str) -> str:
    """A topic Graph accepts: one line, no ':' (Graph refuses it), at most TOPIC_LIMIT characters."""
    topic = " ".join(text.split())
    topic = re.sub(r"\s*:\s+", " - ", topic).replace(":", ".")
    return cut(topic, TOPIC_LIMIT, "…")


def channel_name(text: str) -> str:
    """A channel display name Teams accepts: forbidden characters dropped, at most CHANNEL_NAME_LIMIT characters."""
    name = "".join(" " if c in CHANNEL_FORBIDDEN else c for c in text)
    name = re.sub(r"\.{2,}", ".", " ".join(name.split()))
    for _ in range(2):  # cutting can expose a trailing '.', trimming can expose a new leading one
        name = cut(name, CHANNEL_NAME_LIMIT).strip().lstrip("_.").rstrip(".").strip()
    return name


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (Graph sends a number; an HTTP date is allowed by HTTP too)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def error_code(self) -> str:
        error = self.body.get("error")
        return str(error.get("code") or "") if isinstance(error, dict) else ""

    @property
    def error_message(self) -> str:
        error = self.body.get("error")
        return str(error.get("message") or "") if isinstance(error, dict) else ""


class Graph:
    """An async Microsoft Graph client for the calls the Teams adapter makes, with its own retries.

    `base_url` includes the version (`https://graph.microsoft.com/v1.0`); `token()` returns a bearer token for
    Graph (the caller gets it from MSAL, which caches it). One aiohttp session, created on first use.
    """

    def __init__(self, base_url: str, token: Callable[[], Awaitable[str]], *, timeout: float = 10.0,
                 max_attempts: int = 4, max_wait: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    def _bind(self, path: str) -> str:
        """An `@odata.bind` reference: Graph wants an absolute URL to the entity."""
        return f"{self.base_url}{path}"

    # ---- the calls --------------------------------------------------------------------------

    async def create_group_chat(self, topic: str, member_ids: list[str], owner_id: str, *,
                                step: str = "create_chat") -> str:
        """Create a group chat with the reporter and the team in it; returns the chat id.

        Graph needs every participant listed at creation, each with the role `owner` (or `guest` for a guest
        from another tenant): a Teams group chat has no member-only role, and with application permissions
        the app is not a participant, so it cannot add itself as owner. The reporter (`owner_id`) is listed
        first and everyone is an owner; duplicates are dropped (Graph refuses them). The topic is cut to
        Graph's limit and loses its ':' (see `chat_topic`).
        """
        people = list(dict.fromkeys([owner_id, *member_ids]))
        body = {
            "chatType": "group",
            "topic": chat_topic(topic),
            "members": [{"@odata.type": MEMBER_TYPE, "roles": ["owner"],
                         "user@odata.bind": self._bind(f"/users('{user_id}')")} for user_id in people],
        }
        reply = await self._request("POST", "/chats", step=step, permission=CHAT_CREATE, json_body=body)
        return self._id(reply, "POST", "/chats", step)

    async def install_app(self, chat_id: str, catalog_app_id: str, *, step: str = "install_app") -> None:
        """Install the bot in a chat so it can post there; already installed (409) is fine."""
        body = {"teamsApp@odata.bind": self._bind(f"/appCatalogs/teamsApps/{catalog_app_id}")}
        await self._request("POST", "/chats/{chat}/installedApps", {"chat": chat_id}, step=step,
                            permission=APP_IN_CHAT, json_body=body, accept=(409,))

    async def catalog_app_id(self, manifest_id: str, *, step: str = "find_app") -> str:
        """The organisation catalog's id for our app, found by the manifest id (its `externalId`)."""
        literal = manifest_id.replace("'", "''")
        reply = await self._request("GET", "/appCatalogs/teamsApps", step=step, permission=APP_CATALOG,
                                    query={"$filter": f"externalId eq '{literal}'"})
        apps = [a for a in reply.body.get("value") or [] if isinstance(a, dict) and a.get("id")]
        if not apps:
            log.warning("graph GET /appCatalogs/teamsApps: app_not_in_catalog (%s)", step)
            raise ChatError("app_not_in_catalog", step, advice=CATALOG_ADVICE)
        return str(apps[0]["id"])

    async def chat_members(self, chat_id: str, *, step: str = "chat_members") -> list[str]:
        """The Entra user ids of the people in a chat."""
        reply = await self._request("GET", "/chats/{chat}/members", {"chat": chat_id}, step=step,
                                    permission=CHAT_MEMBERS)
        return [str(m["userId"]) for m in reply.body.get("value") or [] if isinstance(m, dict) and m.get("userId")]

    async def team_members(self, team_id: str, *, step: str = "team_members") -> list[str]:
        """The Entra user ids of a team's members (everyone who can read its standard channels)."""
        reply = await self._request("GET", "/teams/{team}/members", {"team": team_id}, step=step,
                                    permission=TEAM_MEMBERS)
        return [str(m["userId"]) for m in reply.body.get("value") or [] if isinstance(m, dict) and m.get("userId")]

    async def add_chat_member(self, chat_id: str, user_id: str, *, step: str = "add_member") -> None:
        """Add someone to a group chat as an owner, like everyone else in it; already a member (409) is fine."""
        body = {"@odata.type": MEMBER_TYPE, "roles": ["owner"], "user@odata.bind": self._bind(f"/users('{user_id}')")}
        await self._request("POST", "/chats/{chat}/members", {"chat": chat_id}, step=step, permission=CHAT_MEMBERS,
                            json_body=body, accept=(409,))

    async def create_channel(self, team_id: str, name: str, description: str, *,
                             step: str = "create_channel") -> str:
        """Create a standard channel in a team; returns the channel id.

        The name is made acceptable to Teams (see `channel_name`). A name in use, or once used by a deleted
        channel (Teams keeps those reserved), raises ChatError('name_taken') so the bot can pick another.
        """
        template = "/teams/{team}/channels"
        body = {"displayName": channel_name(name), "description": cut(description, CHANNEL_DESCRIPTION_LIMIT),
                "membershipType": "standard"}
        reply = await self._request("POST", template, {"team": team_id}, step=step, permission=CHANNEL_CREATE,
                                    json_body=body, accept=(400, 409))
        if reply.status == 409 or (reply.status == 400 and self._name_exists(reply)):
            log.warning("graph POST %s failed: %s (%s) name_taken", template, reply.status, step)
            raise ChatError("name_taken", step)
        if reply.status >= 300:
            raise self._failure("POST", template, step, CHANNEL_CREATE, reply)
        return self._id(reply, "POST", template, step)

    async def find_channel(self, team_id: str, name: str, *, step: str = "create_channel") -> str | None:
        """The id of the team's channel named `name` (as `create_channel` would have named it), or None."""
        wanted = channel_name(name)
        escaped = wanted.replace("'", "''")
        reply = await self._request("GET", "/teams/{team}/channels", {"team": team_id}, step=step,
                                    permission=CHANNEL_READ, query={"$filter": f"displayName eq '{escaped}'"})
        for channel in reply.body.get("value") or []:
            if isinstance(channel, dict) and channel.get("displayName") == wanted and channel.get("id"):
                return str(channel["id"])
        return None

    async def set_channel_description(self, team_id: str, channel_id: str, description: str, *,
                                      step: str = "set_topic") -> None:
        await self._request("PATCH", "/teams/{team}/channels/{channel}", {"team": team_id, "channel": channel_id},
                            step=step, permission=CHANNEL_SETTINGS,
                            json_body={"description": cut(description, CHANNEL_DESCRIPTION_LIMIT)})

    async def user_id_by_email(self, email_address: str, *, step: str = "find_user") -> str | None:
        """The Entra user id for a sign-in address (user principal name), or None when there is no such user."""
        reply = await self._request("GET", "/users/{user}", {"user": email_address}, step=step,
                                    permission=USER_READ, query={"$select": "id"}, accept=(404,))
        if reply.status == 404:
            return None
        return str(reply.body["id"]) if reply.body.get("id") else None

    # ---- one request, with retries ----------------------------------------------------------

    @staticmethod
    def _name_exists(reply: Reply) -> bool:
        return reply.error_code == "NameAlreadyExists" or bool(re.search(r"already exist", reply.error_message, re.I))

    def _id(self, reply: Reply, method: str, template: str, step: str) -> str:
        if not reply.body.get("id"):
            log.warning("graph %s %s failed: %s without an id (%s)", method, template, reply.status, step)
            raise ChatError("bad_response", step)
        return str(reply.body["id"])

    async def _request(self, method: str, template: str, ids: Mapping[str, str] | None = None, *, step: str,
                       permission: str, json_body: Any = None, query: Mapping[str, str] | None = None,
                       accept: tuple[int, ...] = ()) -> Reply:
        """Send one Graph request, retrying throttling, 503/504, timeouts and lost connections.

        Returns a 2xx reply, or one whose status is in `accept` (the caller decides what it means); anything
        else raises ChatError. `template` names the path in logs; `ids` fill it in, percent-encoded.
        """
        path = template.format(**{k: quote(v, safe=":@") for k, v in (ids or {}).items()})
        target = self.base_url + path
        if query:
            target += "?" + urlencode(query, quote_via=quote, safe="$'")
        url = URL(target, encoded=True)
        outcome: Reply | str = "unreachable"
        for attempt in range(1, self.max_attempts + 1):
            wait: float | None = None
            try:
                outcome, wait = await self._send(method, url, json_body)
            except TimeoutError:
                outcome = "timeout"
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                outcome = "unreachable"
            if isinstance(outcome, Reply):
                if outcome.status < 300 or outcome.status in accept:
                    return outcome
                if outcome.status not in RETRY_STATUSES:
                    break
            if attempt < self.max_attempts:
                await asyncio.sleep(min(self.max_wait, wait if wait is not None else 0.5 * 2 ** (attempt - 1)))
        raise self._failure(method, template, step, permission, outcome)

    async def _send(self, method: str, url: URL, json_body: Any) -> tuple[Reply, float | None]:
        headers = {"Authorization": f"Bearer {await self._token()}", "Accept": "application/json"}
        async with self._http().request(method, url, json=json_body, headers=headers) as response:
            raw = await response.read()
            retry_after = _retry_after(response.headers.get("Retry-After"))
            status = response.status
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        return Reply(status, body if isinstance(body, dict) else {}), retry_after

    def _failure(self, method: str, template: str, step: str, permission: str, outcome: Reply | str) -> ChatError:
        """The ChatError for a request that did not succeed, and its one log line."""
        if isinstance(outcome, str):
            log.warning("graph %s %s failed: %s (%s)", method, template, outcome, step)
            return ChatError(outcome, step)
        status = outcome.status
        log.warning("graph %s %s failed: %s %s(%s)", method, template, status,
                    f"{outcome.error_code} " if outcome.error_code else "", step)
        if status == 403:
            return ChatError("forbidden", step, advice=forbidden_advice(permission))
        if status == 429:
            return ChatError("ratelimited", step)
        if status == 401:
            return ChatError("http_401", step, advice=SIGN_IN_ADVICE)
        return ChatError(f"http_{status}", step)
