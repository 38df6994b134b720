"""The optimisation flow (a CrewAI Flow): deterministic steps around the agents.

parse → analyse (skills, match before) → deterministic tailoring → agents: job analyst, resume analyst,
writer (its summary grounding-checked, and rewritten with the rejected claims listed, at most
`writer_retries` times), reviewer → result, with ATS checks of the original file and of our own DOCX.
The writer's summary is used only if every claim in it is traced to the original resume; otherwise the
deterministic tailoring ships, marked `degraded` with the reasons. A fabrication is never shipped.
"""

from __future__ import annotations

import base64
import difflib
import logging
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.tracing import Tracing
from optimiser.agents import AGENTS, Agents, import_crewai, prompt_set
from optimiser.experiments import ArmChoice, header
from optimiser.parsing import FORMATS, parse_job, parse_resume, sniff_format
from optimiser.prompts import has_ref
from optimiser.render import to_markdown
from optimiser.research import Research, research_company
from optimiser.resume import Job, Resume, personal_terms
from optimiser.settings import OptimiserSettings
from optimiser.tools.ats import ResumeSource, ats_report, describe, rendered_report
from optimiser.tools.grounding import check_grounding
from optimiser.tools.matching import match
from optimiser.tools.skills import job_requirements
from optimiser.tools.tailoring import deterministic_tailor
from optimiser.writing import UNSAFE_KINDS, Draft, drafts, grounded_lines, with_summary

log = logging.getLogger("resumeopt.optimiser.flow")
logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)  # token-estimate warning per call

Progress = Callable[[str, dict[str, Any]], None]


class OptimiseInput(BaseModel):
    resume: str
    resume_format: str | None = None
    job: str
    job_format: str | None = None
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    # What the upload reader knew about the resume file (tools/ats.ResumeSource as a dict: kind, bytes,
    # layout, headings, date_styles), set by the server for an upload; None: described from `resume`.
    source: dict | None = None
    # The experiment arms this request runs (optimiser/experiments.py): chosen by the server where the
    # request is accepted; whatever a client sends here is replaced.
    experiments: list[ArmChoice] = []
    # The prompts this request runs, chosen by the caller (evaluation runs, prompt reviews): a label for
    # every prompt that carries it (production for those that do not), and/or a label or version per
    # prompt name. Checked when the request is accepted (optimiser/api/prompt_choice.py); a request that
    # chooses its prompts runs no experiment arm.
    prompt_label: str | None = Field(None, max_length=64)
    prompts: dict[str, str] = Field(default_factory=dict, max_length=16)


class OptimiseState(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    request_id: str = ""
    original: Resume | None = None
    source: ResumeSource | None = None
    job: Job | None = None
    requirements: list[Any] = []
    baseline: Any = None
    drafts: list[Draft] = []  # the writer's, in order: the first and each rewrite
    review: str = ""
    crew_error: str = ""
    out_of_time: bool = False  # a rewrite was due but would not finish within optimise_timeout_s
    agents_skipped: list[str] = []  # advisory agents left out for the same reason
    research: Research | None = None
    result: dict[str, Any] = {}


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
        # filled later in the run (the analysts' answers, the grounding feedback for a rewrite)
        "requirements": "", "strengths": "", "feedback": "", "new_summary": "",
    }


