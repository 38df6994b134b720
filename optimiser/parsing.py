"""Parse resumes (JSON Resume, Markdown, plain text) and job descriptions (text or JSON job schema).

Errors are `ParseError`s with a stable `code` and the HTTP `status` the API returns to clients:
"invalid_json", "invalid_resume", "empty_resume", "invalid_job", "empty_job", "unsupported_format"
(422); resume files (optimiser/uploads.py) add "unreadable_file", "no_text_layer", "too_many_pages"
(422), "file_too_large" (413) and "unsupported_media_type" (415).
"""

from __future__ import annotations

import json
import re

from pydantic import ValidationError

from optimiser.cv_markdown import parse_cv
from optimiser.resume import Job, Resume

FORMATS = ("json", "markdown", "text")


class ParseError(ValueError):
    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class ResumeParseError(ParseError):
    pass


class JobParseError(ResumeParseError):
    """A bad job description. A ResumeParseError too, so one `except ResumeParseError` (the API's
    input-error handler) maps both inputs to a client error instead of a 500."""


def sniff_format(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    markdown = re.search(r"^\s{0,3}(#{1,6}\s|\*\*[^*]+\*\*|[-*]\s+\*\*)", text, re.M)
    return "markdown" if markdown else "text"


def parse_resume(text: str, fmt: str | None = None) -> Resume:
    """A Resume from JSON Resume, Markdown or plain text (fmt=None sniffs the format)."""
    if not text or not text.strip():
        raise ResumeParseError("empty_resume", "The resume is empty.")
    fmt = (fmt or sniff_format(text)).lower()
    if fmt not in FORMATS:
        raise ResumeParseError("unsupported_format", f"Unsupported resume format {fmt!r}; use one of {FORMATS}.")
    resume = _resume_from_json(text) if fmt == "json" else Resume.model_validate(parse_cv(text, fmt == "markdown"))
    if not resume.all_text() and not resume.basics.name:
        raise ResumeParseError("empty_resume", "No text could be extracted from the resume.")
    return resume


def _resume_from_json(text: str) -> Resume:
    data = _load_json(text, ResumeParseError)
    if not isinstance(data, dict):
        raise ResumeParseError("invalid_resume", "A JSON Resume must be a JSON object.")
    try:
        return Resume.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        message = f"Not a valid JSON Resume: {where}: {exc.errors()[0]['msg']}."
        raise ResumeParseError("invalid_resume", message) from None


def _load_json(text: str, error: type[ParseError]):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error("invalid_json", f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None


# --- jobs -------------------------------------------------------------------------------------

_ROLE = (r"(?:Engineer|Developer|Manager|Scientist|Analyst|Designer|Architect|Lead|Director|"
         r"Specialist|Consultant|Administrator|Officer|Intern|Coordinator|Programmer|Technician|"
         r"Researcher|Writer|Strategist|Recruiter|Accountant|Executive|Representative|SRE|Head of \w+)")
_TITLE_PHRASE = re.compile(
    r"(?:looking for|hiring|seeking|searching for|recruiting|in search of)\s+(?:an?\s+|the\s+|our\s+(?:next|new)\s+)?"
    rf"(?P<title>(?:[A-Z][\w+#./&-]*\s+){{0,5}}?{_ROLE}s?)\b")
_TITLE_LABEL = re.compile(r"^\W*(?:job title|title|position|role)\s*:\s*(?P<v>.+)$", re.I | re.M)
_COMPANY_LABEL = re.compile(r"^\W*(?:company|employer|organi[sz]ation)\s*:\s*(?P<v>.+)$", re.I | re.M)


def parse_job(text: str, fmt: str | None = None) -> Job:
    """A Job from a plain-text/Markdown description or a JSON Resume job-schema document."""
    if not text or not text.strip():
        raise JobParseError("empty_job", "The job description is empty.")
    fmt = (fmt or ("json" if text.lstrip().startswith("{") else "text")).lower()
    if fmt == "json":
        return _job_from_json(text)
    if fmt not in FORMATS:
        raise JobParseError("unsupported_format", f"Unsupported job format {fmt!r}; use one of {FORMATS}.")
    return Job(title=sniff_title(text), company=_label(_COMPANY_LABEL, text), description=text.strip())


def sniff_title(text: str) -> str:
    labelled = _label(_TITLE_LABEL, text)
    if labelled:
        return labelled
    first = next((ln.strip(" #*\t") for ln in text.splitlines() if ln.strip()), "")
    if len(first.split()) <= 10 and not first.endswith((".", ":")) and re.search(_ROLE, first):
        return first
    m = _TITLE_PHRASE.search(text)
    return m.group("title").strip() if m else ""


def _label(pattern: re.Pattern, text: str) -> str:
    m = pattern.search(text)
    return m.group("v").strip(" *") if m else ""


def _job_skill_terms(skill: dict) -> list[str]:
    # A group's keywords are the skills; its name ("Web Development") is only a category,
    # used when the group has no keywords.
    terms = skill.get("keywords") or [skill.get("name")]
    return [t.strip() for t in terms if isinstance(t, str) and t.strip()]


def _job_from_json(text: str) -> Job:
    data = _load_json(text, JobParseError)
    if not isinstance(data, dict):
        raise JobParseError("invalid_job", "A JSON job must be a JSON object.")
    parts = [data.get("description") or ""]
    for key, heading in (("responsibilities", "Responsibilities"), ("qualifications", "Requirements")):
        items = data.get(key) or []
        if isinstance(items, list) and items:
            parts.append(f"{heading}:\n" + "\n".join(f"- {i}" for i in items if isinstance(i, str)))
    skills = [k for s in data.get("skills") or [] if isinstance(s, dict) for k in _job_skill_terms(s)]
    extra = {k: v for k, v in data.items() if k not in ("title", "company", "description", "skills")}
    try:
        job = Job(title=data.get("title") or "", company=data.get("company") or "",
                  description="\n\n".join(p for p in parts if p).strip(), skills=skills, **extra)
    except ValidationError as exc:
        raise JobParseError("invalid_job", f"Not a valid job: {exc.errors()[0]['msg']}.") from None
    if not (job.description or job.title or job.skills):
        raise JobParseError("empty_job", "The job has no title, description or skills.")
    return job
