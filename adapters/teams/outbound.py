"""The bot's ChatPort on the Bot Connector and Microsoft Graph. Teams has no ephemeral messages: "privately"
means the person's 1:1 chat with the bot.

A war room is a private group chat created through Graph with the bot's app installed into it (or, with
TEAMS_WAR_ROOM=channel, a channel of one team); posts reach it through the Bot Connector, proactively, with
the conversation reference stored when the room was made. Files travel as signed download links.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from botbuilder.schema import Attachment as CardAttachment

from adapters.kept import KeptAnswers
from adapters.teams import render
from adapters.teams.config import TeamsConfig
from adapters.teams.graph import Graph
from adapters.teams.inbound import PLATFORM, Handle
from bot.cards import Card, Context, Text
from bot.ports import Attachment, Audience, ChatError, RoomRef
from storage import downloads, people
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
# Said in a shared conversation instead of the answer, which may carry breach details.
ANSWERED_PRIVATELY = "I've answered you privately, in your 1:1 chat with me."
ASK_ONE_TO_ONE = ("I can't answer this here, where everyone can read it. Open a 1:1 chat with me "
                  "(select my name, then Chat) and type the command there.")
PERSONAL_ROOM = "your 1:1 chat with Breachroom"
# Graph's limit on a chat's topic.
MAX_TOPIC = 250
# A new chat takes a moment before the bot, just installed, may post into it.
READY_WAIT = 30.0
NOT_READY = {"http_403", "http_404"}
# How long Graph's answer about who is in a war room is kept before Graph is asked again (see `room_members`).
FACTS_TTL = 60.0
# The key the team's members are kept under: every channel war room of the team has them.
TEAM_MEMBERS = "team"
_ID = re.compile(r"[@#]\{([^{}\s]+)\}")

Continue = Callable[[ConversationReference, Callable[[TurnContext], Awaitable[None]], str], Awaitable[Any]]
Create = Callable[..., Awaitable[Any]]


def reference(handle: Handle) -> ConversationReference:
    return ConversationReference(
        channel_id=handle.channel_id,
        service_url=handle.service_url,
        bot=ChannelAccount(id=handle.bot_id),
        conversation=ConversationAccount(id=handle.conversation_id, conversation_type=handle.conversation_type,
                                         tenant_id=handle.tenant_id or None),
    )


def card_message(content: dict[str, Any]) -> Activity:
    carried = render.attachment(content)
    return Activity(type=ActivityTypes.message, summary=content.get("fallbackText") or None,
                    attachments=[CardAttachment(content_type=carried["contentType"], content=carried["content"])])


def _code(exc: Exception) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"http_{status}" if status else type(exc).__name__


def _ids(cards: Sequence[Card]) -> set[str]:
    found: set[str] = set()
    for card in cards:
        for part in card.parts:
            for attribute in ("text", "label", "detail", "pairs"):
                value = getattr(part, attribute, None)
                if isinstance(value, str):
                    found.update(_ID.findall(value))
                elif isinstance(value, tuple):
                    found.update(_ID.findall(" ".join(" ".join(map(str, pair)) for pair in value)))
    return found


class TeamsChat:
    """ChatPort for Teams. `continue_conversation` and `create_conversation` are the CloudAdapter's."""

    def __init__(self, db: Database, config: TeamsConfig, continue_conversation: Continue,
                 create_conversation: Create | None = None, graph: Graph | None = None,
                 clock: Callable[[], datetime] = utcnow, ready_wait: float = READY_WAIT) -> None:
        self.db = db
        self.config = config
        self.graph = graph
        self.clock = clock
        self.ready_wait = ready_wait
        self._continue = continue_conversation
        self._create = create_conversation
        self._installs: dict[str, asyncio.Task[None]] = {}
        self._catalog_id: str | None = config.catalog_app_id
        # Graph's answers about who is in a room (Entra ids), with when they were asked; one lock per room, so a
        # burst of presses is one call; and when each was last dropped (an answer asked before that is not kept).
        self._members = KeptAnswers(FACTS_TTL)

    # The Bot Connector.

    async def _turn(self, handle: Handle, step: str, call: Callable[[TurnContext], Awaitable[Any]]) -> Any:
        """Run `call` in the handle's conversation; any connector or token failure is a ChatError."""
        result: list[Any] = []

        async def run(turn: TurnContext) -> None:
            result.append(await call(turn))

        try:
            await self._continue(reference(handle), run, self.config.app_id)
        except ChatError:
            raise
        except Exception as exc:  # msrest, requests and msal each raise their own kinds
            code = _code(exc)
            log.warning("teams %s failed: %s", step, code)
            raise ChatError(code, step) from None
        return result[0] if result else None

    async def send(self, handle: Handle, activity: Activity, step: str) -> str:
        """One activity into the handle's conversation; returns its id."""

        async def deliver(turn: TurnContext) -> str:
            response = await turn.send_activity(activity)
            return str(getattr(response, "id", "") or "")

        return str(await self._turn(handle, step, deliver))

    async def replace(self, handle: Handle, activity_id: str, content: dict[str, Any], step: str = "update") -> None:
        """Put a new card in place of an activity, for everyone in the conversation."""

        async def update(turn: TurnContext) -> None:
            activity = card_message(content)
            activity.id = activity_id
            activity.conversation = ConversationAccount(id=handle.conversation_id)
            await turn.update_activity(activity)

        await self._turn(handle, step, update)

    async def member(self, handle: Handle, user_id: str) -> tuple[str | None, str | None]:
        """A member's Entra object id and name, as the connector knows them in the handle's conversation."""

        async def lookup(turn: TurnContext) -> tuple[str | None, str | None]:
            client = turn.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
            account = await client.conversations.get_conversation_member(handle.conversation_id, user_id)
            return getattr(account, "aad_object_id", None), getattr(account, "name", None)

        try:
            return await self._turn(handle, "member", lookup)
        except ChatError:
            return None, None

    # What a room is, and how to reach it.

    async def handle_of(self, room_id: str) -> Handle:
        handle = Handle.decode(await people.room_handle(self.db, PLATFORM, room_id))
        if handle is None:
            raise ChatError("unknown_room", "post")
        return handle

    async def names(self, cards: Sequence[Card]) -> dict[str, str]:
        """Display names for the people and rooms the cards mention."""
        ids = _ids(cards)
        known = {uid: p.name for uid, p in (await people.people(self.db, PLATFORM, ids)).items() if p.name}
        known.update(await people.room_names(self.db, PLATFORM, ids - set(known)))
        return known

    async def content(self, cards: Sequence[Card]) -> dict[str, Any]:
        return render.card(cards, names=await self.names(cards))

    async def private_chat(self, tenant_id: str, user_id: str, near: Handle | None = None) -> Handle | None:
        """The person's 1:1 chat with the bot: stored when they wrote in it, else opened (where installed)."""
        person = (await people.people(self.db, PLATFORM, [user_id])).get(user_id)
        handle = Handle.decode(person.private_handle if person else None)
        if handle is not None or near is None or self._create is None:
            return handle
        opened: list[str] = []

        async def created(turn: TurnContext) -> None:
            opened.append(turn.activity.conversation.id)

        parameters = ConversationParameters(is_group=False, bot=ChannelAccount(id=near.bot_id),
                                            members=[ChannelAccount(id=user_id)], tenant_id=near.tenant_id)
        try:
            await self._create(self.config.app_id, created, parameters, near.channel_id, near.service_url)
        except Exception as exc:  # not installed for them, or the connector refused
            log.info("teams: no 1:1 chat with a person (%s)", _code(exc))
            return None
        if not opened:
            return None
        handle = replace(near, conversation_id=opened[0], conversation_type="personal", user_id=user_id)
        await people.remember_person(self.db, PLATFORM, near.tenant_id, user_id, private_handle=handle.encode())
        return handle

    # ChatPort.

    async def tell(self, audience: Audience, card: Card) -> None:
        """In a 1:1 chat, the answer itself; elsewhere the answer goes to the 1:1 chat, and a detail-free line
        is said where the person asked (only when they are waiting for an answer there)."""
        asked = Handle.decode(audience.reply_handle)
        near = asked or (Handle.decode(await people.room_handle(self.db, PLATFORM, audience.channel_id))
                         if audience.channel_id else None)
        message = card_message(await self.content([card]))
        if asked is not None and asked.personal:
            await self.send(asked, message, "tell")
            return
        tenant = near.tenant_id if near else ""
        personal = await self.private_chat(tenant, audience.user_id, near)
        if personal is None:
            if asked is None:
                raise ChatError("no_private_chat", "tell")
            await self.send(asked, Activity(type=ActivityTypes.message, text=ASK_ONE_TO_ONE), "tell")
            return
        await self.send(personal, message, "tell")
        if asked is not None:
            await self.send(asked, Activity(type=ActivityTypes.message, text=ANSWERED_PRIVATELY), "tell")

    async def show_form(self, handle: Handle, content: dict[str, Any]) -> str:
        """A form is a card of inputs; it holds nothing typed yet, so it may go where it was asked for."""
        return await self.send(handle, card_message(content), "form")

    async def open_private_room(self, name: str, *, title: str = "", members: Sequence[str] = (),
                                near: str | None = None) -> RoomRef:
        """A private group chat with the members (or a team's channel, or the declarer's 1:1 chat when the
        incident involves one person); the conversation reference is stored for later posts."""
        origin = Handle.decode(await people.room_handle(self.db, PLATFORM, near)) if near else None
        if origin is None:
            raise ChatError("no_conversation", "create")
        if self.config.war_room == "channel":
            return await self._open_channel(origin, name, title)
        wanted = list(dict.fromkeys(members)) or [origin.user_id]
        directory = await self.directory_ids(origin, wanted)
        known = [directory[u] for u in wanted if directory.get(u)]
        if len(wanted) < 2 or len(known) < 2 or self.graph is None or self.config.emulator:
            return await self._open_personal(origin, wanted[0])
        topic = title if len(title) <= MAX_TOPIC else title[: MAX_TOPIC - 1] + "…"
        chat_id = await self.graph.create_group_chat(topic, known, owner_id=known[0])
        handle = replace(origin, conversation_id=chat_id, conversation_type="groupChat", user_id="")
        await people.remember_room(self.db, PLATFORM, chat_id, handle.encode())
        self._installs[chat_id] = asyncio.create_task(self._install(chat_id))
        return RoomRef(id=chat_id, name=topic)

    async def _open_personal(self, origin: Handle, user_id: str) -> RoomRef:
        handle = origin if origin.personal and origin.user_id == user_id else await self.private_chat(
            origin.tenant_id, user_id, origin)
        if handle is None:
            raise ChatError("no_private_chat", "create", advice=(
                "Open a 1:1 chat with Breachroom in Teams (select its name, then Chat), then declare again."))
        await people.remember_room(self.db, PLATFORM, handle.conversation_id, replace(handle, user_id="").encode())
        return RoomRef(id=handle.conversation_id, name=PERSONAL_ROOM)

    async def _open_channel(self, origin: Handle, name: str, title: str) -> RoomRef:
        assert self.graph is not None and self.config.team_id
        channel_id = await self.graph.create_channel(self.config.team_id, name[:50], title)
        handle = replace(origin, conversation_id=channel_id, conversation_type="channel", user_id="")
        await people.remember_room(self.db, PLATFORM, channel_id, handle.encode())
        return RoomRef(id=channel_id, name=name[:50])

    async def _install(self, chat_id: str) -> None:
        assert self.graph is not None
        if self._catalog_id is None:
            self._catalog_id = await self.graph.catalog_app_id(self.config.manifest_id or self.config.app_id)
        await self.graph.install_app(chat_id, self._catalog_id)

    async def directory_ids(self, origin: Handle, user_ids: Sequence[str]) -> dict[str, str]:
        """Entra object ids of people, from what was stored, else asked of the connector (and stored)."""
        known = await people.people(self.db, PLATFORM, user_ids)
        found = {u: p.directory_id for u, p in known.items() if p.directory_id}
        for user_id in user_ids:
            if user_id in found:
                continue
            directory_id, name = await self.member(origin, user_id)
            if directory_id:
                found[user_id] = directory_id
                await people.remember_person(self.db, PLATFORM, origin.tenant_id, user_id,
                                             directory_id=directory_id, name=name)
        return found

    # Facts for bot/access.py. Graph's answer about a room is kept FACTS_TTL seconds in this process (a busy war
    # room presses often; Graph is slow and throttles), and dropped sooner when Teams says the members changed
    # (`forget_room`, from adapters/teams/app.py) or Breachroom adds someone itself. Only Graph's answer is kept:
    # who its Entra ids are is read from the store each time, and another process asks Graph for itself.

    async def _directory(self, key: str, fetch: Callable[[], Awaitable[list[str]]]) -> tuple[str, ...]:
        """Graph's answer kept for `key`, else asked once however many ask at once. An answer that a membership
        change overtook is used but not kept."""
        async def ask() -> tuple[str, ...]:
            return tuple(await fetch())

        answer: tuple[str, ...] = await self._members.get(key, ask)
        return answer

    def forget_room(self, room_id: str, *, team: bool = False) -> None:
        """Someone joined or left the room (or, with `team`, the team whose members see its channels): ask Graph
        again next time."""
        for key in (room_id, TEAM_MEMBERS) if team else (room_id,):
            self._members.forget(key)

    async def room_members(self, room_id: str) -> set[str] | None:
        """Who is in the war room now, from Graph (so people added in Teams count): a group chat's members, or the
        team's for a channel war room, as Teams user ids. Graph answers with Entra ids: they are matched to the
        people Breachroom has seen (every sender is remembered before their command runs, so the person asking is
        known). A 1:1 war room is its one person's. None when Graph is off (the Emulator) or fails."""
        handle = Handle.decode(await people.room_handle(self.db, PLATFORM, room_id))
        if handle is None:
            return None
        if handle.personal:
            for user_id, raw in (await people.private_handles(self.db, PLATFORM)).items():
                mine = Handle.decode(raw)
                if mine is not None and mine.conversation_id == room_id:
                    return {user_id}
            return None
        if self.graph is None:
            return None
        try:
            graph, team_id = self.graph, self.config.team_id
            if handle.conversation_type == "channel" and team_id:
                directory = await self._directory(TEAM_MEMBERS, lambda: graph.team_members(team_id))
            elif handle.conversation_type == "groupChat":
                directory = await self._directory(room_id, lambda: graph.chat_members(room_id))
            else:
                return None
        except ChatError:
            return None
        return await people.with_directory_ids(self.db, PLATFORM, directory)

    async def is_admin(self, user_id: str) -> bool:
        """Teams tells a bot of no admins: BREACHROOM_ADMINS names them."""
        return False

    async def group_members(self, group_id: str) -> set[str] | None:
        """Teams has no user groups a bot can be given in a command."""
        return None

    async def find_room(self, name: str) -> RoomRef | None:
        """A channel war room is found by its name in the team; a group chat cannot be looked up with the
        application permissions Breachroom asks for, so its creation is not retried blindly either."""
        if self.config.war_room != "channel" or self.graph is None or not self.config.team_id:
            return None
        channel_id = await self.graph.find_channel(self.config.team_id, name)
        return RoomRef(id=channel_id, name=name) if channel_id else None

    async def find_message(self, room_id: str, text: str) -> str | None:
        """A bot cannot read a chat's messages without Graph permissions Breachroom does not ask for."""
        return None

    async def invite(self, room_id: str, user_ids: list[str]) -> None:
        """Add whoever is not yet in the chat; a channel is open to its team and a 1:1 chat to its person."""
        handle = await self.handle_of(room_id)
        if handle.conversation_type != "groupChat" or self.graph is None:
            return
        directory = await self.directory_ids(handle, user_ids)
        missing = [u for u in user_ids if u not in directory]
        present = set(await self.graph.chat_members(room_id))
        try:
            for user_id in user_ids:
                if user_id in directory and directory[user_id] not in present:
                    await self.graph.add_chat_member(room_id, directory[user_id])
        finally:
            self.forget_room(room_id)  # added (some, at least): they count at once
        if missing:
            raise ChatError("unknown_person", "invite", advice=(
                "Teams did not tell me who they are: add them to the chat by hand (Add people, at the top)."))

    async def set_topic(self, room_id: str, text: str) -> None:
        """A chat's topic is its title, set once; a channel shows the status in its description."""
        handle = await self.handle_of(room_id)
        if handle.conversation_type == "channel" and self.graph is not None and self.config.team_id:
            await self.graph.set_channel_description(self.config.team_id, room_id, render.plain(text))

    async def _ready(self, room_id: str) -> None:
        install = self._installs.get(room_id)
        if install is not None:
            await install  # its ChatError (a permission to grant) is the answer

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        """Cards packed into as few messages as fit; a chat made a moment ago is given time to accept them."""
        handle = await self.handle_of(room_id)
        try:
            await self._ready(room_id)
        except ChatError as exc:
            raise ChatError(exc.code, "checklist", exc.advice) from None
        names = await self.names(cards)
        ids: list[str] = []
        for group in render.pack(cards, names=names):
            content = render.card([cards[i] for i in group], names=names)
            message_id = await self._post_when_ready(handle, card_message(content))
            ids += [message_id] * len(group)
        return ids

    async def _post_when_ready(self, handle: Handle, activity: Activity) -> str:
        waited, pause = 0.0, 0.25
        while True:
            try:
                return await self.send(handle, activity, "post")
            except ChatError as exc:
                if exc.code not in NOT_READY or waited >= self.ready_wait:
                    raise
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 5.0)

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None:
        handle = await self.handle_of(room_id)
        await self.replace(handle, message_id, await self.content(cards))

    async def pin(self, room_id: str, message_id: str) -> None:
        """Bots cannot pin in Teams; the checklist is the chat's first message and every answer links it."""

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        """A card with a signed, expiring download link per file (Graph cannot upload into a chat for a bot)."""
        handle = await self.handle_of(room_id)
        incident_id = await people.incident_of_room(self.db, PLATFORM, room_id)
        base = self.config.public_url or ""
        tokens, lines = [], []
        for file in files:
            token = await downloads.publish(self.db, incident_id=incident_id, filename=file.filename,
                                            content=file.content, now=self.clock())
            tokens.append(token)
            lines.append(f"• [{file.filename}]({downloads.link(base, token)})")
        card = Card(fallback=comment, parts=(Text(comment), Text("\n".join(lines)),
                                             Context("Download links work for 7 days.")))
        await self.send(handle, card_message(await self.content([card])), "upload")
        return [token.split(".", 1)[0] for token in tokens]
