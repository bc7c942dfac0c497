"""The Bot Framework side of Teams: authenticate an activity, run the bot on it, answer over the connector.

Authentication is done here, before botbuilder's pipeline, because botbuilder 4.17.1 gets it wrong for us:
its OpenID key refresh calls `requests` inside a coroutine (blocking the event loop), an unknown key id is
an IndexError, a bad signature or an expired token a PyJWT error, and an absent header a crash: each of
those would be a 500. Here every failure to authenticate is a 401 and nothing runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import requests
from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from adapters.teams import inbound, render
from adapters.teams.config import TeamsConfig
from adapters.teams.outbound import TeamsChat
from bot import router, views
from bot.core import Core, Reply
from bot.ports import Audience, ChatError

log = logging.getLogger(__name__)
RAW = "breachroom.raw_activity"
NOT_YET = "Buttons and forms in Teams come in a later version of Breachroom. Type the command instead."


class Breachroom(ActivityHandler):
    """Messages addressed to the bot become commands; everything else is left to botbuilder's defaults."""

    def __init__(self, adapter: TeamsAdapter) -> None:
        self.adapter = adapter

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        raw: dict[str, Any] = turn_context.turn_state.get(RAW) or {}
        await self.adapter.answer(raw)


class TeamsAdapter:
    """Holds the CloudAdapter, the bot and the port; one per process."""

    def __init__(self, core: Core, config: TeamsConfig) -> None:
        self.core = core
        self.config = config
        self.auth = ConfigurationBotFrameworkAuthentication(config.botbuilder())
        # No `on_turn_error`: it would swallow a failed proactive send, which TeamsChat must see as a ChatError.
        self.cloud = CloudAdapter(self.auth)
        self.bot = Breachroom(self)
        self.chat = TeamsChat(self.cloud.continue_conversation, config.app_id)
        self._work: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        """`POST /api/messages`: 401 unless authenticated, 400 for what is not an activity, else run the bot."""
        try:
            raw = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="expected a JSON activity")
        if not isinstance(raw, dict) or not raw.get("type"):
            return web.Response(status=400, text="expected a JSON activity")
        try:
            activity = Activity().deserialize(raw)
        except DeserializationError:
            return web.Response(status=400, text="expected a JSON activity")
        result = await self._authenticate(activity, request.headers.get("Authorization"))
        if isinstance(result, web.Response):
            return result

        async def logic(turn_context: TurnContext) -> None:
            turn_context.turn_state[RAW] = raw
            await self.bot.on_turn(turn_context)

        invoke = await self.cloud.process_activity(result, activity, logic)
        if invoke is not None:
            # The body as it is, or the model serialised once (see the double serialisation in PITFALLS).
            body = invoke.body.serialize() if isinstance(invoke.body, Model) else invoke.body
            return web.json_response(body, status=invoke.status)
        return web.Response(status=200)

    async def _authenticate(self, activity: Activity, header: str | None) -> AuthenticateRequestResult | web.Response:
        """botbuilder's check, off the event loop (its key refresh is synchronous), with failures as 401."""
        try:
            return await asyncio.to_thread(asyncio.run, self.auth.authenticate_request(activity, header or None))
        except requests.RequestException as exc:
            log.warning("Teams: cannot fetch the Bot Framework's signing keys (%s)", type(exc).__name__)
            return web.Response(status=503, text="cannot check the token just now")
        except Exception as exc:  # PermissionError, PyJWT errors, IndexError (unknown key id), AttributeError …
            log.info("Teams: refused an activity: %s: %s", type(exc).__name__, exc)
            return web.Response(status=401, text="unauthorized")

    async def answer(self, raw: dict[str, Any]) -> None:
        """Run the command, answer the person, then start the slow work without holding the request."""
        handle = inbound.handle_of(raw)
        if inbound.is_card_submit(raw):
            reply = Reply(card=views.note(NOT_YET))
        else:
            inv = inbound.invocation(raw)
            try:
                reply = await router.handle(self.core, inv)
            except Exception:
                log.exception("a Teams command failed")
                reply = Reply(card=views.note("Something went wrong on Breachroom's side and this was not done."))
        try:
            if reply.form is not None:
                await self.chat.show_form(handle, render.form(reply.form))
            elif reply.card is not None:
                await self.chat.tell(Audience(handle.user_id, handle.conversation_id, handle.encode()), reply.card)
        except ChatError as exc:
            log.warning("could not answer on Teams: %s", exc)
        for work in reply.work:
            task = asyncio.create_task(self._run(work))
            self._work.add(task)
            task.add_done_callback(self._work.discard)

    async def _run(self, work: Any) -> None:
        try:
            await work(self.chat)
        except Exception:
            log.exception("background work failed")

    async def drain(self, timeout: float = 10.0) -> None:
        """Let started work finish before the process stops (it may be telling someone what happened)."""
        if self._work:
            await asyncio.wait(set(self._work), timeout=timeout)
