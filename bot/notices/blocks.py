"""The letter's Markdown as a list of blocks (headings, paragraphs, bullets), for writers other than python-docx.

The fast Word writer of a mail merge and the plain-text body of its emails must read the Markdown exactly as
`word.markdown_to_docx` does, so this module follows the same rules with the same patterns: a blank line ends
a block, lines in between join with a space, a bullet indented by two spaces or more is a second-level one,
and a line that is not a bullet continues the bullet before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.notices.word import _BULLET, _HEADING, _runs, plain_text

BULLET_STYLES = ("List Bullet", "List Bullet 2")


@dataclass(frozen=True, slots=True)
class Block:
    """One Word paragraph: its style name (None for Normal) and its inline Markdown (plain text for a heading)."""

    style: str | None
    text: str

    @property
    def heading_level(self) -> int:
        return int(self.style[-1]) if self.style and self.style.startswith("Heading ") else 0

    def runs(self) -> list[tuple[str, bool]]:
        """(text, bold) pieces; a heading is one run of plain text, as python-docx writes it."""
        return [(self.text, False)] if self.heading_level else _runs(self.text)

    @property
    def plain(self) -> str:
        return _plain(self)


@lru_cache(maxsize=2048)
def _plain(block: Block) -> str:
    return "".join(piece for piece, _ in block.runs())


def blocks(markdown: str) -> list[Block]:
    """The paragraphs `markdown_to_docx` would write for `markdown`, in order."""
    found: list[Block] = []
    for part in _parts(markdown):
        found += _blocks_of(part)
    return found


def _parts(markdown: str) -> list[str]:
    """The text between blank lines. Every blank line ends a block and resets the style (see `_blocks_of`), so
    each part reads the same alone as in the letter; letters of one merge share all their parts but a few."""
    parts: list[str] = []
    lines: list[str] = []
    for line in markdown.splitlines():
        if line.strip():
            lines.append(line)
        elif lines:
            parts.append("\n".join(lines))
            lines = []
    if lines:
        parts.append("\n".join(lines))
    return parts


@lru_cache(maxsize=2048)
def _blocks_of(part: str) -> tuple[Block, ...]:
    found: list[Block] = []
    style: str | None = None
    pending: list[str] = []

    def flush() -> None:
        if pending:
            found.append(Block(style, " ".join(pending)))
            pending.clear()

    for line in part.split("\n"):
        if heading := _HEADING.match(line):
            flush()
            found.append(Block(f"Heading {len(heading.group(1))}", plain_text(heading.group(2))))
        elif bullet := _BULLET.match(line):
            flush()
            style = BULLET_STYLES[1] if len(bullet.group(1)) >= 2 else BULLET_STYLES[0]
            pending.append(bullet.group(2))
        else:
            if not pending:
                style = None
            pending.append(line.strip())
    flush()
    return tuple(found)


def title(found: list[Block]) -> str:
    """The first level-1 heading with words, which `markdown_to_docx` makes the document's title."""
    return next((b.text for b in found if b.heading_level == 1 and b.text), "")


def plain_letter(markdown: str) -> str:
    """The letter as plain text for an email body: markup gone, headings underlined, bullets kept as `- `."""
    lines: list[str] = []
    previous: Block | None = None
    for block in blocks(markdown):
        text = block.plain
        if block.heading_level:
            lines += ["", text, ("=" if block.heading_level == 1 else "-") * len(text)]
        elif block.style in BULLET_STYLES:
            if previous is None or previous.style not in BULLET_STYLES:
                lines.append("")  # a list is one block of lines: a blank line before it, none inside
            lines.append(("  - " if block.style == BULLET_STYLES[1] else "- ") + text)
        else:
            lines += ["", text]
        previous = block
    return "\n".join(lines).strip("\n") + "\n"
