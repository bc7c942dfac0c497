"""The neutral card and form: what the bot shows, without saying how a platform draws it.

Text uses a small markup every adapter understands: `**bold**`, `_italic_`, `[label](url)`,
`@{USER_ID}` for a person and `#{ROOM_ID}` for a room. Adapters turn a platform's mentions into
these tokens on the way in, so what a person typed keeps its mentions on every platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


def mention(user_id: str) -> str:
    return f"@{{{user_id}}}"


def room(room_id: str) -> str:
    return f"#{{{room_id}}}"


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    value: str
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Header:
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Fields:
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ChecklistRow:
    label: str
    done: bool
    detail: str | None
    button: Button | None


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class Context:
    text: str


@dataclass(frozen=True)
class Divider:
    pass


Part = Header | Text | Fields | ChecklistRow | Buttons | Context | Divider


@dataclass(frozen=True)
class Card:
    """A message. `fallback` is the one line shown in notifications and to screen readers."""

    fallback: str
    parts: tuple[Part, ...]
    key: str = ""


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: Literal["text", "multiline", "select", "multiselect", "user", "datetime", "date", "number"]
    required: bool = True
    options: tuple[Option, ...] = ()
    initial: str | tuple[str, ...] | None = None
    placeholder: str | None = None
    max_length: int | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Form:
    """A dialog: `action` names what submitting does, `value` carries its context back."""

    title: str
    submit: str
    action: str
    fields: tuple[FormField, ...]
    value: str = ""
    intro: str | None = None


@dataclass
class FormErrors(Exception):
    """Submitted values that need fixing, by field name, shown next to the fields."""

    errors: dict[str, str] = field(default_factory=dict)
