"""A local server that speaks enough of Slack's Web API, response URLs and Socket Mode for the tests.

It records every call, keeps channels and messages, checks Block Kit the way Slack does (rejecting
what Slack would reject), and can be told to fail a method: an API error, an HTTP status with
headers (a 429 with Retry-After, a 500), or a delay longer than the bot's timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.local_http import serve


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Seconds to hold the answer after the call took effect (a caller that dies meanwhile never hears of it).
    hold: float = 0.0


def check_blocks(blocks: list[dict[str, Any]]) -> str | None:
    """The error Slack would answer for these blocks, or None when they are fine."""
    if len(blocks) > 50:
        return "invalid_blocks"
    if len(json.dumps(blocks, ensure_ascii=False)) > 13_000:
        return "msg_blocks_too_long"
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > 3000:
            return "invalid_blocks"
        if block.get("type") == "header" and len(text) > 150:
            return "invalid_blocks"
        for f in block.get("fields") or []:
            if len(f.get("text", "")) > 2000:
                return "invalid_blocks"
        try:
            Block.parse(block).to_dict()  # type: ignore[union-attr]
        except SlackObjectFormationError:
            return "invalid_blocks"
    return None


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.pins: set[tuple[str, str]] = set()
        self.files: dict[str, dict[str, Any]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.team_id = "T0BREACH"
        self.bot_user = "UBOT"
        # users.info: who is a workspace admin, and who an owner; usergroups.users.list: group id -> user ids.
        self.admins: set[str] = set()
        self.owners: set[str] = set()
        self.usergroups: dict[str, set[str]] = {}
        # conversations.members answers this many members per page at most (to test paging).
        self.page_size = 200

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # read methods (users.info …) as the SDK sends them
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner, self.url = await serve(app)
        return self

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, token: str = "r1") -> str:
        return f"{self.url}/response/{token}"

    # ---- test controls -----------------------------------------------------------------
    def fail(self, method: str, *faults: Fault) -> None:
        self.faults[method].extend(faults)

    def checklist_pin(self) -> tuple[str, str] | None:
        """(channel, ts) of the most recent pinned war-room checklist, or None yet."""
        found = [(c, ts) for c, ts in self.pins if "Breach war room" in json.dumps(self.messages[(c, ts)]["blocks"])]
        return max(found, key=lambda pin: pin[1]) if found else None

    def pinned_in(self, channel: str) -> list[str]:
        return sorted(ts for c, ts in self.pins if c == channel)

    def rejected(self, error: str) -> list[Call]:
        """Calls Slack would have answered with this error (`invalid_blocks`, …)."""
        return [c for c in self.calls if c.error == error]

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate, timeout: float = 10.0) -> Any:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError("timed out waiting for the bot's Slack calls")

    async def settle(self, quiet: float = 0.3) -> None:
        """Wait until no call has arrived for `quiet` seconds (the bot's background work is done).

        The quiet period starts no earlier than now, so work the bot has only just begun is waited for.
        """
        started = time.monotonic()
        while True:
            last = max((c.at for c in self.calls), default=started)
            last = max(last, started)
            last = max([last, *(r.get("_at", 0.0) for r in self.responses)])
            if time.monotonic() - last >= quiet:
                return
            await asyncio.sleep(0.05)

    # ---- Web API -----------------------------------------------------------------------
    async def _args(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if request.content_type == "application/json" and raw:
            return json.loads(raw)
        args: dict[str, Any] = dict(parse_qsl(raw))
        args.update(request.query)
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        self.calls.append(Call(method, args))
        hold = 0.0
        if self.faults[method]:
            fault = self.faults[method].popleft()
            hold = fault.hold
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status != 200:
                return web.Response(status=fault.status, headers=fault.headers, text="upstream trouble")
            if fault.error:
                return web.json_response({"ok": False, "error": fault.error})
        if method == "apps.connections.open":
            if not auth.startswith("Bearer xapp-"):
                error = "not_allowed_token_type" if auth.startswith("Bearer xox") else "not_authed"
                return web.json_response({"ok": False, "error": error})
        elif not auth.startswith("Bearer xox"):
            return web.json_response({"ok": False, "error": "not_authed"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        result = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        self.calls[-1].error, self.calls[-1].result = result.get("error"), result
        if hold:
            await asyncio.sleep(hold)
        return web.json_response(result)

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team_id": self.team_id, "user_id": self.bot_user, "bot_id": "BBOT",
                "team": "Acme Dental", "user": "breachroom", "url": "https://acme.example/"}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}

    def _m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args["name"]
        if any(c["name"] == name for c in self.channels.values()):
            return {"ok": False, "error": "name_taken"}
        if len(name) > 80 or name != name.lower() or " " in name:
            return {"ok": False, "error": "invalid_name_specials"}
        cid = f"C{next(self._ids):08d}"
        self.channels[cid] = {"id": cid, "name": name, "is_private": bool(args.get("is_private")),
                              "members": {self.bot_user}, "topic": ""}
        return {"ok": True, "channel": {"id": cid, "name": name, "is_private": self.channels[cid]["is_private"]}}

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Private channels the bot is in (one page: tests have few), as Slack lists them."""
        wanted = str(args.get("types") or "public_channel").split(",")
        found = [{"id": c["id"], "name": c["name"], "is_private": c["is_private"]} for c in self.channels.values()
                 if self.bot_user in c["members"] and ("private_channel" if c["is_private"] else "public_channel")
                 in wanted]
        return {"ok": True, "channels": found, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(args["channel"])
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        found = [{"type": "message", "ts": ts, "text": m.get("text"), "bot_id": "BBOT", "user": self.bot_user}
                 for (c, ts), m in self.messages.items() if c == channel["id"]]
        newest = sorted(found, key=lambda m: m["ts"], reverse=True)
        return {"ok": True, "messages": newest[:int(args.get("limit", 100))]}

    def _m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(args["channel"])
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        users = [u for u in str(args["users"]).split(",") if u]
        if len(users) != len(set(users)):
            return {"ok": False, "error": "invalid_users"}
        channel["members"].update(users)
        return {"ok": True, "channel": {"id": channel["id"]}}

    def _m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """The channel's members, a page at a time (the cursor is the offset, as an opaque string)."""
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        members = sorted(channel["members"])
        start = int(args.get("cursor") or 0)
        size = min(int(args.get("limit") or 100), self.page_size)
        rest = members[start + size:]
        return {"ok": True, "members": members[start:start + size],
                "response_metadata": {"next_cursor": str(start + size) if rest else ""}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user", "")
        if not user.startswith(("U", "W")):
            return {"ok": False, "error": "user_not_found"}
        owner = user in self.owners
        return {"ok": True, "user": {"id": user, "team_id": self.team_id, "name": user.lower(),
                                     "is_admin": user in self.admins or owner, "is_owner": owner,
                                     "is_primary_owner": False, "is_bot": user == self.bot_user}}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(args.get("usergroup", ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": sorted(group)}

    def _m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(args["channel"])
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if len(args["topic"]) > 250:
            return {"ok": False, "error": "too_long"}
        channel["topic"] = args["topic"]
        return {"ok": True}

    def _post(self, args: dict[str, Any], ephemeral: bool = False) -> dict[str, Any]:
        blocks = args.get("blocks") or []
        problem = check_blocks(blocks)
        if problem:
            return {"ok": False, "error": problem}
        channel = args["channel"]
        # Channels named CPUBLIC… stand for public channels the bot may post in (chat:write.public).
        if not ephemeral and channel.startswith("C") and not channel.startswith("CPUBLIC") \
                and channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._ts()
        if not ephemeral:
            self.messages[(channel, ts)] = {"text": args.get("text"), "blocks": blocks}
        return {"ok": True, "channel": channel, "ts": ts, "message_ts": ts}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._post(args)

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(args["channel"])
        if channel is not None and self.bot_user not in channel["members"]:
            return {"ok": False, "error": "not_in_channel"}
        if channel is None and not args["channel"].startswith("CPUBLIC"):
            return {"ok": False, "error": "channel_not_found"}
        return self._post(args, ephemeral=True)

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["channel"], args["ts"])
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        problem = check_blocks(args.get("blocks") or [])
        if problem:
            return {"ok": False, "error": problem}
        self.messages[key] = {"text": args.get("text"), "blocks": args.get("blocks") or []}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"]}

    def _m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["channel"], args["timestamp"])
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        if key in self.pins:
            return {"ok": False, "error": "already_pinned"}
        self.pins.add(key)
        return {"ok": True}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        if len(view.get("blocks", [])) > 100 or len(view["title"]["text"]) > 24:
            return {"ok": False, "error": "invalid_arguments"}
        for block in view.get("blocks", []):
            try:
                Block.parse(block).to_dict()  # type: ignore[union-attr]
            except SlackObjectFormationError:
                return {"ok": False, "error": "invalid_arguments"}
        view_id = f"V{next(self._ids):08d}"
        return {"ok": True, "view": {**view, "id": view_id}}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": args["filename"], "length": int(args["length"]),
                               "content": None, "channel": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        listed = args.get("files")
        listed = json.loads(listed) if isinstance(listed, str) else listed
        shared = []
        for entry in listed or []:
            record = self.files.get(entry["id"])
            if record is None or record["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            record.update(title=entry.get("title"), channel=args.get("channel_id"),
                          comment=args.get("initial_comment"))
            shared.append({"id": record["id"], "name": record["name"], "title": record.get("title")})
        return {"ok": True, "files": shared}

    async def _upload(self, request: web.Request) -> web.Response:
        record = self.files.get(request.match_info["file_id"])
        if record is None:
            return web.Response(status=404)
        record["content"] = await request.read()
        if len(record["content"]) != record["length"]:
            return web.Response(status=400, text="length mismatch")
        return web.Response(text=f"OK - {len(record['content'])}")

    # ---- response URLs -----------------------------------------------------------------
    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_token"] = request.match_info["token"]
        body["_at"] = time.monotonic()
        problem = check_blocks(body.get("blocks") or [])
        self.responses.append(body)
        if problem:
            return web.Response(status=400, text=problem)
        return web.Response(text="ok")

    # ---- Socket Mode -------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                if "envelope_id" in data:
                    self.socket_acks[data["envelope_id"]] = data
        return ws

    async def deliver(self, kind: str, payload: dict[str, Any], envelope_id: str) -> dict[str, Any]:
        """Send a Socket Mode envelope and wait for the bot's acknowledgement of it."""
        await self.wait_for(lambda: self.sockets)
        await self.sockets[-1].send_json(
            {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        )
        return await self.wait_for(lambda: self.socket_acks.get(envelope_id))