@lru_cache(maxsize=1)
def _flow_class():
    import_crewai()  # heavy, deferred to first use, under the import lock
    from crewai.flow.flow import Flow, listen, start

    class OptimiseFlow(Flow[OptimiseState]):
        def __init__(self, settings: OptimiserSettings, request_id: str, original: Resume, source: ResumeSource,
                     job: Job, progress: Progress, tracing: Tracing, arms: list[ArmChoice],
                     chosen: dict[str, str]):
            # Quiet: the flow runs inside a server; progress goes to our own callback, not to stdout panels.
            super().__init__(suppress_flow_events=True)
            self._settings, self._progress, self._tracing = settings, progress, tracing
            self._deadline = time.monotonic() + settings.optimise_timeout_s
            self._agents: Agents | None = None
            self._inputs = (request_id, original, source, job)
            self._prompts = prompt_set(settings.prompt_label, {a.prompt: a.ref for a in arms} | chosen,
                                       settings.prompts_dir)
            self._experiments = header(arms)

        @start()
        def analyse(self) -> None:
            self.state.request_id, self.state.original, self.state.source, self.state.job = self._inputs
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
                    self._run_agents()
            except Exception as exc:  # the model is optional: the deterministic result still ships
                log.warning("agents failed for %s: %s", self.state.request_id, type(exc).__name__)
                self.state.crew_error = _reason(exc)
            self._progress("agents_finished", {"ok": not self.state.crew_error, "skipped": self.state.agents_skipped,
                                               "writer_attempts": len(self.state.drafts)})

        @listen(write)
        def decide(self) -> None:
            with self._tracing.span("step decide"):  # match score, ATS checks, rendering
                self.state.result = assemble(self.state, self._prompts)
            self._progress("checked", {"degraded": self.state.result["degraded"]})

        def _run_agents(self) -> None:
            state = self.state
            agents = self._agents = Agents(self._settings, self._prompts, state.request_id,
                                           personal_terms(state.original), self._tracing, self._experiments)
            inputs = self._crew_inputs()
            inputs["requirements"] = agents.run("job_analyst", inputs)
            inputs["strengths"] = "(none beyond the facts below)"
            if self._in_time("resume_analyst", calls=3):  # it, the writer, the reviewer
                strengths = grounded_lines(agents.run("resume_analyst", inputs), state.original, state.baseline.resume)
                inputs["strengths"] = "\n".join(strengths) or inputs["strengths"]
            for draft in drafts(lambda feedback: agents.run("writer", {**inputs, "feedback": feedback}),
                                state.original, state.baseline.resume, self._prompts["writer"].task.feedback,
                                self._settings.writer_retries, self._before_rewrite):
                state.drafts.append(draft)
            if self._in_time("reviewer", calls=1):
                state.review = agents.run("reviewer", {**inputs, "new_summary": state.drafts[-1].summary or "(none)"})

        def _time_for(self, calls: int) -> bool:
            """Whether `calls` more agent runs, each as long as the slowest so far, end before the deadline:
            past it the caller has had its 504, and the work would be read by nobody."""
            return time.monotonic() + calls * self._agents.slowest_s <= self._deadline

        def _in_time(self, advisory_agent: str, calls: int) -> bool:
            # The resume analyst and the reviewer are advisory: when late they are skipped, and said so.
            if self._time_for(calls):
                return True
            self.state.agents_skipped.append(advisory_agent)
            return False

        def _before_rewrite(self, attempt: int, kinds: list[str]) -> bool:
            if not self._time_for(calls=2):  # the rewrite, then the reviewer
                self.state.out_of_time = True
                return False
            # Kinds only: the violations' text quotes the draft, and progress events are logged.
            self._progress("rewrite", {"attempt": attempt, "violations": kinds})
            return True

        def _crew_inputs(self) -> dict[str, str]:
            return crew_inputs(self.state.original, self.state.job, self.state.requirements)

    return OptimiseFlow


def _decision(state: OptimiseState) -> tuple[Resume, list[str], list[str]]:
    """What ships (the last draft on top of the deterministic tailoring if it is grounded, else the
    deterministic tailoring) and the reasons it is degraded, as text and as codes (no resume text: what
    telemetry may keep). The reviewer is advisory: its failure alone does not hold back a grounded draft."""
    reasons: list[str] = []
    codes: list[str] = []
    last = state.drafts[-1] if state.drafts else None
    if last is not None and last.passed:
        return with_summary(state.baseline.resume, last.summary), reasons, codes
    if last is not None and not last.summary:
        reasons.append("writer returned no usable summary")
        codes.append("empty_summary")
    elif last is not None:
        shown = "; ".join(f"{v.kind}: {v.text}" for v in last.violations[:5])
        tries = f" after {len(state.drafts)} attempts" if len(state.drafts) > 1 else ""
        every = {v.kind for v in last.violations}
        kinds = sorted(every - {"not_a_summary"} - UNSAFE_KINDS)
        if kinds:
            reasons.append(f"writer output failed grounding{tries} ({len(last.violations)} violations: {shown})")
            codes.append("grounding_failed:" + ",".join(kinds))
        if unsafe := sorted(every & UNSAFE_KINDS):
            reasons.append(f"writer output was unsafe{tries} ({', '.join(unsafe)})")
            codes.append("unsafe_output:" + ",".join(unsafe))
        if "not_a_summary" in every:
            reasons.append(f"writer answered with something other than a summary{tries} ({shown})")
            codes.append("not_a_summary")
    if state.out_of_time:
        reasons.append("no rewrite: it would not have finished within the optimisation's time limit")
        codes.append("rewrite_out_of_time")
    if state.crew_error:
        reasons.append(f"model unavailable: {state.crew_error}")
        codes.append("model_unavailable")
    return state.baseline.resume, reasons, codes


