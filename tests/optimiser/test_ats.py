"""ATS checks on resume files the tests write themselves (tests/optimiser/docs.py), read as an upload is
(optimiser/uploads.py): what an applicant tracking system may misread is reported with a stable code,
a clean file passes every check, and our own DOCX rendering of every example resume passes them all."""

from __future__ import annotations

import json
import random

import pytest

from optimiser.parsing import parse_resume
from optimiser.settings import OptimiserSettings
from optimiser.tools.ats import LARGE_FILE_BYTES, PENALTY, ats_report, describe, rendered_report
from optimiser.uploads import resume_text
from tests.optimiser.docs import IMAGE_RUN, docx, para, pdf, section, table, text_box

SETTINGS = OptimiserSettings()
CONTACT = "jane@example.com | +1 555 0100 | Austin, TX"
LAYOUT_CHECKS = {"table", "multi_column", "image", "text_box", "header_footer_text", "contact_in_header"}


def resume_body(*, contact: bool = True, headings: tuple[str, ...] = ("Experience", "Education", "Skills"),
          education=None) -> str:
    """A one-page resume's DOCX body: name, contact line, three Heading 1 sections."""
    work, edu, skills = headings
    return (para("Jane Smith", "Title") + (para(CONTACT) if contact else "")
            + para(work, "Heading1") + para("Senior Engineer at Acme Corp (2019-2021)", "Heading2")
            + para("Cut API latency by 40% with Redis caching", numbered=True)
            + para(edu, "Heading1") + (education or para("BSc Computer Science, State University, 2016"))
            + para(skills, "Heading1") + para("Python, Go, PostgreSQL"))


def _report(data: bytes):
    text = resume_text(data, SETTINGS)
    return ats_report(parse_resume(text.text, text.fmt), text.source())


def _codes(report) -> set[str]:
    return {i.code for i in report.issues}


def test_a_clean_docx_passes_every_check():
    report = _report(docx(resume_body()))
    assert report.score == 100 and report.issues == []
    assert set(report.checks) >= LAYOUT_CHECKS | {"nonstandard_heading", "contact_missing", "file_too_large"}
    assert all(report.checks.values())


def test_a_table_is_a_warning():
    report = _report(docx(resume_body(education=table([["BSc Computer Science", "State University", "2016"]]))))
    (issue,) = report.issues
    assert (issue.code, issue.severity) == ("table", "warning") and "1 table(s)" in issue.message
    assert report.checks["table"] is False and report.score == 100 - PENALTY["warning"]


def test_contact_only_in_the_header_is_an_error_though_the_parser_reads_it():
    report = _report(docx(resume_body(contact=False), header=para(CONTACT)))
    assert _codes(report) == {"contact_in_header", "header_footer_text"}
    issue = next(i for i in report.issues if i.code == "contact_in_header")
    assert issue.severity == "error" and "email and phone are only in the page header" in issue.message
    assert report.checks["contact_missing"] is True  # found (header text is read first), but in the wrong place
    assert report.score == 100 - PENALTY["error"] - PENALTY["warning"]


def test_contact_in_header_and_body_is_only_header_text():
    report = _report(docx(resume_body(), header=para(CONTACT)))
    assert _codes(report) == {"header_footer_text"}


def test_odd_headings_are_named():
    report = _report(docx(resume_body(headings=("My Journey", "Education", "What I Bring"))))
    (issue,) = report.issues
    assert issue.code == "nonstandard_heading" and issue.severity == "warning"
    assert "'My Journey'" in issue.message and "'What I Bring'" in issue.message and "'Education'" not in issue.message


def test_images_text_boxes_and_columns():
    body = resume_body().replace(para("Python, Go, PostgreSQL"), para("Python", extra=text_box("Go") + IMAGE_RUN))
    report = _report(docx(body + section(columns=2)))
    assert _codes(report) == {"image", "text_box", "multi_column"}
    assert {i.code: i.severity for i in report.issues} == {"image": "warning", "text_box": "error",
                                                          "multi_column": "warning"}


def test_missing_contact_details():
    no_phone = _report(docx(resume_body().replace(CONTACT, "jane@example.com")))
    assert [(i.code, i.severity) for i in no_phone.issues] == [("contact_missing", "warning")]
    nothing = _report(docx(resume_body(contact=False)))
    (issue,) = nothing.issues
    assert (issue.code, issue.severity) == ("contact_missing", "error")
    assert "No email address and no phone number" in issue.message


