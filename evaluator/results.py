"""What judges read: an optimisation result, plus the inputs it was made from.

`POST /v1/optimise` returns the tailored resume but not the resume and job it was given. Judges that
compare against them (length, embedding relevance, the LLM rubric, ragas, safety) read them from
`result["inputs"] = {"resume": str, "job": str}`, which whoever judges attaches (`with_inputs`); a judge
whose inputs are missing returns no score rather than a made-up one.

`result_from_texts` builds a result from a resume, a job and a tailored resume given as text, with the
optimiser's own deterministic tools (match score, grounding, the ATS checks on our DOCX rendering read
back, as the optimiser reports `ats.after`), so judges can score tailorings that did not come out of the
optimiser: the calibration pairs.
"""

from __future__ import annotations

from typing import Any

from optimiser.parsing import parse_job, parse_resume
from optimiser.render import to_markdown
from optimiser.tools.ats import ats_report, rendered_report
from optimiser.tools.grounding import check_grounding
from optimiser.tools.matching import match
from optimiser.tools.skills import job_requirements


def with_inputs(result: dict[str, Any], resume: str, job: str) -> dict[str, Any]:
    """A shallow copy of `result` carrying the texts it was made from."""
    return {**result, "inputs": {"resume": resume, "job": job}}


def source_resume(result: dict[str, Any]) -> str | None:
    return (result.get("inputs") or {}).get("resume") or None


def source_job(result: dict[str, Any]) -> str | None:
    return (result.get("inputs") or {}).get("job") or None


def as_markdown(resume_text: str) -> str:
    """Any resume text (JSON Resume, Markdown, plain) in the optimiser's Markdown layout, so that an
    original and its tailoring are read and measured in the same form."""
    return to_markdown(parse_resume(resume_text))


def result_from_texts(resume: str, job: str, tailored: str, request_id: str = "offline") -> dict[str, Any]:
    """The fields of an optimiser result that judges read, computed from texts."""
    original, tailored_resume, parsed_job = parse_resume(resume), parse_resume(tailored), parse_job(job)
    reqs = job_requirements(parsed_job)
    before = match(original, reqs, parsed_job.title, job_text=parsed_job.description)
    after = match(tailored_resume, reqs, parsed_job.title, job_text=parsed_job.description)
    grounding = check_grounding(original, tailored_resume)
    ats_after, _ = rendered_report(tailored_resume)
    return with_inputs({
        "request_id": request_id,
        "tailored_resume": to_markdown(tailored_resume),
        "tailored_resume_json": tailored_resume.model_dump(exclude_none=True),
        "match": {"before": before.score, "after": after.score, "matched": after.matched,
                  "missing": after.missing},
        "grounding": {"passed": grounding.passed, "violations": [v.model_dump() for v in grounding.violations],
                      "candidate_violations": []},
        "ats": {"before": ats_report(original).model_dump(), "after": ats_after.model_dump()},
        "degraded": False,
    }, resume, job)