def assemble(state: OptimiseState, prompts: dict) -> dict[str, Any]:
    """The result: what ships (see _decision), its grounding, match score, ATS checks and renderings."""
    original, baseline, reqs = state.original, state.baseline, state.requirements
    tailored, reasons, codes = _decision(state)
    final = check_grounding(original, tailored)
    title = state.job.title if state.job else None
    job_text = state.job.description if state.job else None
    before, after = match(original, reqs, title, job_text=job_text), match(tailored, reqs, title, job_text=job_text)
    tailored_md = to_markdown(tailored)
    ats_after, docx = rendered_report(tailored)
    rejected = [{**v.model_dump(), "attempt": i} for i, d in enumerate(state.drafts, 1) for v in d.violations]
    return {
        "request_id": state.request_id,
        "tailored_resume": tailored_md,
        "diff": resume_diff(original, tailored_md),
        "tailored_resume_json": tailored.model_dump(exclude_none=True),
        "tailored_resume_docx_b64": base64.b64encode(docx).decode(),
        "match": {"before": before.score, "after": after.score, "matched": after.matched,
                  "missing": after.missing, "before_detail": before.model_dump(),
                  "after_detail": after.model_dump()},
        "grounding": {"passed": final.passed, "violations": [v.model_dump() for v in final.violations],
                      "candidate_violations": rejected},
        "ats": {"before": ats_report(original, state.source).model_dump(), "after": ats_after.model_dump()},
        "degraded": bool(reasons),
        "degraded_reasons": reasons,
        "degraded_codes": codes,
        "writer_attempts": len(state.drafts),
        "agents_skipped": state.agents_skipped,
        "changes": baseline.changes + ([] if tailored is baseline.resume else ["summary rewritten by the writer agent"]),
        "suggestions": baseline.suggestions,
        "review": state.review.strip()[:1000],
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
            source = _source(request)
        emit("parsed", {"work_entries": len(original.work), "job_title": job.title})
        flow = _flow_class()(settings, request.request_id, original, source, job, emit, tracing, request.experiments,
                             chosen_prompts(request, settings.prompts_dir))
        flow.kickoff()
    result = flow.state.result
    result["experiments"] = {a.experiment: a.arm for a in request.experiments}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def chosen_prompts(request: OptimiseInput, root: Path) -> dict[str, str]:
    """{prompt name: ref} the request chose: `prompts` as given, and `prompt_label` for every other prompt
    that carries that label (prompts without it stay at the default label)."""
    chosen = dict(request.prompts)
    if request.prompt_label:
        for name in AGENTS:
            if name not in chosen and has_ref(name, request.prompt_label, root):
                chosen[name] = request.prompt_label
    return chosen


def _source(request: OptimiseInput) -> ResumeSource:
    """The upload's description, or one from the resume text (a JSON body): headings and dates still apply."""
    if request.source is not None:
        return ResumeSource.model_validate(request.source)
    fmt = (request.resume_format or "").lower()
    fmt = fmt if fmt in FORMATS else sniff_format(request.resume)
    return describe(request.resume, fmt, fmt, len(request.resume.encode()))


def _reason(exc: Exception) -> str:
    """A short cause for the client, without URLs or payloads that could carry secrets."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
