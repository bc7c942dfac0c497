"""Neutral cards and forms drawn as Block Kit, within Slack's limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.cards import (
    Button,
    Buttons,
    Card,
    ChecklistRow,
    Context,
    Divider,
    Fields,
    Form,
    FormField,
    Header,
    Text,
)

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_TOPIC = 250
# Slack rejects a message whose blocks hold much more than ~13k characters (msg_blocks_too_long);
# leave room for the "Done by" lines a checklist grows as people press its buttons.
MAX_MESSAGE_CHARS = 10_000
ELLIPSIS = "…"


def mrkdwn(text: str) -> str:
    """Neutral markup to Slack mrkdwn, with &, < and > escaped as Slack asks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text, flags=re.S)
    text = re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", text)
    text = re.sub(r"@\{([A-Za-z0-9_.-]+)\}", r"<@\1>", text)
    return re.sub(r"#\{([A-Za-z0-9_.-]+)\}", r"<#\1>", text)


def plain(text: str) -> str:
    """Neutral markup to plain text (headers, titles, notifications)."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text, flags=re.S)
    text = re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)", r"\1 (\2)", text)
    return re.sub(r"[@#]\{([A-Za-z0-9_.-]+)\}", r"\1", text)


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis, never leaving half a `<…>` token."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    opening, closing = cut.rfind("<"), cut.rfind(">")
    if opening > closing:
        cut = cut[:opening]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def _md(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(mrkdwn(text), limit) or " "}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(plain(text), limit) or " ", "emoji": True}


def _button(button: Button, index: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": _plain(button.label, MAX_BUTTON),
        # action_ids must be unique within a message; the suffix is dropped on the way back in.
        "action_id": f"{button.action}#{index}",
        "value": button.value[:2000],
    }
    if button.style:
        element["style"] = button.style
    return element


def card_blocks(card: Card, start: int = 0) -> list[dict[str, Any]]:
    """Blocks for one card; `start` keeps action ids unique when cards share a message."""
    blocks: list[dict[str, Any]] = []
    counter = start
    for part in card.parts:
        if isinstance(part, Header):
            blocks.append({"type": "header", "text": _plain(part.text, MAX_HEADER)})
        elif isinstance(part, Text):
            blocks.append({"type": "section", "text": _md(part.text)})
        elif isinstance(part, Fields):
            for at in range(0, len(part.pairs), 10):
                chunk = part.pairs[at : at + 10]
                blocks.append({"type": "section", "fields": [_md(f"**{k}**\n{v}", MAX_FIELD) for k, v in chunk]})
        elif isinstance(part, ChecklistRow):
            mark = ":white_check_mark:" if part.done else ":white_large_square:"
            label = clip(mrkdwn(part.label), MAX_TEXT - 400)
            text = f"{mark} ~{label}~" if part.done else f"{mark} {label}"
            if part.detail:
                text += f"\n_{mrkdwn(part.detail)}_"
            block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_TEXT)}}
            if part.button is not None:
                counter += 1
                block["accessory"] = _button(part.button, counter)
            blocks.append(block)
        elif isinstance(part, Buttons):
            elements = []
            for button in part.buttons[:25]:
                counter += 1
                elements.append(_button(button, counter))
            blocks.append({"type": "actions", "elements": elements})
        elif isinstance(part, Context):
            blocks.append({"type": "context", "elements": [_md(part.text)]})
        elif isinstance(part, Divider):
            blocks.append({"type": "divider"})
    return blocks


def _size(blocks: list[dict[str, Any]]) -> int:
    return sum(len(str(b)) for b in blocks)


def pack(cards: list[Card]) -> list[list[int]]:
    """Group consecutive cards into messages that stay within Slack's block and size limits."""
    groups: list[list[int]] = []
    blocks_in, size_in = 0, 0
    for index, card in enumerate(cards):
        blocks = card_blocks(card)
        if groups and blocks_in + len(blocks) <= MAX_BLOCKS and size_in + _size(blocks) <= MAX_MESSAGE_CHARS:
            groups[-1].append(index)
            blocks_in += len(blocks)
            size_in += _size(blocks)
        else:
            groups.append([index])
            blocks_in, size_in = len(blocks), _size(blocks)
    return groups


