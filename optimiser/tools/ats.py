"""ATS checks: what an applicant tracking system may misread in a resume file, and a score.

An ATS reads a resume's text in order. It may skip or scramble what is not plain body text (tables,
several columns, text boxes, images and the text in them, page headers and footers), finds sections by
their headings, and finds the candidate by the contact details in the body. The checks look at what the
upload reader recorded about the file (`ResumeSource`: the DOCX or PDF `layout`, the section headings as
written, the date styles, the size) and at the parsed resume. A check with nothing to look at (no layout
for a text resume, no headings in a JSON Resume) is left out of `checks` instead of counted as passed.

Issue codes are stable; severities: `error` (the ATS may lose the content), `warning` (it may misread
it), `info` (style). The score starts at 100 and loses `PENALTY[severity]` per failed check, floor 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from optimiser.cv_markdown import promote_text, section_kind, split_sections
from optimiser.dates import DATE_RE
from optimiser.docx_text import docx_text
from optimiser.parsing import parse_resume
from optimiser.render_docx import to_docx
from optimiser.resume import Resume

Severity = Literal["error", "warning", "info"]
PENALTY: dict[str, int] = {"error": 20, "warning": 8, "info": 2}
# A text resume is tens of KB; past 1 MB a file is mostly images or embedded fonts, which add nothing an
# ATS reads, and applicant portals often cap uploads at 1-2 MB. (Past the upload limit it is a 413.)
LARGE_FILE_BYTES = 1024 * 1024
STANDARD_HEADINGS = "Summary, Experience, Education, Skills, Certifications, Projects"
_DATE_STYLES = {"iso": "2017-06", "mon": "June 2017", "mm": "06/2017"}  # years alone fit any style


class ResumeSource(BaseModel):
    """What the upload reader knows about the resume besides its text (optimiser/uploads.py)."""

    kind: str                          # pdf, docx, markdown, text or json
    bytes: int = Field(0, ge=0)        # the file's size as uploaded
    layout: dict = {}                  # DOCX: tables, text_boxes, images, header_footer_text,
                                       # header_footer_contact, columns; PDF: images, columns
    headings: list[str] | None = None  # section headings as written; None: the format has none (JSON)
    date_styles: list[str] = []        # of _DATE_STYLES, as found in the text


class AtsIssue(BaseModel):
    code: str
    severity: Severity
    message: str


class AtsReport(BaseModel):
    score: int = Field(ge=0, le=100)
    issues: list[AtsIssue]
    checks: dict[str, bool]  # every check that applied: code -> passed


Finding = tuple[Severity, str] | None  # None: the check passed


def describe(text: str, fmt: str, kind: str, size: int, layout: dict | None = None) -> ResumeSource:
    """A ResumeSource from a resume's text as `parse_resume` gets it (`fmt`: json, markdown or text)."""
    headings = None if fmt == "json" else source_headings(text, fmt == "markdown")
    styles = {name for m in DATE_RE.finditer(text) for name in _DATE_STYLES if m.group(name)}
    return ResumeSource(kind=kind, bytes=size, layout=layout or {}, headings=headings, date_styles=sorted(styles))


def source_headings(text: str, markdown: bool) -> list[str]:
    """Section headings as the CV parser finds them. In plain text only ALL-CAPS or known names count:
    a Title-case line there is as likely a sub-heading or a skills line as a section."""
    lines = text.replace("\r\n", "\n").split("\n")
    _, _, sections = split_sections(lines if markdown else promote_text(lines))
    return [title for _, title, _ in sections if markdown or title.isupper() or section_kind(title)]


def rendered_report(resume: Resume) -> tuple[AtsReport, bytes]:
    """Our own DOCX rendering of `resume` (optimiser/render_docx.py), read back as an upload is, and the
    report on what was read back: the proof that what we ship is ATS-clean. Returns the DOCX too."""
    data = to_docx(resume)
    text, markdown, layout = docx_text(data)
    fmt = "markdown" if markdown else "text"
    return ats_report(parse_resume(text, fmt), describe(text, fmt, "docx", len(data), layout)), data


