"""Our judges on one writer output: what an exported promptfoo config's asserts check, in our own code.

A writer output is judged as the optimiser would take it: the flow's `assemble` puts it where the writer's
answer goes (cleaned by `summary_from`, on top of the deterministic tailoring, grounding-checked), and the
stable judges score that result exactly as `resumeopt eval run` scores a real optimisation. Three checks
gate an output; each is one assert of the exported config:

- grounded (`python` assert, this code): the summary would ship: no draft violation (no new number, skill,
  date, degree, certificate, ...) and not degraded. Mirrors the grounding judge (`draft_violations`,
  `degraded`).
- names_must_cover (`icontains-any`): names at least one of the case's must-cover skills that the resume
  shows. Mirrors keyword_coverage's `must_cover`, as far as a summary can cover skills.
- length (`javascript`): 1 to MAX_SUMMARY_CHARS characters (the flow drops an empty answer and cuts a
  longer one). Mirrors grounding's `degraded` for an empty summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluator.datasets import Case
from evaluator.judges import Score, judge_all
from evaluator.registry import resolve
from optimiser.flow import OptimiseState, assemble
from optimiser.writing import MAX_SUMMARY_CHARS, check_draft
from optimiser.parsing import parse_job, parse_resume
from optimiser.resume import Job, Resume
from optimiser.tools.matching import Evidence
from optimiser.tools.skills import Taxonomy, job_requirements
from optimiser.tools.tailoring import deterministic_tailor

CHECKS = ("grounded", "names_must_cover", "length")
LENGTH_JS = f"output.trim().length > 0 && output.trim().length <= {MAX_SUMMARY_CHARS}"


@dataclass(frozen=True)
class CaseInputs:
    original: Resume
    job: Job
    requirements: list


@dataclass(frozen=True)
class Verdict:
    checks: dict[str, bool]      # check name -> passed (a check a case has no data for is left out)
    scores: list[Score]          # every stable judge's scores of the assembled result
    reasons: list[str]

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


def case_inputs(case: Case) -> CaseInputs:
    original = parse_resume(case.resume_text(), case.resume_format)
    job = parse_job(case.job_text())
    return CaseInputs(original, job, job_requirements(job))


def coverable_skills(case: Case, inputs: CaseInputs) -> list[str]:
    """The case's must-cover skills that the resume shows: the ones a grounded summary may name."""
    taxonomy = Taxonomy.load()
    evidence = Evidence(inputs.original, taxonomy)
    return [s for s in case.expect.must_cover if evidence.shows(taxonomy.canonical(s) or s)]


def grounding_result(case: Case, inputs: CaseInputs, output: str) -> tuple[dict, list[Score]]:
    """The optimisation result the flow would return with `output` as the writer's answer, and its scores
    (no prompt versions: they label a result, no judge reads them)."""
    baseline = deterministic_tailor(inputs.original, inputs.requirements)
    state = OptimiseState(request_id="promptfoo", original=inputs.original, job=inputs.job,
                          requirements=inputs.requirements, baseline=baseline,
                          drafts=[check_draft(output, inputs.original, baseline.resume)])
    result = assemble(state, {})
    return result, judge_all(result, case.expect.model_dump(), resolve(None))


def grounding_check(result: dict) -> tuple[bool, list[str]]:
    drafted = result["grounding"]["candidate_violations"]
    reasons = [f"{v['kind']}: {v['text']}" for v in drafted] or list(result["degraded_reasons"])
    return not drafted and not result["degraded"], reasons


def judge_writer_output(case: Case, output: str, inputs: CaseInputs | None = None) -> Verdict:
    inputs = inputs or case_inputs(case)
    result, scores = grounding_result(case, inputs, output)
    grounded, reasons = grounding_check(result)
    checks = {"grounded": grounded}
    skills = coverable_skills(case, inputs)
    if skills:
        checks["names_must_cover"] = any(s.casefold() in output.casefold() for s in skills)
        if not checks["names_must_cover"]:
            reasons.append(f"names none of: {', '.join(skills)}")
    checks["length"] = 0 < len(output.strip()) <= MAX_SUMMARY_CHARS
    if not checks["length"]:
        reasons.append(f"{len(output.strip())} characters, not 1-{MAX_SUMMARY_CHARS}")
    return Verdict(checks, scores, reasons)
