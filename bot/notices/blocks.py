"""How the letter's Markdown is read: headings, paragraphs, bullets and bold runs, for every writer.

`word.markdown_to_docx`, the fast Word writer of a mail merge and the plain-text body of the emails all read
the letter through this module, so they cannot disagree: a blank line ends a block, lines in between join with
a space, a bullet indented by two spaces or more is a second-level one, and a line that is not a bullet
continues the bullet before it.

Since every blank line ends a block and resets the style, the text between blank lines (a *part*) reads the
same alone as in the whole letter. The letters of one merge share all their parts but the few that name the
client, so each part is parsed once and the writers keep what they make of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

HEADING = re.compile(r"^(#{1,3})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^( *)[-*+]\s+(.*)$")
_INLINE = re.compile(r"\\([^\w\s])|(\*\*)|([^\\*]+|[\\*])")


def runs(text: str) -> list[tuple[str, bool]]:
    """`text` as (piece, bold) runs, with escapes resolved."""
    runs: list[tuple[str, bool]] = []
    bold = False
    for escaped, marker, plain in _INLINE.findall(text):
        if marker:
            bold = not bold
            continue
        piece = escaped or plain
        if runs and runs[-1][1] == bold:
            runs[-1] = (runs[-1][0] + piece, bold)
        else:
            runs.append((piece, bold))
    return runs


def plain_text(text: str) -> str:
    """The words of a Markdown line without its markup: `**Acme\\_Co**` → `Acme_Co`."""
    return "".join(piece for piece, _ in runs(text))


BULLET_STYLES = ("List Bullet", "List Bullet 2")
# Parts of a merge: the letter's own (a few dozen) and the ones that name a client (one or two per letter).
PART_CACHE = 4096


@dataclass(frozen=True, slots=True)
class Block:
    """One Word paragraph: its style name (None for Normal) and its inline Markdown (plain text for a heading)."""

    style: str | None
    text: str

    @property
    def heading_level(self) -> int:
        return int(self.style[-1]) if self.style and self.style.startswith("Heading ") else 0

    @property
    def is_bullet(self) -> bool:
        return self.style in BULLET_STYLES

    def runs(self) -> list[tuple[str, bool]]:
        """(text, bold) pieces; a heading is one run of plain text, as python-docx writes it."""
        return [(self.text, False)] if self.heading_level else runs(self.text)


@lru_cache(maxsize=4)  # the Word and the email writer of one letter split the same text one after the other
def parts(markdown: str) -> tuple[str, ...]:
    """The runs of non-blank lines of `markdown`, each joined with newlines."""
    found: list[str] = []
    lines: list[str] = []
    for line in markdown.splitlines():
        if line.strip():
            lines.append(line)
        elif lines:
            found.append("\n".join(lines))
            lines = []
    if lines:
        found.append("\n".join(lines))
    return tuple(found)


@lru_cache(maxsize=PART_CACHE)
def blocks_of(part: str) -> tuple[Block, ...]:
    """The blocks of one part (see `parts`)."""
    found: list[Block] = []
    style: str | None = None
    pending: list[str] = []

    def flush() -> None:
        if pending:
            found.append(Block(style, " ".join(pending)))
            pending.clear()

    for line in part.split("\n"):
        if heading := HEADING.match(line):
            flush()
            found.append(Block(f"Heading {len(heading.group(1))}", plain_text(heading.group(2))))
        elif bullet := BULLET.match(line):
            flush()
            style = BULLET_STYLES[1] if len(bullet.group(1)) >= 2 else BULLET_STYLES[0]
            pending.append(bullet.group(2))
        else:
            if not pending:
                style = None
            pending.append(line.strip())
    flush()
    return tuple(found)


def blocks(markdown: str) -> list[Block]:
    """The paragraphs `markdown_to_docx` would write for `markdown`, in order."""
    return [block for part in parts(markdown) for block in blocks_of(part)]


def title(markdown_parts: tuple[str, ...]) -> str:
    """The first level-1 heading with words, which `markdown_to_docx` makes the document's title."""
    for part in markdown_parts:
        for block in blocks_of(part):
            if block.heading_level == 1 and block.text:
                return block.text
    return ""


@lru_cache(maxsize=PART_CACHE)
def _plain_part(part: str) -> tuple[str, bool, bool]:
    """A part as plain text, and whether it starts and ends with a bullet."""
    lines: list[str] = []
    found = blocks_of(part)
    for previous, block in zip((None, *found), found, strict=False):
        text = "".join(piece for piece, _ in block.runs())
        if block.heading_level:
            lines += ["", text, ("=" if block.heading_level == 1 else "-") * len(text)]
        elif block.is_bullet:
            if previous is not None and not previous.is_bullet:
                lines.append("")
            lines.append(("  - " if block.style == BULLET_STYLES[1] else "- ") + text)
        else:
            lines += ["", text]
    return "\n".join(lines).strip("\n"), bool(found) and found[0].is_bullet, bool(found) and found[-1].is_bullet


def plain_letter(markdown: str) -> str:
    """The letter as plain text for an email body: markup gone, headings underlined, bullets kept as `- `.

    Blocks are separated by a blank line, except that a list's bullets follow each other line by line.
    """
    out: list[str] = []
    ended_in_bullet = False
    for part in parts(markdown):
        text, starts_with_bullet, ends_with_bullet = _plain_part(part)
        if out:
            out.append("\n" if ended_in_bullet and starts_with_bullet else "\n\n")
        out.append(text)
        ended_in_bullet = ends_with_bullet
    return "".join(out) + "\n"
