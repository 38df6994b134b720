"""Resume files written by the tests themselves: a tiny PDF writer and a tiny DOCX writer.

Just enough of each format to be what real tools produce for a resume: PDF pages of Helvetica text
lines (or one image and no text, as a scanner makes), DOCX paragraphs with heading, list and table
markup. No binary fixtures, so a reader can see exactly what each test feeds the parser.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

# --- PDF (ISO 32000-1: objects, a cross-reference table, a trailer) -----------------------------


def pdf(*pages: list[str] | tuple[list[str], list[str]], image_page: bool = False) -> bytes:
    """A PDF with one page per list of text lines, or per pair of lists (a page of two columns side by
    side, as a sidebar layout sets them); `image_page` adds a page that is only a picture."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")  # 3
    kids = []
    for page in pages:
        columns = page if isinstance(page, tuple) else (page,)
        text = "".join(_text_block(lines, 50 + 280 * i) for i, lines in enumerate(columns))
        kids.append(_page(objects, text.encode("cp1252"), b""))
    if image_page:
        objects.append(b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
                       b"/BitsPerComponent 8 /Length 4 >>\nstream\n\x00\xff\xff\x00\nendstream")
        image = len(objects)
        kids.append(_page(objects, b"q 500 0 0 700 50 50 cm /Im1 Do Q", f"/XObject << /Im1 {image} 0 R >>".encode()))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    return _assemble(objects)


def _text_block(lines: list[str], x: int) -> str:
    ops = "".join(f"({_pdf_string(line)}) Tj T*\n" for line in lines)
    return f"BT /F1 11 Tf 14 TL {x} 780 Td\n{ops}ET\n"


def _page(objects: list[bytes], content: bytes, resources: bytes) -> int:
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                   b"/Resources << /Font << /F1 3 0 R >> %s >> >>" % (len(objects), resources))
    return len(objects)


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _assemble(objects: list[bytes]) -> bytes:
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- DOCX (ECMA-376 WordprocessingML) -------------------------------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>')
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="{W}">'
    '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/></w:style></w:styles>')


def para(text: str, style: str = "", numbered: bool = False, extra: str = "") -> str:
    props = (f'<w:pStyle w:val="{style}"/>' if style else "") + (
        '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>' if numbered else "")
    return (f"<w:p>{f'<w:pPr>{props}</w:pPr>' if props else ''}"
            f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>{extra}</w:p>')


def table(rows: list[list[str]]) -> str:
    cells = "".join("<w:tr>" + "".join(f"<w:tc>{para(c)}</w:tc>" for c in row) + "</w:tr>" for row in rows)
    return f"<w:tbl>{cells}</w:tbl>"


def text_box(*lines: str) -> str:
    """A run holding a text box (how Word anchors one: a drawing with wps:txbx/w:txbxContent)."""
    body = "".join(para(line) for line in lines)
    return (f'<w:r><w:drawing><wps:wsp xmlns:wps="http://schemas.microsoft.com/office/word/2010/'
            f'wordprocessingShape"><wps:txbx><w:txbxContent>{body}</w:txbxContent></wps:txbx></wps:wsp>'
            f'</w:drawing></w:r>')


IMAGE_RUN = ('<w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
             'r:embed="rId9" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/>'
             '</w:drawing></w:r>')


def section(columns: int = 1) -> str:
    """The body's closing section properties, with its text in `columns` newspaper-style columns."""
    return f'<w:sectPr><w:cols w:num="{columns}" w:space="720"/></w:sectPr>'


def document_xml(body: str, prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
            f'<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>')


def docx(body: str, header: str = "", document: str | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    """A DOCX whose body is the given WordprocessingML (see `para`, `table`), with an optional header."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/styles.xml", STYLES)
        z.writestr("word/document.xml", document if document is not None else document_xml(body))
        if header:
            z.writestr("word/header1.xml", f'<?xml version="1.0"?><w:hdr xmlns:w="{W}">{header}</w:hdr>')
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def zip_bomb_member(data: bytes, name: str = "word/document.xml", claimed: int = 0xFFFFFFFE) -> bytes:
    """`data` with one member's declared uncompressed size rewritten to `claimed` (central directory)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(name)
    out = bytearray(data)
    central = out.find(b"PK\x01\x02")  # the first central-directory record
    while central != -1:
        name_len = int.from_bytes(out[central + 28:central + 30], "little")
        if out[central + 46:central + 46 + name_len] == info.filename.encode():
            out[central + 24:central + 28] = claimed.to_bytes(4, "little")
            return bytes(out)
        central = out.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"{name} not in the central directory")
