"""A local server that speaks enough of Microsoft Graph v1.0 for the Teams adapter's war rooms.

It keeps chats (topic, members, installed apps), teams with channels, an app catalog by manifest id and users
by sign-in address; records every call; refuses what Graph refuses (a missing or wrong bearer token, a group
chat of fewer than two, a member without the owner or guest role, a topic over 250 characters or with ':',
a channel name over 50 characters, with a forbidden character or already used); and can be told to answer a
method and path with a status (a 429 with Retry-After, a 403, a 500), a set number of times or every time,
optionally after a delay.

Its rules are written out here, not imported from the client, so a mistake in one is caught by the other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.local_http import serve

TOKEN = "graph-test-token"
MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"
REASONS = {400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Forbidden", 404: "NotFound",
           409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
           503: "ServiceUnavailable", 504: "GatewayTimeout"}
CHANNEL_CHARS = set('~#%&*{}+/\\:<>?|\'",')
CHANNEL_WORDS = {"forms", "con", "conin$", "conout$", "prn", "aux", "nul", "desktop.ini", "_vti_",
                 *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
USER_BIND = re.compile(r"/users(?:\('([^'/]+)'\)|/([^/()]+))$")
APP_BIND = re.compile(r"/appCatalogs/teamsApps/([^/]+)$")

Pattern = str | re.Pattern[str]


def graph_length(text: str) -> int:
    """String length the way Graph (.NET) counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def matches(pattern: Pattern, path: str) -> bool:
    """A string matches as a path prefix, a compiled pattern by `search` (use `^/chats$` for one path only)."""
    return path.startswith(pattern) if isinstance(pattern, str) else bool(pattern.search(path))