def message(cards: list[Card]) -> dict[str, Any]:
    """`text` and `blocks` for chat.postMessage / chat.update / a response URL."""
    blocks: list[dict[str, Any]] = []
    for card in cards:
        blocks += card_blocks(card, start=len(blocks))
    return {"text": clip(mrkdwn(cards[0].fallback), MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}


def topic(text: str) -> str:
    return clip(mrkdwn(text), MAX_TOPIC)


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label, 75), "value": value}


def _element(field: FormField) -> dict[str, Any]:
    name = field.name
    if field.kind in ("text", "multiline"):
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": name,
                                   "multiline": field.kind == "multiline"}
        if field.max_length:
            element["max_length"] = min(field.max_length, 3000)
        if isinstance(field.initial, str):
            element["initial_value"] = field.initial[: element.get("max_length", 3000)]
    elif field.kind in ("select", "multiselect"):
        labels = {o.value: o.label for o in field.options}
        element = {"type": "static_select" if field.kind == "select" else "multi_static_select",
                   "action_id": name, "options": [_option(o.value, o.label) for o in field.options]}
        if isinstance(field.initial, str) and field.initial in labels:
            element["initial_option"] = _option(field.initial, labels[field.initial])
        elif isinstance(field.initial, tuple) and field.initial:
            element["initial_options"] = [_option(v, labels[v]) for v in field.initial if v in labels]
    elif field.kind == "user":
        element = {"type": "users_select", "action_id": name}
    elif field.kind == "datetime":
        element = {"type": "datetimepicker", "action_id": name}
        if isinstance(field.initial, str):
            element["initial_date_time"] = int(datetime.fromisoformat(field.initial).timestamp())
    elif field.kind == "date":
        element = {"type": "datepicker", "action_id": name}
        if isinstance(field.initial, str):
            element["initial_date"] = field.initial[:10]
    else:
        element = {"type": "number_input", "action_id": name, "is_decimal_allowed": False, "min_value": "0"}
        if isinstance(field.initial, str) and field.initial.isdigit():
            element["initial_value"] = field.initial
    if field.placeholder and field.kind != "datetime":
        element["placeholder"] = _plain(field.placeholder, 150)
    return element


def modal(form: Form) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if form.intro:
        blocks.append({"type": "section", "text": _md(form.intro)})
    for field in form.fields:
        block: dict[str, Any] = {"type": "input", "block_id": field.name, "label": _plain(field.label, 2000),
                                 "element": _element(field), "optional": not field.required}
        if field.hint:
            block["hint"] = _plain(field.hint, 2000)
        blocks.append(block)
    return {
        "type": "modal",
        "callback_id": form.action,
        "private_metadata": form.value[:3000],
        "title": _plain(form.title, 24),
        "submit": _plain(form.submit, 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks,
    }


def form_values(view: dict[str, Any]) -> dict[str, object]:
    """A submitted modal's state, by field name, as neutral values (ISO 8601 for times), NUL characters removed."""
    out: dict[str, object] = {}
    state = view.get("state") if isinstance(view.get("state"), dict) else {}
    values = state.get("values") if isinstance(state.get("values"), dict) else {}
    for block_id, actions in values.items():
        for element in (actions.values() if isinstance(actions, dict) else ()):
            if isinstance(element, dict):
                out[block_id] = _value(element)
    return out


def _text(value: object) -> str | None:
    return value.replace("\x00", "") if isinstance(value, str) else None


def _chosen(option: object) -> str | None:
    return _text(option.get("value")) if isinstance(option, dict) else None


def _value(state: dict[str, Any]) -> object:
    """One input's value; what is not of the type its kind gives reads as not given."""
    kind = state.get("type")
    if kind == "static_select":
        return _chosen(state.get("selected_option"))
    if kind == "multi_static_select":
        options = state.get("selected_options")
        return [v for v in map(_chosen, options if isinstance(options, list) else []) if v is not None]
    if kind == "users_select":
        return _text(state.get("selected_user"))
    if kind == "datepicker":
        return _text(state.get("selected_date"))
    if kind == "datetimepicker":
        stamp = state.get("selected_date_time")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float | str) or not stamp:
            return None
        try:
            return datetime.fromtimestamp(int(stamp), UTC).isoformat()
        except (ValueError, OverflowError, OSError):
            return None
    return _text(state.get("value"))
