"""The Bolt app: parse a Slack request, call the bot, acknowledge, then do the slow work."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.async_app import AsyncAck

from adapters.slack import inbound, render
from adapters.slack.outbound import SlackChat, web_client
from bot import actions, pacing, router, views
from bot.cards import Card, FormErrors
from bot.core import Core, Invocation, Reply
from bot.ports import Audience, ChatError

log = logging.getLogger(__name__)
# Shown inside a form that could not be saved: the form stays open, so nothing typed is lost.
NOT_SAVED = "Breachroom could not save this just now. Your text is still here: press the button again in a moment."
# The work after an acknowledgement (building a war room, recording a press and updating its checklist, a private
# answer) runs on at most this many tasks. A war room is mostly waiting for Slack (about 7 round trips, one after
# the other), but each also takes tens of milliseconds of this process's CPU and several short transactions, which
# the acknowledgements share: unbounded, a burst of declarations builds every room at once and the acknowledgements
# wait behind them (past Slack's 3 s on PostgreSQL). Chosen with `python -m bench.workers` (see the README's
# Benchmarks): 4 workers complete 150 war rooms declared at once in 15 to 23 s with Slack answering in 50 ms
# (2: 29 s); on two cores 6 or 8 are not much sooner, and then the burst's last acknowledgements pass Slack's 3 s
# on PostgreSQL (and a declaration's acknowledgement takes twice as long while rooms are being built).
WORKERS = 4
Job = Callable[[], Awaitable[None]]


def _sorry(typed: str | None = None) -> Card:
    text = "Something went wrong on Breachroom's side and this was not done."
    if typed:
        text += f" Here is what you typed, so you can try again: `{typed[:2500]}`"
    return views.note(text)


class _SameToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and then warns that our client (built from it) wins; that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.AsyncApp").addFilter(_SameToken())


class _NoBody(logging.Filter):
    """Bolt logs the whole body of a request whose signature fails: what someone typed must not reach the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Invalid request signature detected"):
            record.msg, record.args = "Invalid request signature detected (the body is not logged)", ()
        return True


logging.getLogger("slack_bolt.RequestVerification").addFilter(_NoBody())


