"""Slack payloads to neutral values: who acted, where, and what they typed."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.core import Invocation
from bot.domain import Actor

PLATFORM = "slack"


def neutral_text(text: str) -> str:
    """Slack's escaped text to neutral markup: `<@U1|ann>` → `@{U1}`, `&lt;` → `<`, links kept."""
    text = re.sub(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", r"@{\1}", text)
    text = re.sub(r"<#([A-Z0-9]+)(?:\|[^>]*)?>", r"#{\1}", text)
    text = re.sub(r"<!subteam\^[A-Z0-9]+\|([^>]*)>", r"\1", text)
    text = re.sub(r"<!(here|channel|everyone)(?:\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"[\2](\1)", text)
    text = re.sub(r"<(mailto:|tel:)?([^|>]+)(?:\|[^>]*)?>", r"\2", text)
    return html.unescape(text)


def slash_command(body: dict[str, Any]) -> Invocation:
    return Invocation(
        actor=Actor(PLATFORM, body.get("team_id", ""), body.get("user_id", "")),
        channel_id=body.get("channel_id", ""),
        text=neutral_text(body.get("text") or ""),
        delivery_key=body.get("trigger_id"),
        reply_handle=body.get("response_url"),
    )


def actor_of(body: dict[str, Any]) -> Actor:
    """The person behind a block action or view submission."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id", "")
    return Actor(PLATFORM, team, user.get("id", ""))


def action(body: dict[str, Any]) -> tuple[str, str]:
    """(action name, value) of the pressed button, with our uniqueness suffix removed."""
    pressed = (body.get("actions") or [{}])[0]
    return pressed.get("action_id", "").split("#", 1)[0], pressed.get("value", "")


def channel_of(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
