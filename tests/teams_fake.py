"""Local stand-ins for Teams: the Bot Connector (a conversation's `serviceUrl`) and the Bot Framework's
OpenID metadata with its signing keys, plus tokens signed the way the Bot Connector signs them."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.local_http import serve

ISSUER = "https://api.botframework.com"
BOT_ID = "28:breachroom-bot"
TENANT = "tenant-acme"


@dataclass
class Sent:
    """One activity the bot sent to the connector (`updates` is the id of the activity it replaced)."""

    conversation: str
    reply_to: str | None
    body: dict[str, Any]
    authorization: str | None
    at: float = field(default_factory=time.monotonic)
    id: str = ""
    updates: str | None = None

    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.body.get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")


def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def served_key() -> rsa.RSAPrivateKey:
    """The key every test's fake serves as `key-1`: one per test process. botbuilder keeps the keys it fetched by
    the metadata address for the whole process, and a later test's fake may be given an earlier one's port: a key
    made per test would then be checked against the earlier test's (a 401 now and then)."""
    return signing_key()


class FakeTeams:
    """Records what the bot sends (`sent`) and serves OpenID metadata and keys (`keys`, by kid)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        # Members each conversation knows (user id -> account with aadObjectId), for member lookups.
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        # People who installed the app for themselves: the bot may open a 1:1 chat with them.
        self.installed_for: set[str] = set()
        # Conversations that refuse posts (403, the bot not yet in them) this many more times; and how many
        # times a conversation not posted to before refuses (a chat made a moment ago).
        self.not_ready: dict[str, int] = {}
        self.refuse_new = 0
        self._seen: set[str] = set()
        # While set, every post and update is answered with this status (an outage: 503; rate limits: 429), and
        # counted in `refused`.
        self.outage: int | None = None
        self.refused = 0
        # The current activity (card) by id, after updates.
        self.activities: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeTeams:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_get("/openid", self._metadata)
        app.router.add_get("/keys", self._jwks)
        self._runner, self.url = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def service_url(self) -> str:
        return f"{self.url}/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/openid"

    def _down(self) -> web.Response | None:
        if self.outage is None:
            return None
        self.refused += 1
        return web.json_response({"error": {"code": "ServiceError", "message": "Try again later."}},
                                 status=self.outage, headers={"Retry-After": "1"} if self.outage == 429 else None)

    async def _send(self, request: web.Request) -> web.Response:
        if (down := self._down()) is not None:
            return down
        body = await request.json()
        conversation = request.match_info["conversation"]
        if conversation not in self._seen:
            self._seen.add(conversation)
            if self.refuse_new:
                self.not_ready[conversation] = self.refuse_new
        if self.not_ready.get(conversation):
            self.not_ready[conversation] -= 1
            return web.json_response({"error": {"code": "BotNotInConversationRoster",
                                                "message": "The bot is not part of the conversation roster."}},
                                     status=403)
        activity_id = f"activity-{next(self._ids)}"
        self.sent.append(Sent(conversation, request.match_info.get("reply_to"), body,
                              request.headers.get("Authorization"), id=activity_id))
        self.activities[activity_id] = body
        return web.json_response({"id": activity_id})

    async def _update(self, request: web.Request) -> web.Response:
        if (down := self._down()) is not None:
            return down
        body = await request.json()
        activity_id = request.match_info["activity"]
        if activity_id not in self.activities:
            return web.json_response({"error": {"code": "ActivityNotFound"}}, status=404)
        self.sent.append(Sent(request.match_info["conversation"], None, body, request.headers.get("Authorization"),
                              id=activity_id, updates=activity_id))
        self.activities[activity_id] = body
        return web.json_response({"id": activity_id})

    async def _member(self, request: web.Request) -> web.Response:
        account = self.members.get(request.match_info["conversation"], {}).get(request.match_info["member"])
        if account is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response(account)

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        members = [m.get("id") for m in body.get("members") or []]
        if len(members) != 1 or members[0] not in self.installed_for:
            return web.json_response({"error": {"code": "Forbidden", "message": "app not installed"}}, status=403)
        return web.json_response({"id": f"a:{members[0].split(':')[-1]}-1on1"})

    def card(self, activity_id: str) -> dict[str, Any]:
        """The Adaptive Card an activity shows now (after updates)."""
        (content,) = [a["content"] for a in self.activities[activity_id].get("attachments") or []]
        return content

    def posts(self, conversation: str) -> list[Sent]:
        """New activities (not updates) in a conversation, in order."""
        return [s for s in self.sent if s.conversation == conversation and s.updates is None]

    async def _metadata(self, _: web.Request) -> web.Response:
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.url}/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _jwks(self, _: web.Request) -> web.Response:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "endorsements": ["msteams"]})
        return web.json_response({"keys": keys})

    def token(self, *, audience: str, kid: str = "key-1", key: rsa.RSAPrivateKey | None = None,
              expires_in: int = 3600, service_url: str | None = None, issuer: str = ISSUER) -> str:
        """A Bot Connector token; `key` signs it instead of the served key for `kid` (a forgery)."""
        now = int(time.time())
        claims = {"iss": issuer, "aud": audience, "iat": now - 60, "nbf": now - 60, "exp": now + expires_in,
                  "serviceurl": service_url or self.service_url}
        return jwt.encode(claims, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    async def wait_for(self, predicate, timeout: float = 10.0) -> Any:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError("timed out waiting for the bot's connector calls")

    async def settle(self, quiet: float = 0.3) -> None:
        """Wait until nothing has been sent for `quiet` seconds (the bot's background work is done)."""
        started = time.monotonic()
        while time.monotonic() - max([started, *(s.at for s in self.sent)]) < quiet:
            await asyncio.sleep(0.05)


def activity(fake: FakeTeams, text: str, *, activity_id: str, user: str = "29:ann", conversation: str = "a:ann-1on1",
             kind: str = "personal", mentions: dict[str, str] | None = None, bot_mentioned: bool = False,
             service_url: str | None = None) -> dict[str, Any]:
    """A message as Teams delivers it; `mentions` maps shown names to user ids (`<at>Name</at>` in `text`)."""
    entities = [{"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": uid, "name": name}}
                for name, uid in (mentions or {}).items()]
    if bot_mentioned:
        text = f"<at>Breachroom</at> {text}".strip()
        entities.append({"type": "mention", "text": "<at>Breachroom</at>",
                         "mentioned": {"id": BOT_ID, "name": "Breachroom"}})
    conv: dict[str, Any] = {"id": conversation, "conversationType": kind, "tenantId": TENANT}
    if kind == "groupChat":
        conv["isGroup"] = True
    return {
        "type": "message", "id": activity_id, "channelId": "msteams", "serviceUrl": service_url or fake.service_url,
        "timestamp": "2026-11-27T09:41:00.000Z", "text": text, "textFormat": "plain",
        "from": {"id": user, "name": user.split(":")[-1].title(), "aadObjectId": f"aad-{user.split(':')[-1]}"},
        "recipient": {"id": BOT_ID, "name": "Breachroom"}, "conversation": conv,
        "channelData": {"tenant": {"id": TENANT}}, "entities": entities,
    }


