"""The optimisation flow (a CrewAI Flow): deterministic steps around the agents.

parse → analyse (skills, match before) → deterministic tailoring → agents rewrite the summary →
grounding check → result. The agents' text is used only if every claim in it is traced to the
original resume; otherwise the deterministic tailoring ships, marked `degraded` with the reasons.
A fabrication is never shipped.
"""

from __future__ import annotations

import difflib
import logging
import re
from functools import lru_cache
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.tracing import Tracing
from optimiser.agents import CrewOutputs, import_crewai, prompt_set, run_crew
from optimiser.parsing import parse_job, parse_resume
from optimiser.render import to_markdown
from optimiser.research import Research, research_company
from optimiser.resume import Job, Resume, personal_terms
from optimiser.settings import OptimiserSettings
from optimiser.tools.grounding import check_grounding
from optimiser.tools.matching import match
from optimiser.tools.skills import job_requirements
from optimiser.tools.tailoring import deterministic_tailor

log = logging.getLogger("resumeopt.optimiser.flow")
logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)  # token-estimate warning per call

Progress = Callable[[str, dict[str, Any]], None]
MAX_SUMMARY_CHARS = 700


class OptimiseInput(BaseModel):
    resume: str
    resume_format: str | None = None
    job: str
    job_format: str | None = None
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex)


