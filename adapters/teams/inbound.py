"""Teams activities (raw JSON, as received) to neutral values: who asked, where, and what they typed.

The raw JSON is read rather than botbuilder's `Activity`, whose models drop the `mentioned` account of a
mention entity and the conversation's `tenantId`.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.cards import Mentions, literal, mention
from bot.core import Invocation
from bot.domain import Actor

PLATFORM = "teams"
PERSONAL = "personal"
CARD_ACTION = "adaptiveCard/action"
# Deeper JSON than any activity Teams sends: refused before it is walked.
MAX_DEPTH = 32
_LEADING_BREACH = re.compile(r"^breach\b\s*", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
# Conversation ids (a team, a channel, a chat: `19:…`) are what a mention of everyone in it names.
_CONVERSATION_ID = re.compile(r"^19:")
_PEOPLE = ("person", "user")


@dataclass(frozen=True)
class Handle:
    """Where to answer one person: the conversation they wrote in, and how to reach it again.

    It travels as `Invocation.reply_handle` (and may be stored with an incident), so it is plain JSON.
    """

    service_url: str
    conversation_id: str
    conversation_type: str
    tenant_id: str
    channel_id: str
    bot_id: str
    user_id: str
    aad_object_id: str | None = None

    @property
    def personal(self) -> bool:
        return self.conversation_type == PERSONAL

    def room(self) -> Handle:
        """The conversation alone, without the person who wrote in it (to reach the room again later)."""
        return replace(self, user_id="", aad_object_id=None)

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None) -> Handle | None:
        if not raw:
            return None
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError):
            return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def clean(value: Any) -> Any:
    """The activity with NUL characters removed from every text and key (PostgreSQL cannot store them).

    Call it on an activity that passed `problem`, whose depth is bounded.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def _too_deep(value: Any) -> bool:
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return False


def _strings(value: Any, *keys: str) -> bool:
    """`value` is absent, or an object whose `keys` are each absent, null or a string."""
    if value is None:
        return True
    return isinstance(value, dict) and all(value.get(k) is None or isinstance(value[k], str) for k in keys)


def problem(raw: Any) -> str | None:
    """Why a parsed body is not an activity Breachroom reads, or None; botbuilder and the handlers trust the rest."""
    if not isinstance(raw, dict) or not raw.get("type") or not isinstance(raw["type"], str):
        return "not an activity"
    if _too_deep(raw):
        return "nested too deeply"
    if not (_strings(raw, "id", "text", "serviceUrl", "channelId", "replyToId", "name", "textFormat")
            and _strings(raw.get("from"), "id", "name", "aadObjectId")
            and _strings(raw.get("recipient"), "id", "name")
            and _strings(raw.get("conversation"), "id", "conversationType", "tenantId")
            and _strings(raw.get("channelData"))
            and _strings(_dict(raw.get("channelData")).get("tenant"), "id")):
        return "a malformed field"
    entities = raw.get("entities")
    if entities is not None and not (isinstance(entities, list) and all(isinstance(e, dict) for e in entities)):
        return "`entities` is not a list of objects"
    if raw["type"] == "invoke" and raw.get("name") == CARD_ACTION:
        value = raw.get("value")
        if not isinstance(value, dict) or not _strings(value.get("action")) or not _strings(
                _dict(value.get("action")).get("data")):
            return "a card action without its data"
    return None


def tenant_of(activity: dict[str, Any]) -> str:
    conversation = _dict(activity.get("conversation"))
    tenant = _dict(_dict(activity.get("channelData")).get("tenant"))
    return str(conversation.get("tenantId") or tenant.get("id") or "")


def handle_of(activity: dict[str, Any]) -> Handle:
    conversation = _dict(activity.get("conversation"))
    sender = _dict(activity.get("from"))
    return Handle(
        service_url=str(activity.get("serviceUrl") or ""),
        conversation_id=str(conversation.get("id") or ""),
        conversation_type=str(conversation.get("conversationType") or PERSONAL),
        tenant_id=tenant_of(activity),
        channel_id=str(activity.get("channelId") or "msteams"),
        bot_id=str(_dict(activity.get("recipient")).get("id") or ""),
        user_id=str(sender.get("id") or ""),
        aad_object_id=_str(sender.get("aadObjectId")) or None,
    )