class SlackAdapter:
    """Holds the Bolt app and the port; one per process."""

    def __init__(self, core: Core, *, token: str, signing_secret: str | None, api_url: str,
                 workers: int | None = None) -> None:
        self.core = core
        self.workers = max(1, workers or WORKERS)
        # Presses go first: a worker takes the next press before the next war room, so that a checklist answers
        # within one war room's build even while a burst of them is being built.
        self._presses: deque[Job] = deque()
        self._queue: deque[Job] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._started: set[asyncio.Task[None]] = set()
        self.client = web_client(token, api_url)
        self.chat = SlackChat(self.client, core.pacer.step)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "socket-mode-needs-no-signing-secret",
            request_verification_enabled=signing_secret is not None,
            # Bolt answers Slack as soon as a listener returns, and every listener returns right after ack():
            # what follows is scheduled here (`_enqueue`, `_start`). Left to Bolt (False), the listener would run
            # on in Bolt's own task while Bolt checks every 10 ms whether it has acknowledged yet, which adds up to
            # 10 ms to every acknowledgement.
            process_before_response=True,
        )
        self._register()

    async def open(self) -> None:
        """One pool of kept-alive connections for every Web API call: without it the SDK opens (and closes) a
        connection per call, which costs a round trip each time."""
        if self.client.session is None:
            self.client.session = aiohttp.ClientSession()

    async def close(self) -> None:
        session, self.client.session = self.client.session, None
        if session is not None:
            await session.close()

    def _start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Right after the acknowledgement, outside the workers' bound: the form `/breach` opens must be opened
        within 3 s of its trigger, so it never waits behind war rooms."""
        task = asyncio.create_task(pacing.as_background(coroutine))
        self._started.add(task)
        task.add_done_callback(self._started.discard)

    def _schedule(self, reply: Reply, audience: Audience | None) -> None:
        """After the acknowledgement: queue the reply's private card and work for the workers."""
        if reply.work or (reply.card is not None and audience is not None):
            self._enqueue(lambda: self._run(reply, audience))

    def _enqueue(self, job: Job, *, press: bool = False) -> None:
        (self._presses if press else self._queue).append(job)
        # A worker leaves when both queues are empty; one that has just left is done, so it is not counted.
        if sum(1 for task in self._workers if not task.done()) < self.workers:
            task = asyncio.create_task(self._work_through())
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work_through(self) -> None:
        pacing.in_background()
        while self._presses or self._queue:
            job = (self._presses or self._queue).popleft()
            try:
                await job()
            except Exception:
                log.exception("background work failed")

    async def drain(self, timeout: float = 10.0) -> None:
        """Let queued and started work finish before the process stops (it may be telling someone something)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (live := {t for t in self._workers | self._started if not t.done()}) and loop.time() < deadline:
            await asyncio.wait(live, timeout=deadline - loop.time())

    async def _run(self, reply: Reply, audience: Audience | None) -> None:
        """After the acknowledgement: the private card (when not already in the ack), then the work."""
        if reply.card is not None and audience is not None:
            try:
                await self.chat.tell(audience, reply.card)
            except ChatError as exc:
                log.warning("could not answer privately: %s", exc.code)
        for work in reply.work:
            try:
                await work(self.chat)
            except Exception:
                log.exception("background work failed")

    async def _open(self, trigger_id: str, reply: Reply) -> None:
        if reply.form is not None:
            await self.chat.open_form(trigger_id, render.modal(reply.form))

    def _button(self, action: str) -> None:
        """A button: acknowledge at once, run its use case, open its form or answer privately."""

        async def pressed(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            self._enqueue(lambda: after_ack(body), press=True)

        async def after_ack(body: dict[str, Any]) -> None:
            actor, channel = inbound.actor_of(body), inbound.channel_of(body)
            _, value = inbound.action(body)
            try:
                reply = await actions.press(self.core, action, actor, value, channel)
            except Exception:
                log.exception("%s failed", action)
                reply = Reply(card=_sorry())
            if reply.form is not None:
                try:
                    await self._open(body["trigger_id"], reply)
                except ChatError:
                    reply = Reply(card=views.note("I could not open the form in time. Press the button again."))
            await self._run(reply, Audience(actor.user_id, reply.room or channel))

        self.app.action(re.compile(rf"^{re.escape(action)}(#\d+)?$"))(pressed)

    def _form(self, callback: str, use_case: actions.Submit, first_field: str) -> None:
        """A form: errors go back next to their fields (the form stays open: nothing typed is lost)."""

        async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
            actor = inbound.actor_of(body)
            try:
                reply = await use_case(self.core, actor, view.get("private_metadata", ""), render.form_values(view),
                                       f"view:{view.get('id')}")
            except FormErrors as exc:
                await ack(response_action="errors", errors=exc.errors)
                return
            except Exception:
                log.exception("%s failed", callback)
                await ack(response_action="errors", errors={first_field: NOT_SAVED})
                return
            await ack()
            self._schedule(reply, Audience(actor.user_id, reply.room))

        self.app.view(callback)(submitted)

    def _register(self) -> None:
        app = self.app
        core = self.core

        @app.command("/breach")
        async def breach(ack: AsyncAck, body: dict[str, Any]) -> None:
            inv = inbound.slash_command(body)
            try:
                reply = await router.handle(core, inv)
            except Exception:
                log.exception("/breach failed")
                await ack(response_type="ephemeral", **render.message([_sorry(body.get("text"))]))
                return
            if reply.form is not None:
                await ack()
                self._start(open_form(inv, body["trigger_id"], reply))
                return
            card = reply.card or views.note("Done.")
            await ack(response_type="ephemeral", **render.message([card]))
            self._schedule(Reply(work=reply.work), None)

        async def open_form(inv: Invocation, trigger_id: str, reply: Reply) -> None:
            try:
                await self._open(trigger_id, reply)
            except ChatError:
                await self.chat.tell(Audience(inv.actor.user_id, inv.channel_id, inv.reply_handle), views.note(
                    "I could not open the form in time. Type the command again."))

        @app.command(re.compile(r".*"))
        async def other_command(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack(response_type="ephemeral", text=(
                f"Breachroom does not know `{body.get('command', '')}`. Type `/breach help` for its commands."))

        async def membership_changed(event: dict[str, Any]) -> None:
            """Someone joined or left a channel (added through Slack's own interface too): the members kept for
            bot/access.py are asked of Slack again. Bolt acknowledges events itself."""
            channel = event.get("channel")
            if isinstance(channel, str):
                self.chat.forget_room(channel)

        for event in inbound.MEMBERSHIP_EVENTS:
            app.event(event)(membership_changed)

        for action in actions.BUTTONS:
            self._button(action)
        for callback, (use_case, first_field) in actions.FORMS.items():
            self._form(callback, use_case, first_field)

        @app.error
        async def on_error(error: Exception, body: dict[str, Any]) -> None:
            log.error("unhandled error in a Slack listener: %s", type(error).__name__)
