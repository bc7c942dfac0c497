"""What the text after `/breach` means: a sub-command and its argument, or a breach summary."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SUBCOMMANDS = (
    "help",
    "declare",
    "responder",
    "backup",
    "decision",
    "status",
    "notice",
    "close",
    "reopen",
    "announce",
    "clock",
    "timezone",
    "drill",
    "declarers",
    "invite",
)
# Sub-commands that only answer that they are coming in a later version (none at present).
COMING_LATER: frozenset[str] = frozenset()

# Ids are opaque: Slack's `U123`, Teams' `29:1a…` or `19:…@thread.v2`.
_MENTION = re.compile(r"^@\{([^{}\s]+)\}$")
_CHANNEL = re.compile(r"^#\{([^{}\s]+)\}$")


@dataclass(frozen=True)
class Parsed:
    """`name` is a sub-command; `declare` with an empty `arg` means "open the declare form"."""

    name: str
    arg: str


def parse(text: str) -> Parsed:
    """Split command text; any first word that is not a sub-command starts a summary.

    >>> parse("Decision take the server offline")
    Parsed(name='decision', arg='take the server offline')
    >>> parse("laptop stolen from the car")
    Parsed(name='declare', arg='laptop stolen from the car')
    """
    text = text.strip()
    first, _, rest = text.partition(" ")
    word = first.lower()
    if word in SUBCOMMANDS:
        return Parsed(word, rest.strip())
    return Parsed("declare", text)


def person(arg: str) -> str | None:
    """The user id when the argument is exactly one mention, else None."""
    match = _MENTION.match(arg.strip())
    return match.group(1) if match else None


def channel(arg: str) -> str | None:
    """The channel id when the argument is exactly one channel reference, else None."""
    match = _CHANNEL.match(arg.strip())
    return match.group(1) if match else None


def room_slug(summary: str, limit: int = 40) -> str:
    """Lowercase ASCII letters, digits and single hyphens from a summary; `incident` if none.

    >>> room_slug("Ransomware on the Café's file server!")
    'ransomware-on-the-cafe-s-file-server'
    """
    ascii_text = unicodedata.normalize("NFKD", summary).encode("ascii", "ignore").decode().lower()
    ascii_text = re.sub(r"@\{[^}]*\}|#\{[^}]*\}", " ", ascii_text)
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if len(slug) > limit:
        cut = slug[:limit]
        # Prefer ending on a whole word when that keeps most of the name.
        if slug[limit] != "-" and cut.rfind("-") >= limit // 2:
            cut = cut[: cut.rfind("-")]
        slug = cut.strip("-")
    return slug or "incident"
