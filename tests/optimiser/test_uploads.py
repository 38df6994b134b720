"""Resume files to the canonical Resume: PDF, DOCX, text and JSON Resume through one parser, typed by
their bytes; every file that cannot be read is refused with a stable code and the right status."""

from __future__ import annotations

import json

import pytest

from optimiser.parsing import ResumeParseError, parse_resume
from optimiser.settings import OptimiserSettings
from optimiser.uploads import resume_text
from tests.optimiser.docs import IMAGE_RUN, docx, document_xml, para, pdf, table, text_box, zip_bomb_member

SETTINGS = OptimiserSettings()
CV_LINES = """JANE SMITH
Backend Engineer
jane@example.com | +1 555 0100 | github.com/janesmith | Austin, TX

SUMMARY
Backend engineer with 6 years of Python and Go.

EXPERIENCE
Senior Engineer at Acme Corp (2019-2021)
• Cut API latency by 40% with Redis caching

EDUCATION
BSc Computer Science, State University, 2016

SKILLS
Python, Go, PostgreSQL""".splitlines()
DOCX_BODY = (para("Jane Smith", "Title") + para("jane@example.com | Austin, TX")
             + para("Experience", "Heading1") + para("Senior Engineer at Acme Corp (2019-2021)", "Heading2")
             + para("Cut API latency by 40% with Redis caching", numbered=True)
             + para("Education", "Heading1") + table([["BSc Computer Science, State University, 2016"]])
             + para("Skills", "Heading1") + para("Python, Go, PostgreSQL"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _resume(data: bytes, **declared):
    text = resume_text(data, SETTINGS, **declared)
    return text, parse_resume(text.text, text.fmt)


def _refused(data: bytes, settings: OptimiserSettings = SETTINGS, **declared) -> ResumeParseError:
    with pytest.raises(ResumeParseError) as err:
        resume_text(data, settings, **declared)
    return err.value


def _assert_jane(resume) -> None:
    assert resume.basics.name.lower() == "jane smith" and resume.basics.email == "jane@example.com"
    (work,) = resume.work
    assert (work.position, work.name, work.startDate, work.endDate) == ("Senior Engineer", "Acme Corp", "2019", "2021")
    assert "Cut API latency by 40% with Redis caching" in (work.highlights + [work.summary or ""])[0]
    (edu,) = resume.education
    assert (edu.studyType, edu.area, edu.institution) == ("BSc", "Computer Science", "State University")
    assert [s.name for s in resume.skills] == ["Python", "Go", "PostgreSQL"]


def test_pdf_over_two_pages_parses_like_the_text():
    text, resume = _resume(pdf(CV_LINES[:8], CV_LINES[8:]))
    assert (text.kind, text.fmt) == ("pdf", "text")
    _assert_jane(resume)
    assert resume.work[0].highlights == ["Cut API latency by 40% with Redis caching"]  # "•" read as a bullet


def test_docx_headings_lists_and_tables_reach_the_parser():
    text, resume = _resume(docx(DOCX_BODY), filename="cv.docx")
    assert (text.kind, text.fmt) == ("docx", "markdown")
    assert "## Experience" in text.text and "- Cut API latency" in text.text
    _assert_jane(resume)
    assert resume.work[0].highlights == ["Cut API latency by 40% with Redis caching"]
    assert text.layout == {"tables": 1, "text_boxes": 0, "images": 0, "header_footer_text": False,
                           "header_footer_contact": [], "columns": 1}


def test_docx_layout_reports_text_boxes_images_and_header_text():
    body = para("Skills", "Heading1") + para("Python", extra=text_box("Go") + IMAGE_RUN)
    text, resume = _resume(docx(para("Jane Smith", "Title") + body, header=para("jane@example.com")))
    assert text.layout == {"tables": 0, "text_boxes": 1, "images": 1, "header_footer_text": True,
                           "header_footer_contact": ["email"], "columns": 1}
    assert resume.basics.email == "jane@example.com"  # header text is read first: contact details live there
    assert [s.name for s in resume.skills] == ["Python", "Go"]  # the text box is read in place


def test_text_markdown_and_json_resume_files():
    _, plain = _resume("\n".join(CV_LINES).encode("utf-8-sig"), filename="cv.txt")  # a BOM is dropped
    _assert_jane(plain)
    text, md = _resume(b"# Ann Lee\n\n## Skills\n- Python\n")
    assert (text.kind, md.basics.name, md.skills[0].name) == ("markdown", "Ann Lee", "Python")
    data = {"basics": {"name": "Ann Lee"}, "skills": [{"name": "Go"}]}
    text, js = _resume(json.dumps(data).encode(), content_type="application/json")
    assert text.kind == "json" and js.model_dump(exclude_none=True) == data


def test_type_comes_from_the_bytes_not_the_declared_name():
    text, resume = _resume(pdf(CV_LINES), filename="cv.docx", content_type="text/plain")
    assert text.kind == "pdf"
    _assert_jane(resume)


@pytest.mark.parametrize(("data", "declared", "status", "code"), [
    (pdf(image_page=True), {}, 422, "no_text_layer"),
    (pdf(CV_LINES)[:300], {}, 422, "unreadable_file"),                       # cut short: no xref, no pages
    (b"%PDF-1.4\n" + b"\x00garbage" * 50, {}, 422, "unreadable_file"),
    (docx(DOCX_BODY)[:-200], {}, 422, "unreadable_file"),                     # truncated zip
    (docx(DOCX_BODY)[:-200], {"filename": "cv.docx"}, 422, "unreadable_file"),
    (zip_bomb_member(docx(DOCX_BODY)), {}, 413, "file_too_large"),           # claims ~4 GB unpacked
    (docx("", document=document_xml(para("x"), '<!DOCTYPE w [<!ENTITY a "aaaa">]>')), {}, 422, "unreadable_file"),
    (PNG, {"filename": "cv.png", "content_type": "image/png"}, 415, "unsupported_media_type"),
    (PNG, {}, 415, "unsupported_media_type"),
    (PNG, {"filename": "cv.pdf"}, 422, "unreadable_file"),                   # said PDF, is not one
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, {}, 415, "unsupported_media_type"),  # legacy .doc
    (b"\x80abc not utf-8", {}, 415, "unsupported_media_type"),
    (b"  \n\t ", {}, 422, "empty_resume"),
], ids=["scanned-pdf", "cut-pdf", "corrupt-pdf", "truncated-zip", "truncated-docx", "zip-bomb", "doctype",
        "png", "png-undeclared", "png-named-pdf", "legacy-doc", "not-utf8", "empty"])
def test_unreadable_files_have_a_status_and_a_stable_code(data, declared, status, code):
    err = _refused(data, **declared)
    assert (err.status, err.code) == (status, code)


def test_scanned_pdf_is_refused_never_replaced_by_made_up_text():
    err = _refused(pdf(image_page=True))
    assert "no extractable text" in err.message


def test_bounds_on_size_and_pages():
    err = _refused(b"x" * 1001, OptimiserSettings(max_upload_bytes=1000))
    assert (err.status, err.code) == (413, "file_too_large")
    err = _refused(pdf(["a"], ["b"], ["c"]), OptimiserSettings(max_pdf_pages=2))
    assert (err.status, err.code) == (422, "too_many_pages")


def test_docx_without_heading_styles_goes_to_the_plain_text_parser():
    body = "".join(para(line, "Title" if i == 0 else "") for i, line in enumerate(CV_LINES))
    text, resume = _resume(docx(body))
    assert text.fmt == "text" and not text.text.startswith("#")
    _assert_jane(resume)


def test_a_pdf_that_takes_too_long_is_given_up_on():
    err = _refused(pdf(CV_LINES), OptimiserSettings(file_read_timeout_s=0.01))
    assert (err.status, err.code) == (422, "unreadable_file") and "within" in err.message
