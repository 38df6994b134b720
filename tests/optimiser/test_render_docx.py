"""The tailored resume as DOCX: well-formed, ATS-friendly (no tables, text boxes, images, headers or footers),
byte-stable, and carrying the same facts as the Markdown (read back through the resume parser)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from optimiser.parsing import parse_resume
from optimiser.render_docx import to_docx

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "resumes" / "sample.resume.json"
MARK = {"Title": "# ", "Heading1": "## ", "Heading2": "### ", "ListParagraph": "- "}


def _as_markdown(docx: bytes) -> str:
    """Each paragraph back to the Markdown line it came from (styles to prefixes, runs to ** and *), as a
    DOCX reader sees it: one line per paragraph, no blank lines but before headings."""
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        root = ElementTree.fromstring(z.read("word/document.xml"))
    lines = []
    for p in root.iter(f"{W}p"):
        style = p.find(f"{W}pPr/{W}pStyle")
        text = ""
        for r in p.iter(f"{W}r"):
            t = "".join(x.text or "" for x in r.iter(f"{W}t"))
            if r.find(f"{W}rPr/{W}b") is not None:
                t = f"**{t}**"
            elif r.find(f"{W}rPr/{W}i") is not None:
                t = f"*{t}*"
            text += t
        prefix = MARK.get(style.get(f"{W}val") if style is not None else "", "")
        lines.append(("\n" if prefix.startswith("#") else "") + prefix + text)  # a paragraph is a line
    return "\n".join(lines)


def test_docx_carries_the_resume_and_reads_back_to_the_same_facts():
    resume = parse_resume(SAMPLE.read_text())
    docx = to_docx(resume)
    back = parse_resume(_as_markdown(docx), "markdown")
    assert back.basics.name == resume.basics.name and back.basics.email == resume.basics.email
    assert [(w.name, w.position, w.startDate, w.highlights) for w in back.work] == [
        (w.name, w.position, w.startDate, w.highlights) for w in resume.work]
    assert [e.institution for e in back.education] == [e.institution for e in resume.education]
    assert {s.name for s in back.skills} == {s.name for s in resume.skills}


def test_docx_is_ats_friendly_and_byte_stable():
    resume = parse_resume(SAMPLE.read_text())
    docx = to_docx(resume)
    assert docx == to_docx(resume)  # same resume, same bytes
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        names = set(z.namelist())
        parts = {n: ElementTree.fromstring(z.read(n)) for n in names}  # every part is well-formed XML
    assert not any("header" in n or "footer" in n or "media/" in n for n in names)
    document = parts["word/document.xml"]
    assert document.find(f".//{W}tbl") is None and document.find(f".//{W}txbxContent") is None
    assert resume.basics.email in "".join(t.text or "" for t in document.iter(f"{W}t"))  # contact in the body
