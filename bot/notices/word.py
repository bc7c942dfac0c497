"""The Word version of a notice, built from its Markdown so that the .md and the .docx always say the same.

Only the small Markdown subset the notice templates write is understood: `#` to `###` headings, paragraphs,
`- ` bullets (indented for a second level), `**bold**` and backslash escapes. Anything else is kept as text.
"""

from __future__ import annotations

import io
import re

from docx import Document
from docx.shared import Pt
from docx.text.paragraph import Paragraph

HEADING = re.compile(r"^(#{1,3})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^( *)[-*+]\s+(.*)$")
_INLINE = re.compile(r"\\([^\w\s])|(\*\*)|([^\\*]+|[\\*])")
# California asks for at least 10-point type; 11 also reads well on paper.
_BODY_SIZE = Pt(11)
_STYLES = ("Heading 1", "Heading 2", "Heading 3", "List Bullet", "List Bullet 2")


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


def _fill(paragraph: Paragraph, text: str) -> None:
    for piece, bold in runs(text):
        paragraph.add_run(piece).bold = bold or None


def markdown_to_docx(markdown: str) -> bytes:
    """A .docx document with real Word headings and bullet lists for `markdown`."""
    document = Document()
    document.styles["Normal"].font.size = _BODY_SIZE
    # python-docx scans every style of the document each time a paragraph names one (about 2 ms a paragraph,
    # which a mail merge of thousands of letters feels), so each style id is looked up once here.
    style_ids = {name: document.styles[name].style_id for name in _STYLES}
    style: str | None = None
    pending: list[str] = []

    def add(style_name: str | None) -> Paragraph:
        paragraph = document.add_paragraph()
        if style_name is not None:
            paragraph._p.style = style_ids[style_name]
        return paragraph

    def flush() -> None:
        # A paragraph or bullet ends at a blank line or at the next block; lines in between join with spaces.
        if pending:
            _fill(add(style), " ".join(pending))
            pending.clear()

    for line in markdown.splitlines():
        if not line.strip():
            flush()
        elif heading := HEADING.match(line):
            flush()
            level, text = len(heading.group(1)), plain_text(heading.group(2))
            add(f"Heading {level}").add_run(text)
            if level == 1 and not document.core_properties.title:
                document.core_properties.title = text
        elif bullet := BULLET.match(line):
            flush()
            style = "List Bullet 2" if len(bullet.group(1)) >= 2 else "List Bullet"
            pending.append(bullet.group(2))
        else:
            if not pending:
                style = None
            pending.append(line.strip())
    flush()
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