class OptimiseState(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    request_id: str = ""
    original: Resume | None = None
    job: Job | None = None
    requirements: list[Any] = []
    baseline: Any = None
    crew: CrewOutputs | None = None
    crew_error: str = ""
    research: Research | None = None
    result: dict[str, Any] = {}


def summary_from(text: str) -> str:
    """The writer's answer as a summary: no headings, no quotes, at most three sentences."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(r"^[#*\s]*[A-Z][A-Za-z ]{2,30}:\s*$", ln)]
    body = " ".join(re.sub(r"^(new |professional )?summary:\s*", "", ln, flags=re.I) for ln in lines)
    body = body.strip().strip('"').strip()
    sentences = re.split(r"(?<=[.!?])\s+", body)
    return " ".join(sentences[:3])[:MAX_SUMMARY_CHARS].strip()


def resume_facts(resume: Resume) -> str:
    """A compact, factual view of the resume for the agents (short prompts: the model is small)."""
    parts = []
    for w in resume.work:
        dates = f"{w.startDate or '?'} - {w.endDate or 'Present'}"
        parts.append(f"{w.position} at {w.name} ({dates}).")
    for e in resume.education:
        parts.append(f"{e.studyType or ''} {e.area or ''} from {e.institution}.".strip())
    skills = [k for s in resume.skills for k in ([s.name] if not s.keywords else s.keywords)]
    if skills:
        parts.append("Skills: " + ", ".join(skills[:30]) + ".")
    return " ".join(parts)


def crew_inputs(original: Resume, job: Job, requirements: list[Any]) -> dict[str, str]:
    """The agents' task placeholders (`{job}`, `{matched_skills}`, `{summary}`, `{facts}` in prompts/):
    also what `resumeopt eval export-promptfoo` fills them with, so promptfoo sees what the crew sees."""
    matched = match(original, requirements, job.title).matched
    return {
        "job": job.description[:4000],
        "matched_skills": ", ".join(matched[:8]) or "the skills listed in the resume",
        "summary": original.basics.summary or "(none)",
        "facts": resume_facts(original),
    }


@lru_cache(maxsize=1)
def _flow_class():
    import_crewai()  # heavy, deferred to first use, under the import lock
    from crewai.flow.flow import Flow, listen, start

    class OptimiseFlow(Flow[OptimiseState]):
        def __init__(self, settings: OptimiserSettings, request_id: str, original: Resume, job: Job,
                     progress: Progress, tracing: Tracing):
            # Quiet: the flow runs inside a server; progress goes to our own callback, not to stdout panels.
            super().__init__(suppress_flow_events=True)
            self._settings, self._progress, self._tracing = settings, progress, tracing
            self._inputs = (request_id, original, job)
            self._prompts = prompt_set(settings.prompt_label)

        @start()
        def analyse(self) -> None:
            self.state.request_id, self.state.original, self.state.job = self._inputs
            with self._tracing.span("step analyse"):
                self.state.requirements = job_requirements(self.state.job)
                self.state.baseline = deterministic_tailor(self.state.original, self.state.requirements)
            with self._tracing.span("step research"):
                self.state.research = research_company(self.state.job.company)
            self._progress("analysed", {"requirements": len(self.state.requirements),
                                        "research": self.state.research.status})

        @listen(analyse)
        def write(self) -> None:
            self._progress("agents_started", {"agents": list(self._prompts)})
            try:
                with self._tracing.span("step agents"):
                    self.state.crew = run_crew(self._settings, self._prompts, self.state.request_id,
                                               self._crew_inputs(), personal_terms(self.state.original), self._tracing)
            except Exception as exc:  # the model is optional: the deterministic result still ships
                log.warning("agents failed for %s: %s", self.state.request_id, type(exc).__name__)
                self.state.crew_error = _reason(exc)
            self._progress("agents_finished", {"ok": self.state.crew is not None})

        @listen(write)
        def decide(self) -> None:
            with self._tracing.span("step decide"):  # grounding check, match score, rendering
                self.state.result = assemble(self.state, self._prompts)
            self._progress("checked", {"degraded": self.state.result["degraded"]})

        def _crew_inputs(self) -> dict[str, str]:
            return crew_inputs(self.state.original, self.state.job, self.state.requirements)

    return OptimiseFlow


def assemble(state: OptimiseState, prompts: dict) -> dict[str, Any]:
    """Choose what ships: the agents' summary on top of the deterministic tailoring if it is grounded."""
    original, baseline, reqs = state.original, state.baseline, state.requirements
    reasons: list[str] = []
    codes: list[str] = []  # the same reasons without text from the resume: what telemetry may keep
    candidate_violations: list[dict] = []
    tailored = baseline.resume
    if state.crew is None:
        reasons.append(f"model unavailable: {state.crew_error}")
        codes.append("model_unavailable")
    else:
        summary = summary_from(state.crew.summary)
        candidate = baseline.resume.model_copy(deep=True)
        candidate.basics.summary = summary
        report = check_grounding(original, candidate)
        if not summary:
            reasons.append("writer returned no usable summary")
            codes.append("empty_summary")
        elif report.passed:
            tailored = candidate
        else:
            candidate_violations = [v.model_dump() for v in report.violations]
            shown = "; ".join(f"{v.kind}: {v.text}" for v in report.violations[:5])
            reasons.append(f"writer output failed grounding ({len(report.violations)} violations: {shown})")
            codes.append("grounding_failed:" + ",".join(sorted({v.kind for v in report.violations})))
    final = check_grounding(original, tailored)
    title = state.job.title if state.job else None
    job_text = state.job.description if state.job else None
    before, after = match(original, reqs, title, job_text=job_text), match(tailored, reqs, title, job_text=job_text)
    tailored_md = to_markdown(tailored)
    return {
        "request_id": state.request_id,
        "tailored_resume": tailored_md,
        "diff": resume_diff(original, tailored_md),
        "tailored_resume_json": tailored.model_dump(exclude_none=True),
        "match": {"before": before.score, "after": after.score, "matched": after.matched,
                  "missing": after.missing, "before_detail": before.model_dump(),
                  "after_detail": after.model_dump()},
        "grounding": {"passed": final.passed, "violations": [v.model_dump() for v in final.violations],
                      "candidate_violations": candidate_violations},
        "degraded": bool(reasons),
        "degraded_reasons": reasons,
        "degraded_codes": codes,
        "changes": baseline.changes + ([] if tailored is baseline.resume else ["summary rewritten by the writer agent"]),
        "suggestions": baseline.suggestions,
        "review": state.crew.review.strip()[:1000] if state.crew else "",
        "prompt_versions": {name: p.version for name, p in prompts.items()},
        "research": state.research.model_dump() if state.research else None,
    }


def resume_diff(original: Resume, tailored_md: str) -> str:
    """A unified diff of the tailored resume against the original, both in the same Markdown layout, so
    the diff shows what tailoring changed rather than how the input was formatted."""
    lines = difflib.unified_diff(to_markdown(original).splitlines(keepends=True), tailored_md.splitlines(keepends=True),
                                 "original.md", "tailored.md", n=1)
    return "".join(lines)


def run_optimisation(settings: OptimiserSettings, request: OptimiseInput,
                     progress: Progress | None = None, tracing: Tracing | None = None) -> dict[str, Any]:
    """Run the flow synchronously (CrewAI is synchronous): call it from a worker thread, in a copy of
    the caller's context (asyncio.to_thread), so that the flow's span is a child of the request's."""
    started = time.perf_counter()
    emit = progress or (lambda stage, data: None)
    tracing = tracing or Tracing()
    with tracing.span("flow optimise", attributes={"resumeopt.request_id": request.request_id}):
        # Parse outside the flow so that bad input fails fast with its own error code (ResumeParseError).
        with tracing.span("step parse"):
            original = parse_resume(request.resume, request.resume_format)
            job = parse_job(request.job, request.job_format)
        emit("parsed", {"work_entries": len(original.work), "job_title": job.title})
        flow = _flow_class()(settings, request.request_id, original, job, emit, tracing)
        flow.kickoff()
    result = flow.state.result
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _reason(exc: Exception) -> str:
    """A short cause for the client, without URLs or payloads that could carry secrets."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