@dataclass
class Call:
    """One request as Graph received it; `path` is relative to /v1.0 and decoded."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    authorization: str | None
    at: float = field(default_factory=time.monotonic)
    status: int = 0


Handler = Callable[[Call, re.Match[str]], web.Response]


@dataclass
class Fault:
    method: str
    path: Pattern
    status: int
    times: int | None
    retry_after: float | str | None = None
    body: Any = None
    delay: float = 0.0


def graph_error(status: int, message: str, code: str | None = None) -> web.Response:
    return web.json_response({"error": {"code": code or REASONS.get(status, "UnknownError"), "message": message,
                                        "innerError": {"request-id": str(uuid.uuid4()),
                                                       "date": time.strftime("%Y-%m-%dT%H:%M:%S")}}},
                             status=status)


class FakeGraph:
    def __init__(self, token: str | re.Pattern[str] = TOKEN) -> None:
        # The bearer token accepted: one value, or a pattern (tokens from a fake login carry a counter).
        self.token = token
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.chats: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.catalog: dict[str, dict[str, Any]] = {}
        self.users: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self.root = ""
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"^/chats$"), self._create_chat),
            ("GET", re.compile(r"^/chats/([^/]+)/members$"), self._list_members),
            ("POST", re.compile(r"^/chats/([^/]+)/members$"), self._add_member),
            ("POST", re.compile(r"^/chats/([^/]+)/installedApps$"), self._install_app),
            ("GET", re.compile(r"^/appCatalogs/teamsApps$"), self._list_catalog),
            ("POST", re.compile(r"^/teams/([^/]+)/channels$"), self._create_channel),
            ("GET", re.compile(r"^/teams/([^/]+)/channels$"), self._list_channels),
            ("GET", re.compile(r"^/teams/([^/]+)/members$"), self._list_team_members),
            ("PATCH", re.compile(r"^/teams/([^/]+)/channels/([^/]+)$"), self._update_channel),
            ("GET", re.compile(r"^/users/([^/]+)$"), self._get_user),
        ]

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeGraph:
        app = web.Application()
        app.router.add_route("*", "/v1.0/{tail:.*}", self._handle)
        self._runner, self.root = await serve(app)
        return self

    async def stop(self) -> None:
        for task in self._pending:
            task.cancel()
        if self._runner:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The base URL a Graph client is given (with the version, like https://graph.microsoft.com/v1.0)."""
        return f"{self.root}/v1.0"

    # ---- state and test controls -------------------------------------------------------------
    def add_user(self, email: str, user_id: str | None = None) -> str:
        user_id = user_id or str(uuid.uuid4())
        self.users[email.lower()] = user_id
        return user_id

    def add_team(self, team_id: str | None = None, members: tuple[str, ...] = ()) -> str:
        """A team whose members are these Entra user ids."""
        team_id = team_id or str(uuid.uuid4())
        self.teams[team_id] = {"id": team_id, "channels": {}, "used_names": set(),
                               "members": [self._membership(u) for u in members]}
        return team_id

    def _membership(self, user_id: str) -> dict[str, Any]:
        return {"id": f"membership-{next(self._ids)}", "userId": user_id, "roles": ["owner"],
                "@odata.type": MEMBER_TYPE}

    def add_chat_member(self, chat_id: str, user_id: str) -> None:
        """Someone added to a chat in Teams itself (not through Breachroom)."""
        self.chats[chat_id]["members"].append(self._membership(user_id))

    def remove_chat_member(self, chat_id: str, user_id: str) -> None:
        chat = self.chats[chat_id]
        chat["members"] = [m for m in chat["members"] if m["userId"] != user_id]

    def add_app(self, manifest_id: str, catalog_id: str | None = None, name: str = "Breachroom") -> str:
        catalog_id = catalog_id or str(uuid.uuid4())
        self.catalog[catalog_id] = {"id": catalog_id, "externalId": manifest_id, "displayName": name,
                                    "distributionMethod": "organization"}
        return catalog_id

    def fail(self, method: str, path: Pattern, status: int, times: int | None = 1,
             retry_after: float | str | None = None, body: Any = None, delay: float = 0.0) -> None:
        """Answer `method` on paths matching `path` with `status`, `times` times (None: every time)."""
        self.faults.append(Fault(method.upper(), path, status, times, retry_after, body, delay))

    def calls_to(self, method: str, pattern: Pattern) -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and matches(pattern, c.path)]

    def members_of(self, chat_id: str) -> list[str]:
        return [m["userId"] for m in self.chats[chat_id]["members"]]

    def channel(self, team_id: str, name: str) -> dict[str, Any] | None:
        return next((c for c in self.teams[team_id]["channels"].values() if c["displayName"] == name), None)

    # ---- the server --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(request.method, "/" + request.match_info["tail"], dict(request.query), body,
                    request.headers.get("Authorization"))
        self.calls.append(call)
        task = asyncio.current_task()
        if task is not None:
            self._pending.add(task)
        try:
            response = await self._answer(call, request, raw)
        finally:
            if task is not None:
                self._pending.discard(task)
        call.status = response.status
        return response

    async def _answer(self, call: Call, request: web.Request, raw: bytes) -> web.Response:
        if not self._authorised(call.authorization):
            return graph_error(401, "Access token is empty or invalid.")
        fault = self._fault(call)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if fault.body is None:
                response = graph_error(fault.status, "Injected by the test.")
                response.headers.update(headers)
                return response
            if isinstance(fault.body, str):
                return web.Response(status=fault.status, text=fault.body, headers=headers)
            return web.json_response(fault.body, status=fault.status, headers=headers)
        if raw and call.json is None:
            return graph_error(400, "Unable to read JSON request payload.")
        for method, pattern, handler in self._routes:
            found = pattern.match(call.path)
            if found and method == call.method:
                return handler(call, found)
        return graph_error(400, f"Resource not found for the segment '{call.path}'.")

    def _authorised(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme != "Bearer":
            return False
        return bool(self.token.fullmatch(token)) if isinstance(self.token, re.Pattern) else token == self.token

    def _fault(self, call: Call) -> Fault | None:
        for fault in self.faults:
            if fault.method == call.method and matches(fault.path, call.path) and fault.times != 0:
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _user(self, bind: Any) -> str | None:
        """The user id an `@odata.bind` names (by id or sign-in address), or None when there is no such user."""
        found = USER_BIND.search(str(bind or ""))
        key = (found.group(1) or found.group(2)) if found else None
        if key is None:
            return None
        return key if key in self.users.values() else self.users.get(key.lower())

    def _member(self, member: Any) -> tuple[dict[str, Any] | None, str]:
        """A conversation member from a request, or None and why Graph would refuse it."""
        if not isinstance(member, dict) or member.get("@odata.type") != MEMBER_TYPE:
            return None, "Member type must be aadUserConversationMember."
        if member.get("roles") not in (["owner"], ["guest"]):
            return None, "Each member must be assigned a role of owner or guest."
        user_id = self._user(member.get("user@odata.bind"))
        if user_id is None:
            return None, "User not found."
        return {"id": f"membership-{next(self._ids)}", "userId": user_id, "roles": member["roles"],
                "@odata.type": MEMBER_TYPE}, ""

    def _create_chat(self, call: Call, _: re.Match[str]) -> web.Response:
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("chatType") != "group":
            return graph_error(400, "Only group chats are served by this fake.")
        topic = body.get("topic")
        if topic is not None and (graph_length(str(topic)) > 250 or ":" in str(topic)):
            return graph_error(400, "Topic is longer than 250 characters or contains ':'.")
        members = []
        for raw in body.get("members") or []:
            member, why = self._member(raw)
            if member is None:
                return graph_error(404 if why == "User not found." else 400, why)
            members.append(member)
        ids = [m["userId"] for m in members]
        if len(ids) != len(set(ids)):
            return graph_error(400, "Duplicate members in the request.")
        if len(ids) < 2:
            return graph_error(400, "A group chat needs at least two members.")
        chat_id = f"19:{uuid.uuid4().hex}@thread.v2"
        self.chats[chat_id] = {"id": chat_id, "chatType": "group", "topic": topic, "members": members,
                               "installedApps": []}
        return web.json_response({"id": chat_id, "topic": topic, "chatType": "group",
                                  "createdDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ")}, status=201)

    def _chat(self, found: re.Match[str]) -> dict[str, Any] | None:
        return self.chats.get(found.group(1))

    def _list_members(self, call: Call, found: re.Match[str]) -> web.Response:
        chat = self._chat(found)
        if chat is None:
            return graph_error(404, "Chat not found.")
        return web.json_response({"@odata.count": len(chat["members"]), "value": chat["members"]})

    def _add_member(self, call: Call, found: re.Match[str]) -> web.Response:
        chat = self._chat(found)
        if chat is None:
            return graph_error(404, "Chat not found.")
        member, why = self._member(call.json)
        if member is None:
            return graph_error(404 if why == "User not found." else 400, why)
        if member["userId"] in [m["userId"] for m in chat["members"]]:
            return graph_error(409, "The user is already a member of the chat.")
        chat["members"].append(member)
        return web.Response(status=201, headers={"Location": f"/chats/{chat['id']}/members/{member['id']}"})

    def _install_app(self, call: Call, found: re.Match[str]) -> web.Response:
        chat = self._chat(found)
        if chat is None:
            return graph_error(404, "Chat not found.")
        bind = APP_BIND.search(str((call.json or {}).get("teamsApp@odata.bind") or ""))
        if bind is None:
            return graph_error(400, "teamsApp@odata.bind is required.")
        if bind.group(1) not in self.catalog:
            return graph_error(404, "App not found in the catalog.")
        if bind.group(1) in chat["installedApps"]:
            return graph_error(409, "The app is already installed in this chat.")
        chat["installedApps"].append(bind.group(1))
        return web.Response(status=201)

    def _list_catalog(self, call: Call, _: re.Match[str]) -> web.Response:
        wanted = re.fullmatch(r"externalId eq '((?:[^']|'')*)'", call.query.get("$filter", ""))
        if wanted is None:
            return graph_error(400, "This fake filters the catalog by externalId only.")
        external_id = wanted.group(1).replace("''", "'")
        return web.json_response({"value": [a for a in self.catalog.values() if a["externalId"] == external_id]})

    def _create_channel(self, call: Call, found: re.Match[str]) -> web.Response:
        team = self.teams.get(found.group(1))
        if team is None:
            return graph_error(404, "Team not found.")
        body = call.json if isinstance(call.json, dict) else {}
        name = str(body.get("displayName") or "")
        problem = channel_name_problem(name)
        if problem:
            return graph_error(400, problem)
        if body.get("membershipType", "standard") != "standard":
            return graph_error(400, "This fake creates standard channels only.")
        if graph_length(str(body.get("description") or "")) > 1024:
            return graph_error(400, "Channel description is longer than 1024 characters.")
        if name.casefold() in team["used_names"]:
            return graph_error(400, "Channel name already existed, please use other name", "NameAlreadyExists")
        channel_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
        channel = {"id": channel_id, "displayName": name, "description": body.get("description"),
                   "membershipType": "standard"}
        team["channels"][channel_id] = channel
        team["used_names"].add(name.casefold())
        return web.json_response(channel, status=201)

    def _list_channels(self, call: Call, found: re.Match[str]) -> web.Response:
        team = self.teams.get(found.group(1))
        if team is None:
            return graph_error(404, "Team not found.")
        wanted = re.fullmatch(r"displayName eq '(.*)'", call.query.get("$filter", ""))
        channels = [c for c in team["channels"].values()
                    if wanted is None or c["displayName"] == wanted.group(1).replace("''", "'")]
        return web.json_response({"value": channels})

    def _list_team_members(self, call: Call, found: re.Match[str]) -> web.Response:
        team = self.teams.get(found.group(1))
        if team is None:
            return graph_error(404, "Team not found.")
        return web.json_response({"@odata.count": len(team["members"]), "value": team["members"]})

    def _update_channel(self, call: Call, found: re.Match[str]) -> web.Response:
        team = self.teams.get(found.group(1))
        channel = team["channels"].get(found.group(2)) if team else None
        if channel is None:
            return graph_error(404, "Channel not found.")
        body = call.json if isinstance(call.json, dict) else {}
        if graph_length(str(body.get("description") or "")) > 1024:
            return graph_error(400, "Channel description is longer than 1024 characters.")
        channel.update({k: v for k, v in body.items() if k in ("description",)})
        return web.Response(status=204)

    def _get_user(self, call: Call, found: re.Match[str]) -> web.Response:
        key = found.group(1)
        user_id = key if key in self.users.values() else self.users.get(key.lower())
        if user_id is None:
            return graph_error(404, f"Resource '{key}' does not exist.", "Request_ResourceNotFound")
        return web.json_response({"id": user_id})


def channel_name_problem(name: str) -> str | None:
    """Why Teams would refuse a channel display name, or None."""
    if not name.strip():
        return "Channel.DisplayName is required."
    if graph_length(name) > 50:
        return "Channel.DisplayName is longer than 50 characters."
    if any(c in CHANNEL_CHARS or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name) or ".." in name \
            or name[0] in "_." or name.endswith(".") or name.casefold() in CHANNEL_WORDS:
        return "Channel.DisplayName doesn't contain allowed characters, please use the valid values."
    return None
