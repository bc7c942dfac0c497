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

from bot.core import Invocation
from bot.domain import Actor

PLATFORM = "teams"
PERSONAL = "personal"
_LEADING_BREACH = re.compile(r"^breach\b\s*", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


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
        aad_object_id=sender.get("aadObjectId"),
    )


def neutral_text(activity: dict[str, Any]) -> str:
    """The typed text in neutral markup: the bot's own mention removed, other mentions as `@{id}`."""
    text = str(activity.get("text") or "")
    bot_id = _dict(activity.get("recipient")).get("id")
    for entity in activity.get("entities") or []:
        entity = _dict(entity)
        mentioned = _dict(entity.get("mentioned"))
        shown, who = entity.get("text"), mentioned.get("id")
        if entity.get("type") != "mention" or not shown or not who:
            continue
        text = text.replace(str(shown), " " if who == bot_id else f"@{{{who}}}")
    text = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ")
    return " ".join(text.split())


def mentioned(activity: dict[str, Any]) -> dict[str, str]:
    """People mentioned in the text (not the bot), by id, with the name Teams showed."""
    bot_id = _dict(activity.get("recipient")).get("id")
    found: dict[str, str] = {}
    for entity in activity.get("entities") or []:
        mentioned = _dict(_dict(entity).get("mentioned"))
        who = mentioned.get("id")
        if _dict(entity).get("type") == "mention" and who and who != bot_id:
            found[str(who)] = str(mentioned.get("name") or "")
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


def is_card_submit(activity: dict[str, Any]) -> bool:
    """An `Action.Submit` press arrives as a message with `value` and usually no text."""
    return isinstance(activity.get("value"), dict) and not str(activity.get("text") or "").strip()
