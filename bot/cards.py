"""The neutral card and form: what the bot shows, without saying how a platform draws it.

Text uses a small markup every adapter understands: `**bold**`, `_italic_`, `[label](url)`,
`@{USER_ID}` for a person and `#{ROOM_ID}` for a room. Adapters turn a platform's mentions into
these tokens on the way in, so what a person typed keeps its mentions on every platform; what a person typed
that merely looks like a token goes through `literal` first, so it stays words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# Between `@` or `#` and `{`, an invisible character that keeps the pair from starting a token.
WORD_JOINER = "\u2060"
_TOKEN_START = re.compile(r"([@#])\{")


def literal(typed: str) -> str:
    """Text a person typed, as markup that shows it as typed: a `@{U1}` or `#{C1}` in it names nobody.

    Only the platforms' own mentions (Slack's `<@U1>`, a Teams mention entity, a person picked on the console)
    may become `@{…}`: without this, typing `@{U1}` would notify U1, or name them where a command wants a person.
    Every renderer reads the result unchanged; the joiner shows as nothing.

    >>> literal("mail @{U1} now") == "mail @\u2060{U1} now"
    True
    """
    return _TOKEN_START.sub(rf"\1{WORD_JOINER}{{", typed)


class Mentions:
    """The mentions a platform made in a text, set aside while the words around them are unescaped and made
    `literal`, then put back. The text must hold no NUL (adapters remove them on the way in): a mention set
    aside waits as its index between two NULs.

    >>> kept = Mentions()
    >>> kept.restore(literal(f"{kept.keep(mention('U1'))} typed @{{U2}}")) == "@{U1} typed @\u2060{U2}"
    True
    """

    _KEPT = re.compile(r"\x00([0-9]+)\x00")

    def __init__(self) -> None:
        self._tokens: list[str] = []

    def keep(self, token: str) -> str:
        self._tokens.append(token)
        return f"\x00{len(self._tokens) - 1}\x00"

    def restore(self, text: str) -> str:
        """`text` with each mention back in its place (a broken place holder is dropped, never guessed)."""

        def back(kept: re.Match[str]) -> str:
            index = int(kept[1])
            return self._tokens[index] if index < len(self._tokens) else ""

        return self._KEPT.sub(back, text).replace("\x00", "")


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
