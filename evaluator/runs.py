"""Offline runs: every case of a golden dataset through the optimiser API, `repeats` times, judged; the
per-case scores, the case's cost (optimising and judging), latency and model calls, and the run's aggregates stored in ClickHouse
under one run id (`eval_runs`, `scores`), through the platform's API so a run against a remote platform
lands in that platform's store.

A run names exactly what it measured: the dataset's content hash, the prompt reference asked for and the
prompt versions that ran (from the results), and each judge with its version.

`--repeat N` runs each case N times end to end (optimisation and judges), as promptfoo's `--repeat` does:
the spread across repeats (per metric, the mean over cases of the standard deviation of a case's N
scores) says how much of a difference between two runs is noise. The agents' calls carry a fixed seed
(RESUMEOPT_LLM_SEED) and the LLM judge's too, at temperature 0, so with an unchanged model build the
spread is expected to be 0; a non-zero spread is the finding.

A case the platform could not optimise (a server error, a time-out) is not dropped: it scores
`case_failed` 1, counts in `failed_cases`, and the run goes on. A client error (an unknown prompt, a role
that may not choose prompts) ends the run at once as `failed`: no case could succeed.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from evaluator.datasets import Case, Dataset
from evaluator.gateway import JudgeSpend
from evaluator.judges import Judge, Score
from evaluator.results import with_inputs
from evaluator.runner import prompt_version_tag, score_rows
from optimiser.client import PlatformClient, PlatformError

RUN_JUDGE, RUN_JUDGE_VERSION = "run", "1"
SD_SUFFIX = "@sd"  # aggregates: `<metric>@sd` is its spread across repeats


@dataclass(frozen=True)
class PromptChoice:
    """What `--prompt` asked for: a label (or version) for every prompt, or a ref per prompt name
    (`writer=1.0.1,reviewer=candidate`)."""

    label: str = "production"
    per_prompt: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> PromptChoice:
        text = text.strip()
        if "=" not in text:
            return cls(label=text or "production")
        pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
        if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
            raise ValueError(f"--prompt {text!r}: expected LABEL, VERSION or NAME=REF[,NAME=REF]")
        return cls(label="production", per_prompt={k.strip(): v.strip() for k, v in pairs})

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.per_prompt.items())) or self.label


@dataclass
class CaseRun:
    case_id: str
    repeat: int
    request_id: str
    scores: list[Score]
    degraded: bool = False
    error: str = ""


@dataclass
class RunReport:
    run_id: str
    dataset: str
    content_hash: str
    prompt_ref: str
    judges: dict[str, str]
    repeats: int
    prompt_version: str = ""
    started: float = field(default_factory=time.time)
    cases: list[CaseRun] = field(default_factory=list)

    @property
    def failed_cases(self) -> int:
        return sum(1 for c in self.cases if c.error)

    def aggregates(self) -> dict[str, float]:
        """Per metric, the mean over every (case, repeat); with repeats, `<metric>@sd` too."""
        per_case: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for c in self.cases:
            for s in c.scores:
                per_case[s.name][c.case_id].append(s.value)
        out: dict[str, float] = {}
        for name, cases in sorted(per_case.items()):
            values = [v for vs in cases.values() for v in vs]
            out[name] = round(statistics.fmean(values), 6)
            if self.repeats > 1:
                spreads = [statistics.pstdev(vs) for vs in cases.values() if len(vs) > 1]
                out[name + SD_SUFFIX] = round(statistics.fmean(spreads), 6) if spreads else 0.0
        return out

    def cost_usd(self) -> float:
        return round(sum(s.value for c in self.cases for s in c.scores if s.name == "cost_usd"), 9)

    def row(self, status: str, note: str = "") -> dict:
        """The run as `POST /api/v1/eval/runs` takes it."""
        return {"run_id": self.run_id, "status": status, "dataset": self.dataset, "content_hash": self.content_hash,
                "prompt_ref": self.prompt_ref, "prompt_version": self.prompt_version, "judges": self.judges,
                "repeats": self.repeats, "cases": len(self.cases), "failed_cases": self.failed_cases,
                "cost_usd": self.cost_usd(), "duration_s": round(time.time() - self.started, 3),
                "aggregates": self.aggregates() if status == "finished" else {}, "note": note,
                "started_at": datetime.fromtimestamp(self.started, UTC).isoformat()}


def run_dataset(client: PlatformClient, ds: Dataset, judges: list[Judge], prompt: PromptChoice | None = None,
                repeats: int = 1, on_case: Callable[[Case, CaseRun], None] | None = None,
                note: str = "", spend: JudgeSpend | None = None) -> RunReport:
    """`spend`: the JudgeSpend the judges were built with (JudgeContext.spend); each case then also scores
    `judge_calls` and `judge_cost_usd`, what judging it cost."""
    prompt = prompt or PromptChoice()
    report = RunReport(run_id=uuid.uuid4().hex[:12], dataset=ds.name, content_hash=ds.content_hash,
                       prompt_ref=str(prompt), judges={j.name: j.version for j in judges}, repeats=repeats)
    client.call("POST", "/api/v1/eval/runs", json=report.row("running", note))
    try:
        for case in ds.cases:
            for r in range(repeats):
                done = _run_case(client, case, r, judges, prompt, report, spend)
                report.cases.append(done)
                if on_case:
                    on_case(case, done)
    except BaseException:
        client.call("POST", "/api/v1/eval/runs", json=report.row("failed", note))
        raise
    client.call("POST", "/api/v1/eval/runs", json=report.row("finished", note))
    return report


def _run_case(client: PlatformClient, case: Case, repeat: int, judges: list[Judge], prompt: PromptChoice,
              report: RunReport, spend: JudgeSpend | None = None) -> CaseRun:
    resume, job = case.resume_text(), case.job_text()
    run_score = lambda name, value, comment="": Score(name, value, RUN_JUDGE, RUN_JUDGE_VERSION, comment)  # noqa: E731
    try:
        result = client.optimise(resume, job, case.resume_format, prompt_label=prompt.label,
                                 prompts=prompt.per_prompt or None)
    except PlatformError as exc:
        if 400 <= exc.status < 500 and exc.status not in (408, 429):
            raise  # the run was asked for wrongly (an unknown prompt, a missing role): no case can succeed
        failed = [run_score("case_failed", 1.0, f"{exc.status} {exc.code}")]
        client.post_scores(_rows(failed, "", report, case.id, repeat))
        return CaseRun(case.id, repeat, "", failed, error=f"{exc.status} {exc.code}: {exc.message}")
    report.prompt_version = prompt_version_tag(result.get("prompt_versions", {}))
    judged = with_inputs(result, resume, job)
    expect = case.expect.model_dump()
    scores = [s for j in judges for s in _judge(j, judged, expect)]
    usage = result.get("usage") or {}
    scores += [run_score("case_failed", 0.0),
               run_score("cost_usd", float(usage.get("cost_usd") or 0)),
               run_score("model_calls", float(usage.get("calls") or 0)),
               run_score("latency_ms", float(result.get("latency_ms") or 0)),
               run_score("writer_attempts", float(result.get("writer_attempts") or 0))]
    if spend is not None:
        calls, cost = spend.take(result["request_id"])
        scores += [run_score("judge_calls", float(calls)), run_score("judge_cost_usd", float(cost))]
    client.post_scores(_rows(scores, result["request_id"], report, case.id, repeat, result))
    return CaseRun(case.id, repeat, result["request_id"], scores, degraded=bool(result.get("degraded")))


def _judge(judge: Judge, result: dict, expect: dict) -> list[Score]:
    """A judge's scores; a judge that fails (its model unreachable, say) scores `judge_failed` instead of
    stopping the run or inventing a value."""
    try:
        return judge.score(result, expect)
    except Exception as exc:  # noqa: BLE001 - any judge failure is recorded, the run goes on
        return [Score("judge_failed", 1.0, judge.name, judge.version, f"{type(exc).__name__}: {str(exc)[:200]}")]


def _rows(scores: list[Score], request_id: str, report: RunReport, case_id: str, repeat: int,
          result: dict | None = None) -> list[dict]:
    result = {"request_id": request_id, **(result or {})}
    rows = score_rows(scores, result, run_id=report.run_id, dataset=report.dataset, case_id=case_id)
    return [{**row, "repeat": repeat} for row in rows]
