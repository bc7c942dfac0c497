"""Neutral cards and forms drawn as Adaptive Cards 1.5 for Teams, within Teams' 28 KB message limit.

A mention in Teams is `<at>Name</at>` in the text plus a mention entity (id and name) in the card's
`msteams` property, so the caller passes display names (`names`, by user or room id); an id stands in
for a name it does not know. Every button is an `Action.Execute`, which the bot answers with the updated
card, falling back to an `Action.Submit` with the same data on clients without Universal Actions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
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

SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28 * 1024
# The activity around the card (ids, service URL, conversation, text) needs room too.
BUDGET = MAX_BYTES - 2048
MAX_TEXT = 3000
MAX_HEADER = 150
MAX_FACT_TITLE = 200
MAX_FACT = 2000
MAX_BUTTON = 75
MAX_LABEL = 500
MAX_OPTION = 200
ELLIPSIS = "…"
MORE = "… more in the war room export"
# Keys of the data every submit carries; the inputs' values are merged in beside them by field name.
RESERVED = frozenset({"action", "value", "zone", "fields"})
TIME_SUFFIX = ".time"
STYLES = {"primary": "positive", "danger": "destructive"}
# The neutral texts spell commands the Slack way; addressed to the bot in Teams they start with `breach`.
SLASH_COMMAND = re.compile(r"^/breach\b")
USER_NOTE = ("Teams offers no people picker in a bot's card without Microsoft Graph: "
             "type their work email address, the one they sign in with.")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_TOKEN = re.compile(r"([@#])\{([^{}\s]+)\}")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_SPAN = re.compile(r"[@#]\{[^{}\s]+\}|\[[^\]\n]+\]\(https?://[^)\s]+\)|`[^`\n]+`")
_AT_TAG = re.compile(r"<(/?at)>", re.IGNORECASE)


class People:
    """Who a card mentions: the `<at>` text shown for each id, and the entities Teams needs to notify them."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = names or {}
        self.shown: dict[str, str] = {}

    def name(self, some_id: str) -> str:
        """The display name for an id (the id when unknown), without anything that could end an `<at>` tag."""
        name = " ".join(re.sub(r"</?at>|[<>]", "", self.names.get(some_id) or some_id, flags=re.IGNORECASE).split())
        return name or some_id

    def mention(self, user_id: str) -> str:
        if user_id not in self.shown:
            name, taken, n = self.name(user_id), set(self.shown.values()), 2
            shown = name
            # Two people with one display name would share one `<at>` text, and Teams could notify the wrong one.
            while shown in taken:
                shown, n = f"{name} ({n})", n + 1
            self.shown[user_id] = shown
        return f"<at>{self.shown[user_id]}</at>"

    def room(self, room_id: str) -> str:
        # Bots cannot mention a channel or a chat in Teams: the room's name stands in.
        return f"**{self.name(room_id)}**"

    def entities(self, rendered: str) -> list[dict[str, Any]]:
        """Entities for the mentions still present in `rendered` (the serialised body, after any cut)."""
        found = []
        for user_id, shown in self.shown.items():
            tag = f"<at>{shown}</at>"
            if json.dumps(tag)[1:-1] in rendered:
                found.append({"type": "mention", "text": tag, "mentioned": {"id": user_id, "name": self.name(user_id)}})
        return found


def _command(code: str) -> str:
    return SLASH_COMMAND.sub("breach", code)


def text(markup: str, *, names: Mapping[str, str] | None = None, people: People | None = None) -> str:
    """Neutral markup to the markdown Teams draws in a TextBlock: `@{U1}` becomes `<at>Ann</at>`.

    >>> text("**Done** by @{29:a}", names={"29:a": "Ann"})
    '**Done** by <at>Ann</at>'
    """
    people = people or People(names)
    markup = _AT_TAG.sub(r"‹\1›", markup)  # a typed `<at>` must not look like a real mention
    markup = _CODE.sub(lambda m: f"**{_command(m.group(1))}**", markup)  # Teams cards have no code style
    markup = _TOKEN.sub(lambda m: people.mention(m[2]) if m[1] == "@" else people.room(m[2]), markup)
    # A single newline is a space in Teams' markdown; a blank line is a line break.
    return re.sub(r"\n+", "\n\n", markup)


def plain(markup: str, *, names: Mapping[str, str] | None = None) -> str:
    """Neutral markup to plain text (fallback text, notifications)."""
    people = People(names)
    markup = _CODE.sub(lambda m: _command(m.group(1)), markup)
    markup = re.sub(r"\*\*(.+?)\*\*", r"\1", markup, flags=re.S)
    markup = _LINK.sub(r"\1 (\2)", markup)
    return _TOKEN.sub(lambda m: people.name(m[2]), markup)


