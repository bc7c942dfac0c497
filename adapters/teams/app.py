"""The Bot Framework side of Teams: authenticate an activity, run the bot on it, answer over the connector.

Authentication is done here, before botbuilder's pipeline, because botbuilder 4.17.1 gets it wrong for us:
its OpenID key refresh calls `requests` inside a coroutine (blocking the event loop), an unknown key id is
an IndexError, a bad signature or an expired token a PyJWT error, and an absent header a crash: each of
those would be a 500. Here every failure to authenticate is a 401 and nothing runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import requests
from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from adapters.teams import inbound, render
from adapters.teams.config import TeamsConfig
from adapters.teams.credentials import GRAPH_SCOPE, EntraCredentialsFactory, EntraTokens, TokenError
from adapters.teams.graph import Graph
from adapters.teams.inbound import PLATFORM, Handle
from adapters.teams.outbound import TeamsChat
from bot import actions, pacing, router, views
from bot.cards import Card, Form, FormErrors, Header, Text
from bot.core import Core, Reply, Work
from bot.domain import Actor
from bot.ports import Audience, ChatError
from storage import people, queries

log = logging.getLogger(__name__)
RAW = "breachroom.raw_activity"
CARD_ACTION = "adaptiveCard/action"
SORRY = "Something went wrong on Breachroom's side and this was not done."
NOT_SAVED = "Breachroom could not save this just now. Your text is still here: press the button again in a moment."
FORM_BELOW = "The form is below: fill it in, then press its button."
FIX_FORM = "Please fix this, then press the button again (what you typed is still in the form): "
# How long a press waits for its card update, to answer with the new card (Teams allows a few seconds).
PRESS_WAIT = 2.5


class Breachroom(ActivityHandler):
    """Messages addressed to the bot become commands; everything else is left to botbuilder's defaults."""

    def __init__(self, adapter: TeamsAdapter) -> None:
        self.adapter = adapter

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        raw: dict[str, Any] = turn_context.turn_state.get(RAW) or {}
        if inbound.is_card_submit(raw):
            # Action.Submit (clients without Universal Actions): the same data, answered in the chat.
            await self.adapter.card_action(raw, raw["value"], invoke=False)
            return
        await self.adapter.answer(raw)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """People were added to a conversation or removed from it (in Teams itself, too): who is in a war room is
        asked of Graph again, for bot/access.py."""
        changed = inbound.members_changed(turn_context.turn_state.get(RAW) or {})
        if changed is not None:
            room_id, team = changed
            self.adapter.chat.forget_room(room_id, team=team)
        await super().on_conversation_update_activity(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        raw: dict[str, Any] = turn_context.turn_state.get(RAW) or {}
        if raw.get("name") != CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        action = (raw.get("value") or {}).get("action") or {}
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        body = await self.adapter.card_action(raw, data, invoke=True)
        # Plain JSON: botbuilder's AdaptiveCardInvokeResponse model is serialised twice (see PITFALLS), and
        # it cannot carry a message's text value at all.
        return InvokeResponse(status=200, body={"statusCode": 200, **body})


class TeamsAdapter:
    """Holds the CloudAdapter, the bot and the port; one per process."""

    def __init__(self, core: Core, config: TeamsConfig) -> None:
        self.core = core
        self.config = config
        self.tokens = EntraTokens(config)  # outbound tokens, for the Bot Connector and Graph alike
        self.auth = ConfigurationBotFrameworkAuthentication(
            config.botbuilder(), credentials_factory=EntraCredentialsFactory(self.tokens, config))
        # No `on_turn_error`: it would swallow a failed proactive send, which TeamsChat must see as a ChatError.
        self.cloud = CloudAdapter(self.auth)
        self.bot = Breachroom(self)
        graph = None if config.emulator else Graph(config.graph_url, self._graph_token)
        self.chat = TeamsChat(core.db, config, self.cloud.continue_conversation, self.cloud.create_conversation,
                              graph, clock=core.clock)
        self._work: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        """`POST /api/messages`: 401 unless authenticated, 400 for what is not an activity, else run the bot."""
        try:
            raw = await request.json()
        except (ValueError, LookupError, RecursionError):  # not JSON, not UTF-8, an unknown charset, too deep
            return web.Response(status=400, text="expected a JSON activity")
        if inbound.problem(raw) is not None:
            return web.Response(status=400, text="expected a JSON activity")
        raw = inbound.clean(raw)
        try:
            activity = Activity().deserialize(raw)
        except DeserializationError:
            return web.Response(status=400, text="expected a JSON activity")
        result = await self._authenticate(activity, request.headers.get("Authorization"))
        if isinstance(result, web.Response):
            return result

        await self._remember(raw)

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

    async def _graph_token(self) -> str:
        try:
            return await self.tokens.token(GRAPH_SCOPE)
        except TokenError as exc:
            raise ChatError(exc.code, "sign-in", advice=(
                "Breachroom could not sign in to Microsoft: check MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and "
                "MICROSOFT_APP_TENANT_ID.")) from None

    async def _remember(self, raw: dict[str, Any]) -> None:
        """Who wrote, from where: the sender's Entra id and name, their 1:1 chat, the conversation's reference."""
        handle = inbound.handle_of(raw)
        if not handle.conversation_id or not handle.service_url:
            return
        try:
            await people.remember_room(self.core.db, PLATFORM, handle.conversation_id, handle.room().encode())
            if handle.user_id:
                sender = raw.get("from") if isinstance(raw.get("from"), dict) else {}
                await people.remember_person(
                    self.core.db, PLATFORM, handle.tenant_id, handle.user_id, directory_id=handle.aad_object_id,
                    name=sender.get("name"), private_handle=handle.encode() if handle.personal else None)
        except Exception:
            log.exception("could not store who wrote to the bot")  # the command itself still runs

    async def answer(self, raw: dict[str, Any]) -> None:
        """Run the command, answer the person, then start the slow work without holding the request."""
        handle = inbound.handle_of(raw)
        inv = inbound.invocation(raw)
        try:
            reply = await router.handle(self.core, inv)
        except Exception:
            log.exception("a Teams command failed")
            reply = Reply(card=views.note(SORRY))
        try:
            if reply.form is not None:
                await self.chat.show_form(handle, await self._form(reply.form, handle.tenant_id))
            elif reply.card is not None:
                await self.chat.tell(Audience(handle.user_id, handle.conversation_id, handle.encode()), reply.card)
        except ChatError as exc:
            log.warning("could not answer on Teams: %s", exc)
        mentioned = inbound.mentioned(raw)
        if mentioned:
            self._start(self._look_up(handle, mentioned))
        for work in reply.work:
            self._start(self._run(work))

    async def _look_up(self, handle: Handle, mentioned: dict[str, str]) -> None:
        """Store the Entra ids of people named in a command, while they share this conversation with the bot."""
        for user_id, name in mentioned.items():
            await people.remember_person(self.core.db, PLATFORM, handle.tenant_id, user_id, name=name)
        await self.chat.directory_ids(handle, list(mentioned))

    async def _form(self, form: Form, tenant_id: str) -> dict[str, Any]:
        async with self.core.db.reading() as session:
            workspace = await queries.workspace(session, PLATFORM, tenant_id)
        return render.form(form, zone=workspace.timezone if workspace else None)

    async def card_action(self, raw: dict[str, Any], data: dict[str, Any], *, invoke: bool) -> dict[str, Any]:
        """A button or form press; returns what the presser sees (a card, or a short message)."""
        handle = inbound.handle_of(raw)
        actor = Actor(PLATFORM, handle.tenant_id, handle.user_id)
        action, value = str(data.get("action") or ""), str(data.get("value") or "")
        pressed = str(raw.get("replyToId") or "")
        if action in actions.FORMS:
            return await self._submit(raw, data, actor, handle, pressed, invoke)
        try:
            reply = await actions.press(self.core, action, actor, value, handle.conversation_id)
        except Exception:
            log.exception("%s failed", action)
            reply = Reply(card=views.note(SORRY))
        if reply.form is not None:
            await self._quietly(self.chat.show_form(handle, await self._form(reply.form, handle.tenant_id)))
            return await self._say(handle, views.note(FORM_BELOW), invoke)
        capture = Capture(self.chat, handle.conversation_id, pressed)
        started = [self._start(self._run(work, capture)) for work in reply.work]
        if started:
            await asyncio.wait(started, timeout=PRESS_WAIT)
        if reply.card is not None and capture.content is None:
            return await self._say(handle, reply.card, invoke)
        if capture.content is not None:
            return {"type": render.CONTENT_TYPE, "value": capture.content}
        return message("Done.")

    async def _submit(self, raw: dict[str, Any], data: dict[str, Any], actor: Actor, handle: Handle, pressed: str,
                      invoke: bool) -> dict[str, Any]:
        """A filled-in form: errors are said with the form left as typed; once saved, the form is replaced."""
        use_case, _ = actions.FORMS[str(data.get("action"))]
        try:
            values = render.form_values(data)
            reply = await use_case(self.core, actor, str(data.get("value") or ""), values, inbound.delivery_key(raw))
        except FormErrors as exc:
            return await self._say(handle, views.note(FIX_FORM + " ".join(exc.errors.values())), invoke)
        except Exception:
            log.exception("%s failed", data.get("action"))
            return await self._say(handle, views.note(NOT_SAVED), invoke)
        done = await self.chat.content([views.note(f"✅ Sent by @{{{actor.user_id}}}.")])
        if pressed:
            await self._quietly(self.chat.replace(handle, pressed, done))
        if reply.card is not None:
            audience = Audience(actor.user_id, reply.room or handle.conversation_id)
            self._start(self._quietly(self.chat.tell(audience, reply.card)))
        for work in reply.work:
            self._start(self._run(work))
        return {"type": render.CONTENT_TYPE, "value": done}

    async def _say(self, handle: Handle, card: Card, invoke: bool) -> dict[str, Any]:
        """To the presser only: in the invoke's answer, or (for Action.Submit) in their 1:1 chat."""
        if not invoke:
            await self._quietly(self.chat.tell(Audience(handle.user_id, handle.conversation_id, handle.encode()), card))
        # People and rooms by name ("Ask Bob …"), as the card itself would show them.
        return message(render.plain(words(card), names=await self.chat.names([card])))

    async def _quietly(self, call: Any) -> None:
        try:
            await call
        except ChatError as exc:
            log.warning("could not answer on Teams: %s", exc)

    def _start(self, coroutine: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(pacing.as_background(coroutine))
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        return task

    async def _run(self, work: Work, port: Any = None) -> None:
        try:
            await work(port or self.chat)
        except Exception:
            log.exception("background work failed")

    async def drain(self, timeout: float = 10.0) -> None:
        """Let started work finish before the process stops (it may be telling someone what happened)."""
        if self._work:
            await asyncio.wait(set(self._work), timeout=timeout)
        if self.chat.graph is not None:
            await self.chat.graph.close()


def message(text: str) -> dict[str, Any]:
    """An invoke answer that shows a short text to the presser only."""
    return {"type": "application/vnd.microsoft.activity.message", "value": text}


def words(card: Card) -> str:
    """A card's headline and text, for places that take text only."""
    parts = [p.text for p in card.parts if isinstance(p, Header | Text)]
    return " ".join(parts) or card.fallback


class Capture:
    """The port, watching for the update of the pressed message: its new card is what the presser sees."""

    def __init__(self, chat: TeamsChat, room_id: str, message_id: str) -> None:
        self._chat, self.room_id, self.message_id = chat, room_id, message_id
        self.content: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chat, name)

    async def update_cards(self, room_id: str, message_id: str, cards: Sequence[Card]) -> None:
        content = await self._chat.content(cards)
        await self._chat.replace(await self._chat.handle_of(room_id), message_id, content)
        if room_id == self.room_id and message_id == self.message_id:
            self.content = content
