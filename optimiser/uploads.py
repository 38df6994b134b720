"""A resume file (PDF, DOCX, TXT/Markdown, JSON Resume) to the text `parse_resume` reads.

The type comes from the bytes (magic numbers), not from what the client declared: a PDF starts with
`%PDF-` (ISO 32000-1 §7.5.2, within the first 1024 bytes in practice), a DOCX is a zip archive with
`word/document.xml`. What the client declared (content type, file name, `resume_format`) only decides
the error: a declared PDF/DOCX that is not one is `unreadable_file` (422), an undeclared binary
(an image, a legacy .doc) is `unsupported_media_type` (415).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimiser.docx_text import docx_text, other_zip
from optimiser.parsing import ResumeParseError, sniff_format
from optimiser.pdf_text import pdf_text
from optimiser.settings import OptimiserSettings
from optimiser.tools.ats import ResumeSource, describe

PDF_TYPES = {"application/pdf", "application/x-pdf"}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILE_FORMATS = ("pdf", "docx")
# Binary formats people upload by mistake, named so the 415 message can say what it saw.
_KNOWN_BINARY = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
                 b"\xd0\xcf\x11\xe0": "a legacy Word .doc (save it as DOCX or PDF)", b"{\\rtf": "an RTF file",
                 b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image"}


@dataclass(frozen=True)
class ResumeText:
    text: str
    fmt: str     # what parse_resume gets: "json", "markdown" or "text"
    kind: str    # what the file was: "pdf", "docx", "json", "markdown" or "text"
    layout: dict = field(default_factory=dict)  # what an ATS may misread (docx_text.py, pdf_text.py)
    size: int = 0  # bytes as uploaded

    def source(self) -> ResumeSource:
        """What the ATS checks need to know about the file (optimiser/tools/ats.py)."""
        return describe(self.text, self.fmt, self.kind, self.size, self.layout)


def declared_kind(content_type: str | None, filename: str | None, resume_format: str | None) -> str | None:
    """"pdf" or "docx" when the client said so (format field, content type or file extension)."""
    ctype, name = (content_type or "").split(";")[0].strip().lower(), (filename or "").lower()
    fmt = (resume_format or "").lower()
    if fmt == "pdf" or ctype in PDF_TYPES or name.endswith(".pdf"):
        return "pdf"
    if fmt == "docx" or ctype == DOCX_TYPE or name.endswith(".docx"):
        return "docx"
    return None


def resume_text(data: bytes, settings: OptimiserSettings, content_type: str | None = None,
                filename: str | None = None, resume_format: str | None = None) -> ResumeText:
    if len(data) > settings.max_upload_bytes:
        raise ResumeParseError("file_too_large", f"The resume file exceeds {settings.max_upload_bytes} bytes.", 413)
    if not data.strip():
        raise ResumeParseError("empty_resume", "The resume is empty.")
    declared = declared_kind(content_type, filename, resume_format)
    if b"%PDF-" in data[:1024]:
        text, layout = pdf_text(data, settings.max_pdf_pages, settings.file_read_timeout_s)
        return _bounded(ResumeText(text, "text", "pdf", layout, len(data)), settings)
    if data.startswith(b"PK\x03\x04") and (declared == "docx" or not other_zip(data)):
        text, markdown, layout = docx_text(data)
        return _bounded(ResumeText(text, "markdown" if markdown else "text", "docx", layout, len(data)), settings)
    if declared:
        raise ResumeParseError("unreadable_file", f"The file was sent as {declared.upper()} but is not a "
                               f"readable {declared.upper()}.")
    text = _decode(data)
    fmt = (resume_format or sniff_format(text)).lower()
    return _bounded(ResumeText(text, fmt, fmt, size=len(data)), settings)


def _decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or BOM-marked UTF-16 text; any other bytes are an unsupported type."""
    what = next((name for magic, name in _KNOWN_BINARY.items() if data.startswith(magic)), None)
    if what is None and data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            what = "not valid UTF-16 text"
    if what is None and b"\x00" not in data[:8192]:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            what = "not UTF-8 text"
    what = what or ("a zip archive that is not a DOCX" if data.startswith(b"PK") else "a binary file")
    raise ResumeParseError("unsupported_media_type", f"Unsupported resume file ({what}); send a PDF, "
                           "DOCX, Markdown, plain text (UTF-8) or JSON Resume.", 415)


def _bounded(resume: ResumeText, settings: OptimiserSettings) -> ResumeText:
    # A 5 MB upload can hold far more text than any resume; the text parser is bounded by this.
    if len(resume.text.encode()) > settings.max_resume_bytes:
        raise ResumeParseError("file_too_large", f"The resume's text exceeds {settings.max_resume_bytes} bytes.", 413)
    return resume