def clip(markup: str, limit: int) -> str:
    """Shorten neutral markup to about `limit` characters with an ellipsis, never cutting a mention or a link."""
    if len(markup) <= limit:
        return markup
    end = limit - 1
    for span in _SPAN.finditer(markup):
        if span.start() >= end:
            break
        if span.end() > end:
            end = span.start()
            break
    cut = markup[:end]
    if cut.count("**") % 2:
        cut += "**"
    return cut + ELLIPSIS


def _block(markup: str, people: People, limit: int = MAX_TEXT, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text(clip(markup, limit), people=people) or " ", "wrap": True, **style}


def _action(button: Button) -> dict[str, Any]:
    data = {"action": button.action, "value": button.value}
    return _execute(plain(button.label), button.action, data, STYLES.get(button.style or ""))


def _execute(title: str, verb: str, data: dict[str, Any], style: str | None) -> dict[str, Any]:
    title = clip(title, MAX_BUTTON)
    submit: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": data}
    execute: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    if style:
        submit["style"] = execute["style"] = style
    execute["fallback"] = submit
    return execute


def _row(row: ChecklistRow, people: People) -> dict[str, Any]:
    mark = "✅" if row.done else "⬜"
    items = [_block(f"{mark} {row.label}", people, isSubtle=row.done)]
    if row.detail:
        items.append(_block(row.detail, people, size="small", isSubtle=True, spacing="none"))
    columns: list[dict[str, Any]] = [{"type": "Column", "width": "stretch", "items": items}]
    if row.button is not None:
        columns.append({"type": "Column", "width": "auto", "verticalContentAlignment": "center",
                        "items": [{"type": "ActionSet", "actions": [_action(row.button)]}]})
    return {"type": "ColumnSet", "columns": columns}


def _elements(card: Card, people: People) -> list[tuple[dict[str, Any], bool]]:
    """Body elements of one card, each with whether it is a row of buttons (kept longest when cutting)."""
    out: list[tuple[dict[str, Any], bool]] = []
    separate = False
    for part in card.parts:
        if isinstance(part, Divider):
            separate = True
            continue
        buttons = False
        if isinstance(part, Header):
            element = _block(part.text, people, MAX_HEADER, size="large", weight="bolder", style="heading")
        elif isinstance(part, Text):
            element = _block(part.text, people)
        elif isinstance(part, Fields):
            element = {"type": "FactSet", "facts": [
                {"title": text(clip(k, MAX_FACT_TITLE), people=people), "value": text(clip(v, MAX_FACT), people=people)}
                for k, v in part.pairs]}
        elif isinstance(part, ChecklistRow):
            element = _row(part, people)
        elif isinstance(part, Buttons):
            element, buttons = {"type": "ActionSet", "actions": [_action(b) for b in part.buttons]}, True
        elif isinstance(part, Context):
            element = _block(part.text, people, size="small", isSubtle=True)
        else:
            continue
        if separate:
            element["separator"], separate = True, False
        out.append((element, buttons))
    return out


def _body(cards: Sequence[Card], people: People) -> list[tuple[dict[str, Any], bool]]:
    body: list[tuple[dict[str, Any], bool]] = []
    for card in cards:
        elements = _elements(card, people)
        if body and elements:
            elements[0][0].setdefault("spacing", "large")
        body += elements
    return body


def _shell(fallback: str, body: list[dict[str, Any]], entities: list[dict[str, Any]], names: Mapping[str, str] | None,
           **extra: Any) -> dict[str, Any]:
    msteams: dict[str, Any] = {"width": "Full"}
    if entities:
        msteams["entities"] = entities
    return {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": VERSION,
            "fallbackText": clip(plain(fallback, names=names), MAX_TEXT), "body": body, **extra, "msteams": msteams}


def size(content: Mapping[str, Any]) -> int:
    """Bytes of the card as it travels (JSON with ASCII escapes: the larger of the usual encodings)."""
    return len(json.dumps(content).encode())


def _costs(body: list[tuple[dict[str, Any], bool]], people: People) -> list[int]:
    """Bytes each element adds: itself, and the entity of each mention it is the first to show."""
    seen: set[str] = set()
    costs = []
    for element, _ in body:
        blob = json.dumps(element)
        cost = len(blob.encode()) + 2
        for entity in people.entities(blob):
            if entity["text"] not in seen:
                seen.add(entity["text"])
                cost += size(entity) + 2
        costs.append(cost)
    return costs


def _fit(body: list[tuple[dict[str, Any], bool]], costs: list[int], room: int) -> list[dict[str, Any]]:
    """Drop trailing rows until the body fits in `room` bytes, saying so in a last line; buttons go last."""
    total = sum(costs)
    if total <= room:
        return [element for element, _ in body]
    more = {"type": "TextBlock", "text": MORE, "wrap": True, "size": "small", "isSubtle": True}
    total += size(more) + 2
    keep = [True] * len(body)
    for spare_buttons in (True, False):
        for index in reversed(range(len(body))):
            if total <= room:
                break
            if keep[index] and not (spare_buttons and body[index][1]):
                keep[index], total = False, total - costs[index]
    cut = keep.index(False)
    kept = [element for (element, _), k in zip(body, keep, strict=True) if k]
    kept.insert(sum(keep[:cut]), more)
    return kept