def _person(entity: dict[str, Any]) -> str | None:
    """The id of the person a mention entity names; None for anything else (a tag, a channel, a team, a chat)."""
    mentioned = _dict(entity.get("mentioned"))
    who = mentioned.get("id")
    if entity.get("type") != "mention" or not who or not isinstance(who, str):
        return None
    kind = mentioned.get("type") or mentioned.get("mentionType") or "person"
    if kind not in _PEOPLE or _CONVERSATION_ID.match(who):
        return None
    return who


def _entities(activity: dict[str, Any]) -> list[dict[str, Any]]:
    entities = activity.get("entities")
    return [_dict(e) for e in entities] if isinstance(entities, list) else []


def neutral_text(activity: dict[str, Any]) -> str:
    """The typed text in neutral markup: the bot's own mention removed, people's mentions as `@{id}`.

    A mention of a tag, a channel, a team or a whole chat stays the words Teams showed (`@General`): text a person
    typed never notifies everyone when Breachroom repeats it; nor does typed text that only looks like neutral
    markup (`@{29:x}`): only Teams' own mention entities become mentions. NUL characters are removed.
    """
    text = _str(activity.get("text")).replace("\x00", "")
    bot_id = _dict(activity.get("recipient")).get("id")
    kept = Mentions()
    for entity in _entities(activity):
        shown = entity.get("text")
        shown = shown.replace("\x00", "") if isinstance(shown, str) else ""
        if entity.get("type") != "mention" or not shown:
            continue
        who = _person(entity)
        if who is None:
            words = " ".join(html.unescape(_TAG.sub(" ", shown)).split())
            text = text.replace(shown, f" @{words.lstrip('{')} " if words else " ")
        else:
            text = text.replace(shown, " " if who == bot_id else kept.keep(mention(who)))
    text = literal(html.unescape(_TAG.sub(" ", text)).replace("\xa0", " "))
    return " ".join(kept.restore(text).split())


def mentioned(activity: dict[str, Any]) -> dict[str, str]:
    """People mentioned in the text (not the bot), by id, with the name Teams showed."""
    bot_id = _dict(activity.get("recipient")).get("id")
    found: dict[str, str] = {}
    for entity in _entities(activity):
        who = _person(entity)
        if who and who != bot_id:
            found[who] = _str(_dict(entity.get("mentioned")).get("name"))
    return found


def command_text(activity: dict[str, Any]) -> str:
    """What follows the bot's name, with a leading `breach` dropped: `decision X` == `breach decision X`."""
    return _LEADING_BREACH.sub("", neutral_text(activity), count=1).strip()


def delivery_key(activity: dict[str, Any]) -> str | None:
    """Teams re-delivers an activity with the same id; ids are unique within a conversation."""
    activity_id = activity.get("id")
    if not activity_id:
        return None
    return f"{_dict(activity.get('conversation')).get('id', '')}|{activity_id}"


def invocation(activity: dict[str, Any]) -> Invocation:
    """A typed message as a command; empty text (or `breach` alone) asks for the declare form."""
    handle = handle_of(activity)
    return Invocation(
        actor=Actor(PLATFORM, handle.tenant_id, handle.user_id),
        channel_id=handle.conversation_id,
        text=command_text(activity),
        delivery_key=delivery_key(activity),
        reply_handle=handle.encode(),
    )


def members_changed(activity: dict[str, Any]) -> tuple[str, bool] | None:
    """(the conversation, whether it is a team's) when a `conversationUpdate` says people were added to it or
    removed from it; None for anything else. In a team, members join and leave the team, not one channel."""
    if activity.get("type") != "conversationUpdate" or not (activity.get("membersAdded")
                                                             or activity.get("membersRemoved")):
        return None
    conversation = _str(_dict(activity.get("conversation")).get("id"))
    team = bool(_dict(_dict(activity.get("channelData")).get("team")))
    return (conversation, team) if conversation else None


def is_card_submit(activity: dict[str, Any]) -> bool:
    """An `Action.Submit` press arrives as a message with `value` and usually no text."""
    return isinstance(activity.get("value"), dict) and not str(activity.get("text") or "").strip()