def account(user: str, name: str | None = None) -> dict[str, Any]:
    """A member as the connector describes them (what a member lookup returns)."""
    short = user.split(":")[-1]
    return {"id": user, "name": name or short.title(), "aadObjectId": f"aad-{short}", "tenantId": TENANT}


def press(fake: FakeTeams, card: dict[str, Any], title: str, *, activity_id: str, reply_to: str,
          user: str = "29:ann", conversation: str = "a:ann-1on1", kind: str = "personal",
          inputs: dict[str, Any] | None = None, submit: bool = False) -> dict[str, Any]:
    """Pressing the button titled `title` on `card`: an Action.Execute invoke, or its Action.Submit fallback."""
    found = find_action(card, title)
    data = {**found["data"], **(inputs or {})}
    body = activity(fake, "", activity_id=activity_id, user=user, conversation=conversation, kind=kind)
    body["replyToId"] = reply_to
    if submit:
        body.update(value=data)
        body.pop("text")
    else:
        body.update(type="invoke", name="adaptiveCard/action",
                    value={"action": {"type": "Action.Execute", "verb": found["verb"], "data": data},
                           "trigger": "manual"})
    return body


def find_action(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The first Action.Execute titled `title` anywhere in the card."""
    stack: list[Any] = [card]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("title") == title:
                return node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no button {title!r} on the card")