def test_a_file_over_the_threshold_is_a_warning():
    photo = random.Random(6).randbytes(LARGE_FILE_BYTES)  # incompressible, as an embedded photo is
    report = _report(docx(resume_body(), extra={"word/media/image1.jpeg": photo}))
    (issue,) = report.issues
    assert (issue.code, issue.severity) == ("file_too_large", "warning") and "1.0 MB" in issue.message


def test_pdf_two_columns_and_images():
    sidebar = ["JANE SMITH", "jane@example.com", "+1 555 0100", "", "SKILLS", "Python", "Go", "PostgreSQL"]
    main = ["EXPERIENCE", "Senior Engineer at Acme Corp (2019-2021)", "- Cut API latency by 40%", "",
            "EDUCATION", "BSc Computer Science, 2016"]
    report = _report(pdf((sidebar, main), image_page=True))
    assert _codes(report) == {"multi_column", "image"}
    assert "header_footer_text" not in report.checks  # a PDF has no header part to look at


def test_pdf_one_column_with_dates_on_the_right_is_clean():
    lines = ["JANE SMITH", "jane@example.com | +1 555 0100", "", "EXPERIENCE", "Senior Engineer, Acme Corp",
             "- Cut API latency by 40%", "- Built the billing service", "", "EDUCATION", "BSc Computer Science"]
    report = _report(pdf((lines, ["", "", "", "", "2019 - 2021"])))
    assert report.checks["multi_column"] and report.checks["image"]


def test_text_resumes_get_the_heading_contact_and_date_checks_only():
    text = "\n".join(["JANE SMITH", CONTACT, "", "MY JOURNEY", "Senior Engineer at Acme Corp (June 2019 - 06/2021)",
                      "", "SKILLS", "Python, Go"])
    report = ats_report(parse_resume(text, "text"), describe(text, "text", "text", len(text)))
    assert not LAYOUT_CHECKS & set(report.checks)
    assert _codes(report) == {"nonstandard_heading", "date_format_mixed"}
    assert "'MY JOURNEY'" in next(i.message for i in report.issues if i.code == "nonstandard_heading")
    assert next(i.severity for i in report.issues if i.code == "date_format_mixed") == "info"


def test_json_resumes_have_no_headings_to_check():
    data = {"basics": {"name": "Ann Lee", "email": "ann@example.com"}, "work": [{"name": "Acme", "position": "Dev"}]}
    text = json.dumps(data)
    report = ats_report(parse_resume(text, "json"), describe(text, "json", "json", len(text)))
    assert "nonstandard_heading" not in report.checks
    assert _codes(report) == {"contact_missing", "date_missing"}  # no phone; a job without dates


def test_without_a_source_only_the_resume_is_checked():
    report = ats_report(parse_resume("# Ann Lee\n\nann@example.com | +1 555 0100\n\n## Skills\n- Go\n"))
    assert set(report.checks) == {"contact_missing", "date_missing"} and report.score == 100


def test_our_docx_rendering_of_every_example_resume_passes_every_check(example_resume):
    report, data = rendered_report(example_resume)
    assert report.score == 100 and report.issues == [], report.issues
    assert set(report.checks) >= LAYOUT_CHECKS and all(report.checks.values())
    assert data.startswith(b"PK")


@pytest.mark.parametrize("make", [
    lambda: docx(resume_body(education=table([["BSc", "2016"]]))),
    lambda: docx(resume_body(contact=False), header=para(CONTACT)),
    lambda: docx(resume_body(headings=("My Journey", "Education", "What I Bring"))),
    lambda: docx(resume_body().replace(para("Python, Go, PostgreSQL"), para("Python", extra=text_box("Go") + IMAGE_RUN))),
], ids=["table", "header-contact", "odd-headings", "text-box-image"])
def test_our_rendering_of_a_flawed_upload_is_clean(make):
    text = resume_text(make(), SETTINGS)
    assert _report(make()).issues
    report, _ = rendered_report(parse_resume(text.text, text.fmt))
    assert report.issues == [] and report.score == 100
