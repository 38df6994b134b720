"""`resumeopt check-grounding`, `resumeopt ats check` and `resumeopt skills extract` as a user runs them: a
subprocess of the real CLI on files from datasets/ (or written by the test), JSON on stdout, the documented
exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GROUNDING = REPO / "datasets" / "grounding"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "resumeopt.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def _check(original: str, tailored: str, *extra: str) -> subprocess.CompletedProcess:
    return _cli("check-grounding", "--original", str(GROUNDING / original), "--tailored",
                str(GROUNDING / tailored), "--json", *extra)


@pytest.mark.parametrize(("tailored", "code", "kind"), [
    ("tailored/jd-good-summary.md", 0, None),
    ("tailored/jd-bad-llm-rewrite.md", 1, "title"),
])
def test_check_grounding_markdown(tailored, code, kind):
    out = _check("originals/john-doe.cv.md", tailored)
    assert out.returncode == code, out.stderr
    report = json.loads(out.stdout)
    assert report["passed"] is (code == 0)
    assert kind is None or kind in {v["kind"] for v in report["violations"]}
    assert all(set(v) >= {"kind", "text"} for v in report["violations"])


def test_check_grounding_approved_skills():
    args = ("originals/career-changer.resume.json", "tailored/cc-good-approved-skill.json")
    refused = json.loads(_check(*args).stdout)
    assert [(v["kind"], v["text"]) for v in refused["violations"]] == [("skill", "Power BI")]
    assert _check(*args, "--approved-skills", "Tableau,Power BI").returncode == 0


def test_check_grounding_bad_input():
    out = _check("originals/john-doe.cv.md", "no-such-file.json")
    assert out.returncode == 2 and out.stdout == ""
    assert json.loads(out.stderr)["error"]["code"] == "file_not_found"


def test_skills_extract_offsets_slice_back(tmp_path):
    text = "Résumé:\r\nWe use Kubernetes (k8s), Node.js and PostgreSQL.\r\nStrong communication skills!"
    path = tmp_path / "jd.txt"
    path.write_bytes(text.encode("utf-8"))
    out = _cli("skills", "extract", "--text-file", str(path), "--json")
    assert out.returncode == 0, out.stderr
    skills = json.loads(out.stdout)["skills"]
    assert [s["text"] for s in skills] == ["Kubernetes", "k8s", "Node.js", "PostgreSQL", "communication skills"]
    assert all(text[s["start"]:s["end"]] == s["text"] for s in skills)
    assert {s["kind"] for s in skills} == {"hard", "soft"}


def test_ats_check_reports_issues_with_codes_and_exits_1_on_an_error(tmp_path):
    from tests.optimiser.docs import docx, para
    from tests.optimiser.test_ats import CONTACT, resume_body

    flawed, clean = tmp_path / "flawed.docx", tmp_path / "clean.docx"
    flawed.write_bytes(docx(resume_body(contact=False), header=para(CONTACT)))
    clean.write_bytes(docx(resume_body()))
    out = _cli("ats", "check", "--file", str(flawed), "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert {i["code"] for i in report["issues"]} == {"contact_in_header", "header_footer_text"}
    assert report["checks"]["contact_in_header"] is False and report["score"] < 100
    out = _cli("ats", "check", "--file", str(clean))
    assert out.returncode == 0 and out.stdout.startswith("ATS score 100/100")


def test_ats_check_bad_input(tmp_path):
    (tmp_path / "cv.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    for path, code in (("no-such-file.pdf", "file_not_found"), (str(tmp_path / "cv.png"), "unsupported_media_type")):
        out = _cli("ats", "check", "--file", path, "--json")
        assert out.returncode == 2 and out.stdout == ""
        assert json.loads(out.stderr)["error"]["code"] == code
