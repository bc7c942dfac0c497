"""Word letters by the thousand: one package built by python-docx, refilled with each letter's text.

python-docx loads and saves its whole default template (styles, numbering, fonts, theme: some 800 KB of XML)
for every document, about 40 ms a letter, although every letter of a merge shares all of it. So python-docx
makes one empty document, exactly as `word.markdown_to_docx` does, and each letter then only needs its own
`word/document.xml` (and its title in `docProps/core.xml`), written here as text and packed after the shared
parts, which are compressed once. The tests check that python-docx reads the same paragraphs, styles and runs
in it as in `markdown_to_docx` of the same Markdown, and the same shared parts byte for byte.
"""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
import zlib
from functools import lru_cache

from docx import Document
from lxml import etree

from bot.notices.blocks import BULLET_STYLES, PART_CACHE, Block, blocks_of, parts, title
from bot.notices.word import markdown_to_docx

BODY = "word/document.xml"
CORE = "docProps/core.xml"
_DEFLATED = 8
_DC = "{http://purl.org/dc/elements/1.1/}"
# XML 1.0 cannot hold these at all; python-docx refuses them too.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Zip:
    """Just enough of the ZIP format to write a package whose shared parts are compressed only once.

    zipfile would re-read the shared parts' directory and rewrite it for every letter; here the shared parts'
    headers and data are one ready-made block of bytes, and each letter adds its own parts and the directory.
    """

    def __init__(self, parts: list[tuple[str, bytes]], when: tuple[int, ...]) -> None:
        self._dos_date = (when[0] - 1980) << 9 | when[1] << 5 | when[2]
        self._dos_time = when[3] << 11 | when[4] << 5 | when[5] // 2
        local, central = bytearray(), bytearray()
        for name, data in parts:
            entry, directory = self._entry(name, data, len(local), level=9)
            local += entry
            central += directory
        self._local, self._central, self._count = bytes(local), bytes(central), len(parts)

    def _entry(self, name: str, data: bytes, offset: int, level: int) -> tuple[bytes, bytes]:
        """A part's local header and data, and its central directory record."""
        # Shared parts are packed once, as tightly as zlib can; a letter's own parts quickly (a few % larger).
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
        encoded, crc = name.encode("ascii"), zlib.crc32(data)
        common = (_DEFLATED, self._dos_time, self._dos_date, crc, len(packed), len(data), len(encoded))
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *common, 0) + encoded + packed
        central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, *common, 0, 0, 0, 0, 0,
                              offset) + encoded
        return local, central

    def with_parts(self, parts: list[tuple[str, bytes]]) -> bytes:
        """The whole archive: the shared parts, then `parts`, then the directory of them all."""
        local, central = bytearray(self._local), bytearray(self._central)
        for name, data in parts:
            entry, directory = self._entry(name, data, len(local), level=1)
            local += entry
            central += directory
        count = self._count + len(parts)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(local), 0)
        return bytes(local + central + end)


class LetterPackage:
    """The parts every letter shares, kept compressed in memory; `docx(markdown)` adds one letter's text."""

    def __init__(self) -> None:
        empty = markdown_to_docx("")
        with zipfile.ZipFile(io.BytesIO(empty)) as source:
            body = source.read(BODY).decode("utf-8")
            self._core = source.read(CORE)
            # [Content_Types].xml stays first, where python-docx puts it and some readers look for it.
            shared = [(i.filename, source.read(i)) for i in source.infolist() if i.filename not in (BODY, CORE)]
        self._zip = _Zip(shared, time.localtime()[:6])
        opening = body.index("<w:body>") + len("<w:body>")
        closing = body.index("<w:sectPr")
        if body[opening:closing]:
            raise RuntimeError("python-docx's empty document is no longer empty; the letter writer needs updating")
        self._head, self._tail = body[:opening], body[closing:]
        self._xml: dict[str, str] = {}
        styles = Document().styles
        names = ("Heading 1", "Heading 2", "Heading 3", *BULLET_STYLES)
        self._style_ids = {name: styles[name].style_id for name in names}

    def docx(self, markdown: str) -> bytes:
        """The .docx bytes of one letter. Raises ValueError for text Word cannot store (control characters)."""
        bad = _NOT_XML.search(markdown)
        if bad:
            raise ValueError(f"the letter contains the control character U+{ord(bad.group()):04X}")
        found = parts(markdown)
        body = "".join([self._head, *(self._part_xml(part) for part in found), self._tail]).encode("utf-8")
        return self._zip.with_parts([(CORE, _core_with_title(self._core, title(found))), (BODY, body)])

    def _part_xml(self, part: str) -> str:
        xml = self._xml.get(part)
        if xml is None:
            if len(self._xml) >= PART_CACHE:
                self._xml.clear()
            xml = self._xml[part] = "".join(_paragraph(b, self._style_ids.get(b.style or "", ""))
                                            for b in blocks_of(part))
        return xml


def _paragraph(block: Block, style_id: str) -> str:
    """One <w:p> as python-docx writes it."""
    out = ["<w:p>"]
    if style_id:
        out.append(f'<w:pPr><w:pStyle w:val="{style_id}"/></w:pPr>')
    for text, bold in block.runs():
        out.append("<w:r><w:rPr><w:b/></w:rPr>" if bold else "<w:r>")
        # python-docx turns a tab in run text into <w:tab/>; so does this.
        pieces = [f'<w:t xml:space="preserve">{_escape(p)}</w:t>' if p else "" for p in text.split("\t")]
        out.append("<w:tab/>".join(pieces))
        out.append("</w:r>")
    out.append("</w:p>")
    return "".join(out)


@lru_cache(maxsize=16)
def _core_with_title(core: bytes, text: str) -> bytes:
    """docProps/core.xml with the letter's title (letters of one merge share it, so it is made once)."""
    tree = etree.fromstring(core)
    element = tree.find(f"{_DC}title")
    if element is None:
        element = etree.SubElement(tree, f"{_DC}title")
    element.text = text or None
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=True)
