"""Text of a DOCX (Office Open XML, ECMA-376) with the standard library only: `zipfile` + ElementTree.

Paragraphs come out in document order, one per line: heading styles become Markdown headings (Title
`#`, Heading N `#`*(N+1)) so `parse_cv` sees the name and the sections (without any Heading style the
text goes to the plain-text parser, which finds ALL-CAPS or known section names itself), list paragraphs become `- `
bullets, table cells and text boxes are read in place, header text goes first (contact details
often live there). Footers are only reported in `layout`: they hold page numbers, not resume text.
`layout` records what an ATS may not read (tables, text boxes, images, header/footer text, contact
details found only in a header or footer, section columns): optimiser/tools/ats.py judges it.

Untrusted archive: sizes are checked from the central directory before anything is inflated and
again while reading (a member may lie about its size), and XML with a DOCTYPE is refused before
parsing (entity expansion, "billion laughs"; Word never writes one).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from xml.etree import ElementTree as ET

from optimiser.cv_markdown import EMAIL, PHONE
from optimiser.parsing import ResumeParseError

MAX_MEMBERS = 1000                  # a resume DOCX has ~15-40 parts
MAX_PART_BYTES = 20 * 1024 * 1024   # one XML part, unpacked: a 40-page document.xml is ~2 MB
MAX_TOTAL_BYTES = 100 * 1024 * 1024  # every member's declared unpacked size, images included
DOCUMENT = "word/document.xml"

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_IMAGES = {"{http://schemas.openxmlformats.org/drawingml/2006/main}blip", "{urn:schemas-microsoft-com:vml}imagedata"}
_BREAKS = {_W + "tab", _W + "br", _W + "cr"}
_UNSAFE_XML = re.compile(rb"<!DOCTYPE|<!ENTITY", re.I)


def other_zip(data: bytes) -> bool:
    """A readable zip archive without the WordprocessingML main part (xlsx, odt, a plain zip)."""
    try:
        return DOCUMENT not in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError):
        return False  # not readable as a zip: docx_text says so


def docx_text(data: bytes) -> tuple[str, bool, dict]:
    """(text, is_markdown, layout) of a DOCX, or ResumeParseError `unreadable_file` / `file_too_large`."""
    archive = _open(data)
    styles = _style_names(archive)
    reader = _Reader(styles)
    try:
        _read_parts(archive, reader)
    except RecursionError:  # nesting (tables in text boxes in tables ...) past Python's stack
        raise ResumeParseError("unreadable_file", "The DOCX nests its content too deeply.") from None
    return reader.text(), reader.headings > 0, reader.layout


def _read_parts(archive: zipfile.ZipFile, reader: _Reader) -> None:
    margins: list[str] = []  # header and footer text
    for name in sorted(n for n in archive.namelist() if re.fullmatch(r"word/(header|footer)\d*\.xml", n)):
        part = _Reader(reader.styles)
        part.blocks(_xml(archive, name))
        margins += [text for _, text in part.lines if text]
        if "header" in name:
            reader.lines += [line for line in part.lines if line not in reader.lines]
    reader.layout["header_footer_text"] = bool(margins)
    body = _xml(archive, DOCUMENT).find(_W + "body")
    if body is None:
        raise ResumeParseError("unreadable_file", "The DOCX has no document body.")
    start = len(reader.lines)
    reader.blocks(body)
    margin, body_text = _contacts(" ".join(margins)), _contacts(" ".join(text for _, text in reader.lines[start:]))
    reader.layout["header_footer_contact"] = sorted(kind for kind in margin if margin[kind] - body_text[kind])
    reader.layout["columns"] = max((_columns(cols) for cols in body.iter(_W + "cols")), default=1)


def _contacts(text: str) -> dict[str, set[str]]:
    """Email addresses and phone numbers (as digits: 7 at least, fewer is a year range) in `text`."""
    phones = {digits for p in PHONE.findall(text) if len(digits := re.sub(r"\D", "", p)) >= 7}
    return {"email": {e.lower() for e in EMAIL.findall(text)}, "phone": phones}


def _columns(cols: ET.Element) -> int:
    """A section's text columns (ECMA-376 w:cols): `w:num`, or one w:col per column when unequal."""
    num = cols.get(_W + "num", "")
    return max(int(num) if num.isdecimal() and len(num) <= 3 else 1, len(cols.findall(_W + "col")))


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise ResumeParseError("unreadable_file", "The DOCX could not be read (truncated or not a zip archive).") from None
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ResumeParseError("unreadable_file", f"The DOCX has more than {MAX_MEMBERS} parts.")
    if sum(m.file_size for m in members) > MAX_TOTAL_BYTES:
        raise _too_large(MAX_TOTAL_BYTES)
    if DOCUMENT not in archive.namelist():
        raise ResumeParseError("unreadable_file", "Not a Word document: the archive has no word/document.xml.")
    return archive


