"""A local Slack Web API for the benchmark: every call answered after a fixed latency L, and timed.

It plays just enough of Slack for the bot to build war rooms and update checklists (auth.test, conversations.*,
chat.*, pins.add, views.open and response URLs), keeps no message bodies, and notes the moments the benchmark
reads: when each war room's checklist was posted, each chat.update answered, each room complete. It checks
nothing of Block Kit (tests/slack_fake.py does that for the tests): here it would only slow the bench process
down, which shares the machine with the bot it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

TEAM_ID = "T0BENCH"
BOT_USER = "UBOT"
READY_CHANNEL = re.compile(r"<#(C\w+)")


@dataclass
class Room:
    """One private channel the bot created: when each step of its war room was answered."""

    id: str
    name: str
    create_arrived: float  # when conversations.create reached Slack
    created: float  # and when it was answered
    checklist_arrived: float | None = None
    checklist_posted: float | None = None  # the answer to the first chat.postMessage in the room
    checklist_ts: str = ""
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (ts, action_id, value) of checklist rows
    pins: int = 0
    members: list[str] = field(default_factory=lambda: [BOT_USER])
    ready: float | None = None  # the "war room ready" answer to the declarer reached its response URL
    complete: float | None = None  # ready, with the checklist and the deadline card pinned


@dataclass(frozen=True)
class Update:
    channel: str
    ts: str
    arrived: float
    answered: float


class SlackAPI:
    """Start with `await SlackAPI(latency).start()`; `url` is then the base of the API and response URLs."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.rooms: dict[str, Room] = {}
        self.rooms_in_order: list[Room] = []
        self.updates: list[Update] = []
        self.calls = 0
        self.errors: dict[str, int] = {}
        self.last_call = 0.0
        self.complete_count = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self.url = ""

    async def start(self) -> SlackAPI:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # the read methods (conversations.members, users.info)
        app.router.add_post("/response/{token}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, token: str) -> str:
        return f"{self.url}/response/{token}"

    # ---- waiting ------------------------------------------------------------------------
    async def wait_until(self, predicate: Any, timeout: float) -> bool:
        """Wait until `predicate()` holds (checked after every answered call); False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))
        return True

    async def quiet(self, seconds: float = 0.2, timeout: float = 60.0) -> None:
        """Until no call has arrived for `seconds`: the bot's background work is done."""
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() - max(self.last_call, start) >= seconds:
                return
            await asyncio.sleep(seconds / 4)

    def _touch(self) -> None:
        self._changed.set()

    # ---- the Web API --------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        arrived = time.monotonic()
        self.calls += 1
        self.last_call = arrived
        if request.content_type == "application/json" and raw:
            args: dict[str, Any] = json.loads(raw)
        else:
            args = dict(parse_qsl(raw.decode()))
        args.update(request.query)
        await asyncio.sleep(self.latency)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        result = handler(args, arrived) if handler is not None else {"ok": False, "error": "unknown_method"}
        if not result.get("ok"):
            key = f"{method}:{result.get('error')}"
            self.errors[key] = self.errors.get(key, 0) + 1
        self.last_call = time.monotonic()
        self._touch()
        return web.json_response(result)

    def _m_auth_test(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        return {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": "BBOT", "team": "Bench",
                "user": "breachroom", "url": "https://bench.example/"}

    def _m_conversations_create(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        cid = f"C{next(self._ids):08d}"
        room = Room(cid, str(args.get("name", "")), arrived, time.monotonic())
        self.rooms[cid] = room
        self.rooms_in_order.append(room)
        return {"ok": True, "channel": {"id": cid, "name": room.name, "is_private": True}}

    def _m_conversations_list(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        channels = [{"id": r.id, "name": r.name, "is_private": True} for r in self.rooms_in_order]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_invite(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        room = self.rooms.get(str(args.get("channel")))
        if room is None:
            return {"ok": False, "error": "channel_not_found"}
        room.members += [u for u in str(args.get("users", "")).split(",") if u and u not in room.members]
        return {"ok": True, "channel": {"id": room.id}}

    def _m_conversations_members(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        room = self.rooms.get(str(args.get("channel")))
        if room is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "members": list(room.members), "response_metadata": {"next_cursor": ""}}

    def _m_conversations_history(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        return {"ok": True, "messages": [], "has_more": False}

    def _m_users_info(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        return {"ok": True, "user": {"id": args.get("user"), "is_admin": False, "is_owner": False,
                                     "is_primary_owner": False}}

    def _m_usergroups_users_list(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        return {"ok": True, "users": []}

    def _m_conversations_setTopic(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        if args.get("channel") not in self.rooms:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True}

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _m_chat_postMessage(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        ts = self._ts()
        room = self.rooms.get(channel)
        if room is not None:
            if room.checklist_posted is None:
                room.checklist_arrived, room.checklist_posted, room.checklist_ts = arrived, time.monotonic(), ts
            blocks = args.get("blocks") or []
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            room.buttons += [(ts, action_id, value) for action_id, value in _toggles(blocks)]
        return {"ok": True, "channel": channel, "ts": ts, "message_ts": ts}

    def _m_chat_postEphemeral(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._ts()}

    def _m_chat_update(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        self.updates.append(Update(str(args.get("channel")), str(args.get("ts")), arrived, time.monotonic()))
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _m_pins_add(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        room = self.rooms.get(str(args.get("channel")))
        if room is None:
            return {"ok": False, "error": "channel_not_found"}
        room.pins += 1
        self._check_complete(room)
        return {"ok": True}

    def _m_views_open(self, args: dict[str, Any], arrived: float) -> dict[str, Any]:
        return {"ok": True, "view": {"id": f"V{next(self._ids):08d}"}}

    # ---- response URLs ------------------------------------------------------------------
    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.last_call = time.monotonic()
        await asyncio.sleep(self.latency)
        found = READY_CHANNEL.search(body.get("text") or "")
        if found and "ready" in (body.get("text") or ""):
            room = self.rooms.get(found.group(1))
            if room is not None:
                room.ready = time.monotonic()
                self._check_complete(room)
        self.last_call = time.monotonic()
        self._touch()
        return web.Response(text="ok")

    def _check_complete(self, room: Room) -> None:
        if room.complete is None and room.ready is not None and room.pins >= 2:
            room.complete = time.monotonic()
            self.complete_count += 1


def _toggles(blocks: list[dict[str, Any]]) -> Any:
    """(action_id, value) of every checklist button in the posted blocks."""
    for block in blocks:
        candidates = [block.get("accessory"), *list(block.get("elements") or [])]
        for element in candidates:
            if isinstance(element, dict) and str(element.get("action_id", "")).startswith("item.toggle"):
                yield element["action_id"], str(element.get("value", ""))
