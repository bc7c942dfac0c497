"""Slack payloads to neutral values: who acted, where, and what they typed."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.cards import Mentions, literal, mention, room
from bot.core import Invocation
from bot.domain import Actor

PLATFORM = "slack"
# Interactivity payloads Breachroom answers; their shapes are checked before Bolt reads them (see `problem`).
ANSWERED = ("block_actions", "view_submission", "view_closed")
# The events Breachroom subscribes to (manifest.yml): a channel's members changed.
MEMBERSHIP_EVENTS = ("member_joined_channel", "member_left_channel")
_SUBTEAM = re.compile(r"<!subteam\^([^|>]+)\|([^>]*)>")
_COMMAND_NAME = re.compile(r"^/[^\s<>&|]{1,64}$")


def clean(text: str) -> str:
    """NUL characters removed: PostgreSQL cannot store them, and no one types them on purpose."""
    return text.replace("\x00", "")


def neutral_text(text: str) -> str:
    """Slack's escaped text to neutral markup: `<@U1|ann>` → `@{U1}`, `&lt;` → `<`, links kept.

    Broadcast mentions (`<!channel>`, `<!here>`, `<!everyone>`) and user-group mentions (`<!subteam^S1|@team>`)
    become the plain words Slack showed (`@channel`, `@team`): text typed by a person never notifies a whole
    channel or group when Breachroom repeats it. What only looks like neutral markup (`@{U1}` typed, or sent as
    `&#64;{U1}`) stays words: only Slack's own mentions become mentions.
    """
    text = clean(text)
    kept = Mentions()
    text = re.sub(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", lambda m: kept.keep(mention(m[1])), text)
    text = re.sub(r"<#([A-Z0-9]+)(?:\|[^>]*)?>", lambda m: kept.keep(room(m[1])), text)
    text = re.sub(r"<!subteam\^[^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<!(here|channel|everyone)(?:\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"[\2](\1)", text)
    text = re.sub(r"<(mailto:|tel:)?([^|>]+)(?:\|[^>]*)?>", r"\2", text)
    return kept.restore(literal(html.unescape(text)))


def _str(value: Any) -> str:
    return clean(value) if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def slash_command(body: dict[str, Any]) -> Invocation:
    return Invocation(
        actor=Actor(PLATFORM, _str(body.get("team_id")), _str(body.get("user_id"))),
        channel_id=_str(body.get("channel_id")),
        text=neutral_text(_str(body.get("text"))),
        delivery_key=_str(body.get("trigger_id")) or None,
        reply_handle=_str(body.get("response_url")) or None,
        groups=groups(_str(body.get("text"))),
    )


def groups(text: str) -> tuple[tuple[str, str], ...]:
    """The user groups mentioned in escaped text: (the words `neutral_text` leaves for each, its id)."""
    return tuple((literal(clean(html.unescape(label))), group_id) for group_id, label in _SUBTEAM.findall(text))


def actor_of(body: dict[str, Any]) -> Actor:
    """The person behind a block action or view submission."""
    user = _dict(body.get("user"))
    team = _str(_dict(body.get("team")).get("id")) or _str(user.get("team_id"))
    return Actor(PLATFORM, team, _str(user.get("id")))


def action(body: dict[str, Any]) -> tuple[str, str]:
    """(action name, value) of the pressed button, with our uniqueness suffix removed."""
    actions = body.get("actions")
    pressed = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    return _str(pressed.get("action_id")).split("#", 1)[0], _str(pressed.get("value"))


def channel_of(body: dict[str, Any]) -> str | None:
    return _str(_dict(body.get("channel")).get("id")) or _str(_dict(body.get("container")).get("channel_id")) or None


# Shapes. Bolt assumes Slack's shapes while it matches a request to a listener: a `view` without a `type`, an
# `actions` that is not a list, a `user` that is a string… each raises inside Bolt, which answers HTTP 500. What
# Breachroom answers is checked here first; what fails is not a request from Slack, and gets a 400.


def _strings(value: Any, *keys: str) -> bool:
    """Each of `keys` in the dict `value` is absent, null or a string."""
    return isinstance(value, dict) and all(value.get(k) is None or isinstance(value[k], str) for k in keys)


def _block_actions(body: dict[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "`actions` is not a list of actions"
    for pressed in actions:
        if not _strings(pressed, "action_id", "block_id", "value", "type", "action_ts") or not isinstance(
                pressed.get("action_id"), str):
            return "an action without an `action_id`"
    if not all(body.get(k) is None or _strings(body[k], "id", "channel_id", "message_ts", "type", "ts")
               for k in ("container", "channel", "message")):
        return "a malformed `container`, `channel` or `message`"
    return None


def _view(body: dict[str, Any]) -> str | None:
    view = body.get("view")
    if not _strings(view, "id", "type", "callback_id", "private_metadata", "hash") or not (
            isinstance(view.get("callback_id"), str) and isinstance(view.get("type"), str)):
        return "`view` without a `callback_id` and a `type`"
    state = view.get("state")
    if state is None:
        return None
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(
            isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
            for block in values.values()):
        return "a malformed `view.state`"
    return None


def _event(body: dict[str, Any]) -> str | None:
    """An Events API delivery: only the membership events Breachroom subscribes to, in the shapes Slack sends."""
    event = body.get("event")
    if not _strings(event, "type", "user", "channel", "channel_type", "team", "inviter", "event_ts") \
            or event.get("type") not in MEMBERSHIP_EVENTS:
        return "not an event Breachroom subscribes to"
    if not _strings(body, "token", "team_id", "api_app_id", "event_id", "enterprise_id", "event_context"):
        return "a malformed field"
    authorizations = body.get("authorizations")
    if authorizations is not None and not (isinstance(authorizations, list) and all(
            _strings(a, "team_id", "user_id", "enterprise_id") for a in authorizations)):
        return "malformed `authorizations`"
    return None


def problem(body: Any) -> str | None:
    """Why a parsed request body is not a Slack request that Breachroom answers, or None."""
    if not isinstance(body, dict):
        return "not an object"
    if "ssl_check" in body or "command" in body:
        # A form: every value is a string when it comes from a form, not always when it comes as JSON.
        if not all(isinstance(v, str) for v in body.values()):
            return "a form value that is not text"
        if "command" in body and not _COMMAND_NAME.match(body["command"]):
            return "not a slash command's name"
        return None
    kind = body.get("type")
    if kind == "url_verification":
        return None if _strings(body, "token", "challenge") else "a malformed URL verification"
    if kind == "event_callback":
        return _event(body)
    if kind not in ANSWERED:
        return "not a kind of request Breachroom answers"
    if not _strings(body, "trigger_id", "response_url", "api_app_id", "token", "enterprise_id"):
        return "a malformed field"
    if not (_strings(body.get("user"), "id", "team_id", "name", "username")
            and isinstance(body["user"].get("id"), str)):
        return "`user` without an `id`"
    team, enterprise = body.get("team"), body.get("enterprise")
    if not (team is None or _strings(team, "id", "domain", "enterprise_id")) or not (
            enterprise is None or isinstance(enterprise, str) or _strings(enterprise, "id", "name")):
        return "a malformed `team` or `enterprise`"
    if any(body.get(k) is not None for k in ("authorizations", "event", "function_execution_id", "function_data")):
        return "fields of another kind of request"
    return _block_actions(body) if kind == "block_actions" else _view(body)