def ats_report(resume: Resume, source: ResumeSource | None = None) -> AtsReport:
    findings = {**_layout_checks(source.layout if source else {}), **_source_checks(source),
                **_contact_checks(resume, source.layout if source else {}), **_date_checks(resume, source)}
    issues = [AtsIssue(code=code, severity=f[0], message=f[1]) for code, f in findings.items() if f]
    score = max(0, 100 - sum(PENALTY[i.severity] for i in issues))
    return AtsReport(score=score, issues=issues, checks={code: f is None for code, f in findings.items()})


def _layout_checks(layout: dict) -> dict[str, Finding]:
    out: dict[str, Finding] = {}
    if "tables" in layout:
        out["table"] = _count(layout["tables"], "warning", "table(s)", "an ATS may read their cells out of "
                              "order or skip them; use plain paragraphs")
    if "columns" in layout:
        out["multi_column"] = None if layout["columns"] <= 1 else (
            "warning", f"The text is set in {layout['columns']} columns: an ATS reads across them and mixes "
                       "their lines; use one column.")
    if "images" in layout:
        out["image"] = _count(layout["images"], "warning", "image(s)", "an ATS ignores images and any text in them")
    if "text_boxes" in layout:
        out["text_box"] = _count(layout["text_boxes"], "error", "text box(es)", "many ATS skip text boxes "
                                 "and lose what is in them; put the text in the body")
    if "header_footer_text" in layout:
        out["header_footer_text"] = None if not layout["header_footer_text"] else (
            "warning", "The page header or footer holds text: many ATS skip headers and footers.")
    return out


def _count(n: int, severity: Severity, what: str, why: str) -> Finding:
    return None if not n else (severity, f"{n} {what}: {why}.")


def _source_checks(source: ResumeSource | None) -> dict[str, Finding]:
    if source is None:
        return {}
    out: dict[str, Finding] = {"file_too_large": None if source.bytes <= LARGE_FILE_BYTES else (
        "warning", f"The file is {source.bytes / 1024 / 1024:.1f} MB: above 1 MB some applicant portals refuse "
                   "it; images and embedded fonts are the usual cause.")}
    if source.headings is not None:
        odd = [h for h in source.headings if section_kind(h) is None]
        out["nonstandard_heading"] = None if not odd else (
            "warning", f"Headings an ATS may not recognise: {', '.join(repr(h) for h in odd[:5])}; use standard "
                       f"ones ({STANDARD_HEADINGS}).")
    return out


def _contact_checks(resume: Resume, layout: dict) -> dict[str, Finding]:
    missing = [what for what, value in (("email address", resume.basics.email),
                                        ("phone number", resume.basics.phone)) if not value]
    out: dict[str, Finding] = {"contact_missing": None if not missing else (
        "error" if "email address" in missing else "warning",
        f"No {' and no '.join(missing)} found: put them in the body, under your name.")}
    if "header_footer_contact" in layout:
        only = layout["header_footer_contact"]
        out["contact_in_header"] = None if not only else (
            "error", f"The {' and '.join(only)} {'is' if len(only) == 1 else 'are'} only in the page header or "
                     "footer, which many ATS skip: repeat them in the body, under your name.")
    return out


def _date_checks(resume: Resume, source: ResumeSource | None) -> dict[str, Finding]:
    undated = sum(1 for w in resume.work if not w.startDate)
    out: dict[str, Finding] = {"date_missing": None if not undated else (
        "warning", f"{undated} work entr{'ies' if undated > 1 else 'y'} without a start date: an ATS counts "
                   "experience from the dates.")}
    if source is not None and source.headings is not None:
        styles = source.date_styles
        out["date_format_mixed"] = None if len(styles) <= 1 else (
            "info", f"Dates are written in {len(styles)} styles ({', '.join(_DATE_STYLES[s] for s in styles)}); "
                    "use one throughout.")
    return out