def card(cards: Card | Sequence[Card], *, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One Adaptive Card (the attachment's `content`) holding `cards` in order, cut to fit Teams' limit.

    `names` maps user and room ids to display names, for mentions (`<at>Ann</at>` with its entity).
    """
    cards = [cards] if isinstance(cards, Card) else list(cards)
    fallback = cards[0].fallback if cards else ""
    people = People(names)
    body = _body(cards, people)
    costs = _costs(body, people)
    room = BUDGET - size(_shell(fallback, [], [], names)) - len(', "entities": []')
    while True:
        kept = _fit(body, costs, room)
        content = _shell(fallback, kept, people.entities(json.dumps(kept)), names)
        over = size(content) - BUDGET
        if over <= 0 or len(kept) <= 1:
            return content
        room -= over


def _uncut_size(cards: Sequence[Card], names: Mapping[str, str] | None) -> int:
    people = People(names)
    body = [element for element, _ in _body(cards, people)]
    return size(_shell(cards[0].fallback, body, people.entities(json.dumps(body)), names))


def pack(cards: Sequence[Card], *, names: Mapping[str, str] | None = None) -> list[list[int]]:
    """Group consecutive cards into as few Adaptive Cards as fit, uncut, within the size budget."""
    groups: list[list[int]] = []
    for index, one in enumerate(cards):
        if groups and _uncut_size([*(cards[i] for i in groups[-1]), one], names) <= BUDGET:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def attachment(content: Mapping[str, Any]) -> dict[str, Any]:
    """The Bot Framework attachment that carries an Adaptive Card."""
    return {"contentType": CONTENT_TYPE, "content": content}


# Forms: what Slack shows as a modal is, in Teams, a card of inputs with one submit button.


def _local(instant: str, zone: tzinfo) -> tuple[str, str] | None:
    try:
        moment = datetime.fromisoformat(instant)
    except ValueError:
        return None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return moment.date().isoformat(), moment.strftime("%H:%M")


def _number(value: object) -> float | int | None:
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _input(field: FormField, form: Form, people: People, zone: tzinfo, zone_name: str,
           submitted: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The input element(s) of one field, then its hint; what was `submitted` wins over the initial value."""
    base: dict[str, Any] = {"id": field.name, "label": clip(plain(field.label), MAX_LABEL)}
    if field.required:
        base |= {"isRequired": True, "errorMessage": f"Fill this in, then press {plain(form.submit)}."}
    if field.placeholder and field.kind != "datetime":
        base["placeholder"] = clip(plain(field.placeholder), MAX_OPTION)
    hints = [field.hint] if field.hint else []
    value = submitted.get(field.name) if submitted is not None else field.initial
    if field.kind in ("text", "multiline"):
        element = {"type": "Input.Text", **base}
        if field.kind == "multiline":
            element["isMultiline"] = True
        if field.max_length:
            element["maxLength"] = field.max_length
        if isinstance(value, str) and value:
            element["value"] = value[: field.max_length] if field.max_length else value
    elif field.kind in ("select", "multiselect"):
        if field.kind == "multiselect" and any("," in o.value for o in field.options):
            raise ValueError(f"{field.name}: a multi-select value cannot hold a comma (Teams joins them with commas)")
        known = [o.value for o in field.options]
        element = {"type": "Input.ChoiceSet", **base, "style": "compact",
                   "choices": [{"title": clip(plain(o.label), MAX_OPTION), "value": o.value} for o in field.options]}
        chosen = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
        chosen = [v for v in chosen if v in known]
        if field.kind == "multiselect":
            element["isMultiSelect"] = True
        if chosen:
            element["value"] = ",".join(chosen if field.kind == "multiselect" else chosen[:1])
    elif field.kind == "user":
        element = {"type": "Input.Text", **base, "style": "email", "regex": EMAIL.pattern,
                   "errorMessage": "Type their work email address, e.g. ann@example.com."}
        element.setdefault("placeholder", "name@yourcompany.com")
        if isinstance(value, str) and value:
            element["value"] = value
        hints.insert(0, USER_NOTE)
    elif field.kind == "datetime":
        if submitted is not None:
            day, clock = submitted.get(field.name), submitted.get(field.name + TIME_SUFFIX)
        else:
            day, clock = (_local(value, zone) if isinstance(value, str) else None) or (None, None)
        on_day = {"type": "Input.Date", **base}
        at_time = {"type": "Input.Time", "id": field.name + TIME_SUFFIX, "label": f"Time ({zone_name})"}
        if field.required:
            at_time |= {"isRequired": True, "errorMessage": base["errorMessage"]}
        if day:
            on_day["value"] = str(day)
        if clock:
            at_time["value"] = str(clock)
        element = {"type": "ColumnSet", "columns": [{"type": "Column", "width": "stretch", "items": [on_day]},
                                                    {"type": "Column", "width": "stretch", "items": [at_time]}]}
    elif field.kind == "date":
        element = {"type": "Input.Date", **base}
        if isinstance(value, str) and value:
            element["value"] = value[:10]
    else:
        element = {"type": "Input.Number", **base, "min": 0}
        number = _number(value) if value not in (None, "") else None
        if number is not None:
            element["value"] = number
    return [element] + [_block(h, people, size="small", isSubtle=True, spacing="small") for h in hints]


def form(
    form: Form,
    *,
    zone: str | None = None,
    submitted: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A form as a card of inputs (ids are the field names) with one submit button.

    `zone` (IANA name or `+02:00`) is the one date-and-time fields are typed in, and travels with the data.
    After a submit that needs fixing, pass what was `submitted` (the raw data) and the `errors` by field
    name: the card comes back with every value kept and each error under its field.
    """
    names = [f.name for f in form.fields]
    ids = names + [f.name + TIME_SUFFIX for f in form.fields if f.kind == "datetime"]
    if RESERVED & set(names) or len(set(ids)) != len(ids):
        raise ValueError(f"form {form.action}: field names must be unique and not one of {sorted(RESERVED)}")
    zone_name = zone or "UTC"
    tz = zone_of(zone_name)
    people = People(names)
    body: list[dict[str, Any]] = [_block(form.title, people, MAX_HEADER, size="large", weight="bolder",
                                         style="heading")]
    if form.intro:
        body.append(_block(form.intro, people))
    errors = dict(errors or {})
    for field in form.fields:
        body += _input(field, form, people, tz, zone_name, submitted)
        if field.name in errors:
            body.append(_block(errors.pop(field.name), people, size="small", color="attention", spacing="small"))
    if errors:  # an error about no field in particular goes on top, where it is seen
        body.insert(1, _block(" ".join(errors.values()), people, color="attention"))
    data = {"action": form.action, "value": form.value, "zone": zone_name,
            "fields": {f.name: f.kind for f in form.fields}}
    submit = _execute(plain(form.submit), form.action, data, "positive")
    return _shell(form.title, body, people.entities(json.dumps(body)), names, actions=[submit])


def _instant(day: object, clock: object, zone: tzinfo) -> str | None:
    if not day and not clock:
        return None
    if not day or not clock:
        raise ValueError("Give both the date and the time, or leave both empty.")
    try:
        moment = datetime.combine(date.fromisoformat(str(day)[:10]), time.fromisoformat(str(clock)), tzinfo=zone)
    except ValueError:
        raise ValueError("Choose a date and a time.") from None
    return moment.astimezone(UTC).isoformat()


def _plain_value(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def form_values(data: Mapping[str, Any]) -> dict[str, object]:
    """A submitted form's data, by field name, as neutral values: what `adapters.slack.render.form_values` gives.

    Times come back as ISO 8601 in UTC (read in the zone the card sent, else UTC), multi-selects as lists,
    numbers as their digits, empty inputs as None. What the card cannot check itself (a date without its
    time, an email that is not one) raises FormErrors, like a use case does.
    """
    kinds = data.get("fields")
    if not isinstance(kinds, Mapping):
        return {}
    try:
        zone = zone_of(str(data.get("zone") or ""))
    except ValueError:
        zone = UTC
    out: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, kind in kinds.items():
        raw = data.get(name)
        if kind == "multiselect":
            chosen = raw if isinstance(raw, list) else str(raw or "").split(",")
            out[name] = [str(v).strip() for v in chosen if str(v).strip()]
        elif kind == "datetime":
            try:
                out[name] = _instant(raw, data.get(name + TIME_SUFFIX), zone)
            except ValueError as exc:
                errors[name] = str(exc)
        elif kind == "date":
            out[name] = _plain_value(raw)
            if out[name]:
                try:
                    out[name] = date.fromisoformat(str(raw)[:10]).isoformat()
                except ValueError:
                    errors[name] = "Choose a date."
        elif kind == "number":
            number = _number(raw) if raw not in (None, "") else None
            out[name] = str(number) if number is not None else _plain_value(raw)
        elif kind == "user":
            out[name] = _plain_value(str(raw).strip()) if raw is not None else None
            if out[name] and not EMAIL.match(str(out[name])):
                errors[name] = "Type their work email address, e.g. ann@example.com."
        else:
            out[name] = _plain_value(raw)
    if errors:
        raise FormErrors(errors)
    return out