def _too_large(limit: int) -> ResumeParseError:
    return ResumeParseError("file_too_large", f"The DOCX unpacks to more than {limit // (1024 * 1024)} MB.", 413)


def _xml(archive: zipfile.ZipFile, name: str) -> ET.Element:
    info = archive.getinfo(name)
    if info.file_size > MAX_PART_BYTES:
        raise _too_large(MAX_PART_BYTES)
    try:
        with archive.open(info) as member:
            raw = member.read(MAX_PART_BYTES + 1)  # the declared size may lie: never inflate past the cap
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        raise ResumeParseError("unreadable_file", f"The DOCX part {name} is corrupt or encrypted.") from None
    if len(raw) > MAX_PART_BYTES:
        raise _too_large(MAX_PART_BYTES)
    if _UNSAFE_XML.search(raw) or raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 would hide a DOCTYPE
        raise ResumeParseError("unreadable_file", f"The DOCX part {name} declares a DOCTYPE or entities; refused.")
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        raise ResumeParseError("unreadable_file", f"The DOCX part {name} is not well-formed XML.") from None


def _style_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """styleId -> lower-case style name ("Heading1" -> "heading 1"); a localised Word keeps the ids."""
    if "word/styles.xml" not in archive.namelist():
        return {}
    names = {}
    for style in _xml(archive, "word/styles.xml").iter(_W + "style"):
        name = style.find(_W + "name")
        if name is not None:
            names[style.get(_W + "styleId", "")] = name.get(_W + "val", "").lower()
    return names


class _Reader:
    def __init__(self, styles: dict[str, str]):
        self.styles, self.lines, self.headings = styles, [], 0
        self.layout = {"tables": 0, "text_boxes": 0, "images": 0, "header_footer_text": False,
                       "header_footer_contact": [], "columns": 1}

    def text(self) -> str:
        markdown = self.headings > 0
        lines = [(prefix if markdown or prefix == "- " else "") + text for prefix, text in self.lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

    def blocks(self, parent: ET.Element) -> None:
        for el in parent:
            if el.tag == _W + "p":
                self.paragraph(el)
            elif el.tag == _W + "tbl":
                self.layout["tables"] += 1
                for cell in (c for row in el.iter(_W + "tr") for c in row.findall(_W + "tc")):
                    self.blocks(cell)
            elif el.tag in (_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "body", _W + "hdr", _W + "ftr"):
                self.blocks(el)  # content controls and custom XML wrap ordinary paragraphs

    def paragraph(self, p: ET.Element) -> None:
        parts: list[str] = []
        boxes: list[ET.Element] = []
        self.layout["images"] += _scan(p, parts, boxes)
        text = re.sub(r"\s+", " ", "".join(parts)).strip()
        self.lines.append((self._prefix(p) if text else "", text))
        for box in boxes:
            self.layout["text_boxes"] += 1
            self.blocks(box)

    def _prefix(self, p: ET.Element) -> str:
        props = p.find(_W + "pPr")
        style_el = props.find(_W + "pStyle") if props is not None else None
        style_id = style_el.get(_W + "val", "") if style_el is not None else ""
        style = self.styles.get(style_id, style_id.lower())
        heading = re.fullmatch(r"heading\s*(\d)", style)
        if style == "title" or heading:
            self.headings += bool(heading)  # a Title alone (the name) is no reason to skip text promotion
            return "#" * (min(int(heading.group(1)) + 1, 6) if heading else 1) + " "
        is_list = props is not None and props.find(_W + "numPr") is not None
        return "- " if is_list or style.startswith("list") else ""


def _scan(el: ET.Element, parts: list[str], boxes: list[ET.Element]) -> int:
    """Collect a paragraph's run text and its text boxes (read after it); return its image count.

    mc:Fallback repeats mc:Choice's content for older readers: skipped, or every box counts twice.
    (Tables nested inside a text box are read by `blocks`.)"""
    images = 0
    for child in el:
        if child.tag == _FALLBACK:
            continue
        if child.tag == _W + "txbxContent":
            boxes.append(child)
            continue
        if child.tag in _IMAGES:
            images += 1
        if child.tag == _W + "t":
            parts.append(child.text or "")
        elif child.tag in _BREAKS:
            parts.append(" ")
        images += _scan(child, parts, boxes)
    return images
