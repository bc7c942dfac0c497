"""The Word version of a notice, built from its Markdown so that the .md and the .docx always say the same.

Only the small Markdown subset the notice templates write is understood: `#` to `###` headings, paragraphs,
`- ` bullets (indented for a second level), `**bold**` and backslash escapes. Anything else is kept as text.
"""

from __future__ import annotations

import io

from docx import Document
from docx.shared import Pt

from bot.notices.blocks import blocks

# California asks for at least 10-point type; 11 also reads well on paper.
_BODY_SIZE = Pt(11)
_STYLES = ("Heading 1", "Heading 2", "Heading 3", "List Bullet", "List Bullet 2")


def markdown_to_docx(markdown: str) -> bytes:
    """A .docx document with real Word headings and bullet lists for `markdown` (read by `blocks`)."""
    document = Document()
    document.styles["Normal"].font.size = _BODY_SIZE
    # python-docx scans every style of the document each time a paragraph names one (about 2 ms a paragraph,
    # which a mail merge of thousands of letters feels), so each style id is looked up once here.
    style_ids = {name: document.styles[name].style_id for name in _STYLES}
    for block in blocks(markdown):
        paragraph = document.add_paragraph()
        if block.style is not None:
            paragraph._p.style = style_ids[block.style]
        for piece, bold in block.runs():
            paragraph.add_run(piece).bold = bold or None
        if block.heading_level == 1 and not document.core_properties.title:
            document.core_properties.title = block.text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
