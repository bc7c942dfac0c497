"""Local stand-ins for Teams: the Bot Connector (a conversation's `serviceUrl`) and the Bot Framework's
OpenID metadata with its signing keys, plus tokens signed the way the Bot Connector signs them."""

from __future__ import annotations

import asyncio
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
    """One activity the bot sent to the connector."""

    conversation: str
    reply_to: str | None
    body: dict[str, Any]
    authorization: str | None
    at: float = field(default_factory=time.monotonic)

    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.body.get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")


def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeTeams:
    """Records what the bot sends (`sent`) and serves OpenID metadata and keys (`keys`, by kid)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeTeams:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self._send)
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

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.sent.append(Sent(request.match_info["conversation"], request.match_info.get("reply_to"), body,
                              request.headers.get("Authorization")))
        return web.json_response({"id": f"activity-{next(self._ids)}"})

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
