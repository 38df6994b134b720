"""LLM-as-judge with a written rubric (evaluator/rubrics/resume_tailoring.yaml), through the gateway.

Pointwise (`score`): the judge model scores the tailored resume 1-5 on each criterion and answers JSON
`{criteria: {name: {reasoning, score}}}`. Pairwise (`compare`): two tailorings of the same resume for the
same job, shown in both orders (A/B, then B/A); a winner is declared only when both orders agree, else
`tie`, so a judge that prefers whatever comes first cannot pick a winner (position bias).

Against judges that flip between runs: temperature 0 and a fixed seed, the answer constrained to the
rubric's JSON schema where the server supports it (llama.cpp compiles it to a grammar), validated with
pydantic; an invalid answer is asked for once more, then recorded as `rubric_valid` 0 with an `invalid`
comment, never as a score the judge did not give. The judge model (ctx.judge_model, alias `judge` by
default) is not the writer's alias, and every call is attributed `x-agent: judge`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from evaluator.gateway import JudgeCallError, JudgeGateway
from evaluator.judges import Score
from evaluator.results import as_markdown, source_job, source_resume
from evaluator.rubric import Rubric, clip

Mode = Literal["pointwise", "pairwise"]
Winner = Literal["a", "b", "tie"]
JsonMode = Literal["llama_schema", "json_schema", "json_object", "none"]
MAX_TOKENS = 500  # four criteria of a sentence each plus the JSON around them is ~250 tokens


@dataclass(frozen=True)
class PairwiseResult:
    winner: Winner                 # "a" or "b" only when both orders agree
    first: Winner | None           # the verdict with a shown as A (None: no valid answer)
    second: Winner | None          # the verdict with b shown as A, mapped back to a/b
    criteria: dict[str, Winner]    # per criterion, under the same both-orders rule
    comment: str = ""


def order_winner(criteria: dict[str, dict]) -> Literal["A", "B", "tie"]:
    """One order's overall verdict: the side that wins more criteria (equal counts: tie)."""
    a = sum(c["winner"] == "A" for c in criteria.values())
    b = sum(c["winner"] == "B" for c in criteria.values())
    return "A" if a > b else "B" if b > a else "tie"


def combine(first: str | None, second: str | None) -> Winner:
    """`first`: the verdict with a shown as A; `second`: with b shown as A, both as "A"/"B"/"tie" of
    their own order. A winner only when the two orders name the same tailoring."""
    as_ab = {"A": "a", "B": "b"}.get(first or "")
    as_ba = {"A": "b", "B": "a"}.get(second or "")
    return as_ab if as_ab is not None and as_ab == as_ba else "tie"


