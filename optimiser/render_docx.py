"""Render a Resume as an ATS-friendly DOCX: one column, standard headings, real bullet lists, the contact
line in the body (ATS parsers skip headers and footers), no tables, text boxes or images.

Built from the Markdown rendering (optimiser/render.py), so both outputs carry the same content in the same
order, with only the stdlib (zipfile + escaped XML): `#` → Title, `##` → Heading 1, `###` → Heading 2,
`- ` → a bulleted List Paragraph, `**bold**` and `*italic*` → runs.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.sax.saxutils import escape

from optimiser.render import to_markdown
from optimiser.resume import Resume

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_INLINE = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*")
# A fixed timestamp keeps the bytes of one resume's DOCX the same on every render (diffable artifacts).
_EPOCH = (1980, 1, 1, 0, 0, 0)

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
<Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>
</Types>"""

PACKAGE_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>"""

DOCUMENT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" Target="numbering.xml"/>
</Relationships>"""


def _style(style_id: str, name: str, size: int, bold: bool = False, spacing_before: int = 0) -> str:
    run = f"<w:rPr>{'<w:b/>' if bold else ''}<w:sz w:val=\"{size}\"/></w:rPr>"
    para = f"<w:pPr><w:spacing w:before=\"{spacing_before}\" w:after=\"60\"/></w:pPr>"
    return (f'<w:style w:type="paragraph" w:styleId="{style_id}"><w:name w:val="{name}"/>'
            f'<w:basedOn w:val="Normal"/>{para}{run}</w:style>')


STYLES = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles xmlns:w="{_W}">'
          '<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/>'
          '<w:sz w:val="21"/></w:rPr></w:rPrDefault></w:docDefaults>'
          '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
          + _style("Title", "Title", 36, bold=True)
          + _style("Heading1", "heading 1", 26, bold=True, spacing_before=240)
          + _style("Heading2", "heading 2", 22, bold=True, spacing_before=120)
          + _style("ListParagraph", "List Paragraph", 21)
          + "</w:styles>")

NUMBERING = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:numbering xmlns:w="{_W}">'
             '<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/>'
             '<w:lvlText w:val="\u2022"/><w:lvlJc w:val="left"/><w:pPr><w:ind w:left="360" w:hanging="360"/></w:pPr>'
             '</w:lvl></w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>')

_STYLE_OF = (("### ", "Heading2"), ("## ", "Heading1"), ("# ", "Title"))


def to_docx(resume: Resume) -> bytes:
    body = "".join(_paragraph(line) for line in to_markdown(resume).splitlines() if line.strip())
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'
                f'{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/>'
                '<w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134"/></w:sectPr></w:body></w:document>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", PACKAGE_RELS),
                           ("word/_rels/document.xml.rels", DOCUMENT_RELS), ("word/styles.xml", STYLES),
                           ("word/numbering.xml", NUMBERING), ("word/document.xml", document)):
            z.writestr(zipfile.ZipInfo(name, _EPOCH), text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _paragraph(line: str) -> str:
    props = ""
    for prefix, style in _STYLE_OF:
        if line.startswith(prefix):
            line, props = line[len(prefix):], f'<w:pStyle w:val="{style}"/>'
            break
    else:
        if line.startswith("- "):
            line = line[2:]
            props = '<w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>'
    return f"<w:p>{f'<w:pPr>{props}</w:pPr>' if props else ''}{_runs(line)}</w:p>"


def _runs(text: str) -> str:
    """Plain, **bold** and *italic* stretches of one line as runs."""
    out, at = [], 0
    for m in _INLINE.finditer(text):
        out.append(_run(text[at:m.start()]))
        out.append(_run(m.group(1), "<w:b/>") if m.group(1) is not None else _run(m.group(2), "<w:i/>"))
        at = m.end()
    out.append(_run(text[at:]))
    return "".join(out)


def _run(text: str, props: str = "") -> str:
    if not text:
        return ""
    return f'<w:r>{f"<w:rPr>{props}</w:rPr>" if props else ""}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
