"""Neutral cards as HTML for the local console, and forms as `<dialog>` forms; every text is escaped.

Buttons are real `<button>` elements carrying the action and value in data attributes; the page posts them
back. Names of people and rooms come from `names` (by id); an unknown id is shown as it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
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
    FormErrors,
    FormField,
    Header,
    Text,
)
from bot.zones import zone_of

_TOKEN = re.compile(r"([@#])\{([^{}\s]+)\}")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
_ITALIC = re.compile(r"(?<![\w*])_([^_\n]+)_(?!\w)")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|/)[^)\s]+)\)")


def text(markup: str, names: Mapping[str, str] | None = None) -> str:
    """Neutral markup as HTML: escaped first, then bold, italics, code, links, mentions and rooms.

    >>> text("**Done** by @{web-ann} <b>", {"web-ann": "Ann"})
    '<strong>Done</strong> by <span class="mention">@Ann</span> &lt;b&gt;'
    """
    names = names or {}
    out = html.escape(markup, quote=True)
    out = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    out = _LINK.sub(lambda m: f'<a href="{m.group(2)}" target="_blank" rel="noopener noreferrer">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)

    def token(m: re.Match[str]) -> str:
        name = html.escape(html.unescape(names.get(html.unescape(m[2]), m[2])))
        if m[1] == "@":
            return f'<span class="mention">@{name}</span>'
        return f'<a class="room-link" href="#" data-room="{m[2]}">#{name}</a>'

    out = _TOKEN.sub(token, out)
    return out.replace("\n", "<br>")


def plain(markup: str, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    out = _BOLD.sub(r"\1", markup)
    out = _LINK.sub(r"\1 (\2)", out)
    return _TOKEN.sub(lambda m: ("@" if m[1] == "@" else "#") + names.get(m[2], m[2]), out)


def _button(button: Button) -> str:
    style = f" {button.style}" if button.style else ""
    return (f'<button type="button" class="action{style}" data-action="{html.escape(button.action)}" '
            f'data-value="{html.escape(button.value)}">{html.escape(plain(button.label))}</button>')


def _part(part: object, names: Mapping[str, str]) -> str:
    if isinstance(part, Header):
        return f"<h3>{text(part.text, names)}</h3>"
    if isinstance(part, Text):
        return f"<p>{text(part.text, names)}</p>"
    if isinstance(part, Fields):
        rows = "".join(f"<dt>{text(k, names)}</dt><dd>{text(v, names)}</dd>" for k, v in part.pairs)
        return f"<dl>{rows}</dl>"
    if isinstance(part, ChecklistRow):
        mark = "✅" if part.done else "⬜"
        detail = f'<div class="detail">{text(part.detail, names)}</div>' if part.detail else ""
        button = _button(part.button) if part.button else ""
        state = "done" if part.done else "open"
        return (f'<div class="row {state}"><div class="label">{mark} {text(part.label, names)}{detail}</div>'
                f"{button}</div>")
    if isinstance(part, Buttons):
        return '<div class="buttons">' + "".join(_button(b) for b in part.buttons) + "</div>"
    if isinstance(part, Context):
        return f'<p class="context">{text(part.text, names)}</p>'
    if isinstance(part, Divider):
        return "<hr>"
    return ""


def cards(items: Sequence[Card], names: Mapping[str, str] | None = None) -> str:
    """Cards as one message's HTML, each in its own `<section class="card">`."""
    names = names or {}
    return "".join(f'<section class="card" data-key="{html.escape(c.key)}">'
                   + "".join(_part(p, names) for p in c.parts) + "</section>" for c in items)


def note(markup: str, names: Mapping[str, str] | None = None) -> str:
    """A plain chat line someone typed."""
    return f'<p class="typed">{text(markup, names)}</p>'


# Forms.


def _zone(name: str | None) -> tzinfo:
    """The form's zone; an unknown one is read as UTC (the page only sends zones the server gave it)."""
    try:
        return zone_of(name)
    except ValueError:
        return UTC