class LlmRubric:
    name, code_version = "llm_rubric", "1"

    def __init__(self, gateway: JudgeGateway, model: str, rubric: Rubric, seed: int = 7,
                 json_mode: JsonMode = "llama_schema"):
        self.gateway, self.model, self.rubric = gateway, model, rubric
        self.seed, self.json_mode = seed, json_mode
        self.version = self.version_for(rubric)

    @classmethod
    def version_for(cls, rubric: Rubric) -> str:
        """The judge's code version and its rubric's: a new rubric text is a new judge to calibrate."""
        return f"{cls.code_version}+{rubric.name}@{rubric.version}"

    def score(self, result, expect):
        job, original = source_job(result), source_resume(result)
        if not job or not original:
            return []
        user = _pointwise_prompt(job, as_markdown(original), result["tailored_resume"])
        criteria, error = self._ask("pointwise", user, result.get("request_id", ""))
        if criteria is None:
            return [Score("rubric_valid", 0.0, self.name, self.version, f"invalid: {error}")]
        tag = f"model {self.model}, rubric {self.rubric.name}@{self.rubric.version}"
        out = [Score("rubric_valid", 1.0, self.name, self.version, tag)]
        out += [Score(f"rubric_{n}", float(c["score"]), self.name, self.version, c["reasoning"])
                for n, c in criteria.items()]
        mean = sum(c["score"] for c in criteria.values()) / len(criteria)
        return out + [Score("rubric_mean", round(mean, 3), self.name, self.version)]

    def compare(self, a: dict, b: dict) -> PairwiseResult:
        """Which of two results for the same inputs is the better tailoring, asked in both orders."""
        job, original = source_job(a), as_markdown(source_resume(a) or "")
        rid = a.get("request_id", "")
        ab, err_ab = self._ask("pairwise", _pairwise_prompt(job or "", original, a["tailored_resume"],
                                                            b["tailored_resume"]), rid)
        ba, err_ba = self._ask("pairwise", _pairwise_prompt(job or "", original, b["tailored_resume"],
                                                            a["tailored_resume"]), rid)
        first, second = (order_winner(ab) if ab else None), (order_winner(ba) if ba else None)
        per = {n: combine(ab[n]["winner"] if ab else None, ba[n]["winner"] if ba else None)
               for n in self.rubric.criteria}
        comment = "; ".join(f"invalid {o}: {e}" for o, e in (("A/B", err_ab), ("B/A", err_ba)) if e)
        return PairwiseResult(combine(first, second), _side(first, False), _side(second, True), per, comment)

    def _ask(self, mode: Mode, user: str, request_id: str) -> tuple[dict[str, dict] | None, str]:
        """The validated criteria, or None and why; one retry that shows the model its invalid answer."""
        messages = [{"role": "system", "content": self.rubric.system_prompt(mode)},
                    {"role": "user", "content": user}]
        error = ""
        for _ in range(2):
            try:
                text = self.gateway.chat(self.model, messages, request_id, **self._params(mode))
            except JudgeCallError as exc:
                return None, f"call failed ({exc.status} {exc.code})"
            try:
                return self.rubric.parse(text, mode), ""
            except (ValidationError, ValueError) as exc:
                error = _short(exc)
                messages = [*messages, {"role": "assistant", "content": text[:2000]},
                            {"role": "user", "content": f"That answer is not valid ({error}). Answer again "
                                                        "with only the JSON object, in the format given."}]
        return None, error

    def _params(self, mode: Mode) -> dict:
        params = {"temperature": 0, "seed": self.seed, "max_tokens": MAX_TOKENS}
        schema = self.rubric.schema(mode)
        if self.json_mode == "llama_schema":  # llama.cpp's server: json_object plus a schema -> a grammar
            params["response_format"] = {"type": "json_object", "schema": schema}
        elif self.json_mode == "json_schema":  # OpenAI structured outputs
            params["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": f"{self.rubric.name}_{mode}", "schema": schema}}
        elif self.json_mode == "json_object":
            params["response_format"] = {"type": "json_object"}
        return params


def _side(verdict: str | None, swapped: bool) -> Winner | None:
    if verdict is None:
        return None
    return {"A": "b", "B": "a"}.get(verdict, "tie") if swapped else {"A": "a", "B": "b"}.get(verdict, "tie")


def _pointwise_prompt(job: str, original: str, tailored: str) -> str:
    return (f"JOB:\n{clip(job)}\n\nORIGINAL RESUME:\n{clip(original)}\n\n"
            f"TAILORED RESUME:\n{clip(tailored)}")


def _pairwise_prompt(job: str, original: str, a: str, b: str) -> str:
    """Job and original first (the same for both orders and for every pair of one resume and job, so the
    model server's prompt cache reuses them), then only where A and B differ: two full resumes that are
    90% identical cost the judge tokens and attention, and say nothing about which is better."""
    return (f"JOB:\n{clip(job)}\n\nORIGINAL RESUME:\n{clip(original)}\n\n"
            f"CHANGES BETWEEN TAILORING A AND TAILORING B:\n{clip(changes(a, b))}")


def changes(a: str, b: str) -> str:
    """Each place where the two texts differ, line by line: A's lines, then B's lines."""
    la, lb = a.splitlines(), b.splitlines()
    hunks = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        side_a = "\n".join(f"A: {line}" for line in la[i1:i2] if line.strip()) or "A: (nothing here)"
        side_b = "\n".join(f"B: {line}" for line in lb[j1:j2] if line.strip()) or "B: (nothing here)"
        hunks.append(f"CHANGE {len(hunks) + 1}\n{side_a}\n{side_b}")
    return "\n\n".join(hunks) or "(A and B are identical)"


def _short(exc: Exception) -> str:
    """What was wrong, without echoing the model's text (it may quote the resume)."""
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        return f"{e['type']} at {'/'.join(map(str, e['loc'])) or 'root'}"
    return type(exc).__name__
