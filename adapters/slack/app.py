"""The Bolt app: parse a Slack request, call the bot, acknowledge, then do the slow work."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.async_app import AsyncAck

from adapters.slack import inbound, render
from adapters.slack.outbound import SlackChat, web_client
from bot import actions, router, views
from bot.cards import Card, FormErrors
from bot.core import Core, Reply
from bot.ports import Audience, ChatError

log = logging.getLogger(__name__)
# Shown inside a form that could not be saved: the form stays open, so nothing typed is lost.
NOT_SAVED = "Breachroom could not save this just now. Your text is still here: press the button again in a moment."


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


class SlackAdapter:
    """Holds the Bolt app and the port; one per process."""

    def __init__(self, core: Core, *, token: str, signing_secret: str | None, api_url: str) -> None:
        self.core = core
        self.client = web_client(token, api_url)
        self.chat = SlackChat(self.client)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "socket-mode-needs-no-signing-secret",
            request_verification_enabled=signing_secret is not None,
            process_before_response=False,
        )
        self._register()

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
            await self._run(reply, Audience(actor.user_id, reply.room))

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
                try:
                    await self._open(body["trigger_id"], reply)
                except ChatError:
                    await self.chat.tell(Audience(inv.actor.user_id, inv.channel_id, inv.reply_handle), views.note(
                        "I could not open the form in time. Type the command again."))
                return
            card = reply.card or views.note("Done.")
            await ack(response_type="ephemeral", **render.message([card]))
            await self._run(Reply(work=reply.work), None)

        @app.command(re.compile(r".*"))
        async def other_command(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack(response_type="ephemeral", text=(
                f"Breachroom does not know `{body.get('command', '')}`. Type `/breach help` for its commands."))

        for action in actions.BUTTONS:
            self._button(action)
        for callback, (use_case, first_field) in actions.FORMS.items():
            self._form(callback, use_case, first_field)

        @app.error
        async def on_error(error: Exception, body: dict[str, Any]) -> None:
            log.error("unhandled error in a Slack listener: %s", type(error).__name__)