def _local(instant: str, zone: tzinfo) -> str:
    try:
        moment = datetime.fromisoformat(instant)
    except ValueError:
        return ""
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _input(field: FormField, zone: tzinfo, zone_name: str, people: Mapping[str, str]) -> str:
    name = html.escape(field.name)
    required = " required" if field.required else ""
    placeholder = f' placeholder="{html.escape(plain(field.placeholder))}"' if field.placeholder else ""
    initial = field.initial
    value = initial if isinstance(initial, str) else ""
    if field.kind == "text":
        limit = f' maxlength="{field.max_length}"' if field.max_length else ""
        return f'<input type="text" name="{name}" value="{html.escape(value)}"{limit}{placeholder}{required}>'
    if field.kind == "multiline":
        limit = f' maxlength="{field.max_length}"' if field.max_length else ""
        return f'<textarea name="{name}" rows="4"{limit}{placeholder}{required}>{html.escape(value)}</textarea>'
    if field.kind in ("select", "multiselect"):
        chosen = set(initial if isinstance(initial, tuple) else [value] if value else [])
        multiple = " multiple" if field.kind == "multiselect" else ""
        blank = "" if field.kind == "multiselect" or field.required else '<option value=""></option>'
        options = "".join(
            f'<option value="{html.escape(o.value)}"{" selected" if o.value in chosen else ""}>'
            f"{html.escape(plain(o.label))}</option>" for o in field.options)
        return f'<select name="{name}"{multiple}{required}>{blank}{options}</select>'
    if field.kind == "user":
        ordered = sorted(people.items(), key=lambda pair: pair[1])
        options = "".join(f'<option value="{html.escape(uid)}"{" selected" if uid == value else ""}>'
                          f"{html.escape(person)}</option>" for uid, person in ordered)
        return f'<select name="{name}"{required}><option value=""></option>{options}</select>'
    if field.kind == "datetime":
        local = _local(value, zone) if value else ""
        return (f'<input type="datetime-local" name="{name}" value="{local}"{required}> '
                f'<span class="zone">{html.escape(zone_name)}</span>')
    if field.kind == "date":
        return f'<input type="date" name="{name}" value="{html.escape(value[:10])}"{required}>'
    return f'<input type="number" name="{name}" min="0" value="{html.escape(value)}"{required}>'


def form(form: Form, *, zone: str | None = None, people: Mapping[str, str] | None = None,
         names: Mapping[str, str] | None = None) -> str:
    """A form as the inside of a `<dialog>`: one labelled input per field, an error slot under each."""
    zone_name = zone or "UTC"
    tz = _zone(zone_name)
    body = [f"<h3>{text(form.title, names)}</h3>"]
    if form.intro:
        body.append(f"<p>{text(form.intro, names)}</p>")
    for field in form.fields:
        hint = f'<small class="hint">{text(field.hint, names)}</small>' if field.hint else ""
        body.append(f'<label class="field" data-field="{html.escape(field.name)}">'
                    f"<span>{text(field.label, names)}</span>{_input(field, tz, zone_name, people or {})}"
                    f'{hint}<small class="error" data-error-for="{html.escape(field.name)}"></small></label>')
    kinds = ",".join(f"{f.name}:{f.kind}" for f in form.fields)
    body.append(f'<input type="hidden" name="__action" value="{html.escape(form.action)}">'
                f'<input type="hidden" name="__value" value="{html.escape(form.value)}">'
                f'<input type="hidden" name="__zone" value="{html.escape(zone_name)}">'
                f'<input type="hidden" name="__kinds" value="{html.escape(kinds)}">'
                '<small class="error" data-error-for="__form"></small>'
                '<menu><button type="button" value="cancel" class="cancel">Cancel</button>'
                f'<button type="submit" class="primary">{html.escape(plain(form.submit))}</button></menu>')
    return f'<form method="dialog" class="form">{"".join(body)}</form>'


def form_values(data: Mapping[str, Any]) -> dict[str, object]:
    """Posted form data (field name → value or list of values) as neutral values, like Slack's.

    Date-and-time inputs are read in the form's zone and given as ISO 8601 in UTC.
    """
    kinds = dict(pair.split(":", 1) for pair in str(data.get("__kinds") or "").split(",") if ":" in pair)
    zone = _zone(str(data.get("__zone") or ""))
    out: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, kind in kinds.items():
        raw = data.get(name)
        if kind == "multiselect":
            values = raw if isinstance(raw, list) else [raw] if raw else []
            out[name] = [str(v) for v in values if str(v).strip()]
            continue
        value = (raw[0] if isinstance(raw, list) and raw else raw) or None
        value = str(value).strip() if value is not None else None
        if kind == "datetime" and value:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                errors[name] = "Choose a date and a time."
                continue
            value = moment.replace(tzinfo=zone).astimezone(UTC).isoformat()
        out[name] = value or None
    if errors:
        raise FormErrors(errors)
    return out
