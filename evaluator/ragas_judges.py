"""ragas metrics where they fit (ragas 0.4, `ragas.metrics.collections`), imported only when a judge is
built: ragas takes ~5-7 s to import.

- `ragas_rubric`: ragas' rubric metric (DomainSpecificRubrics, with the original resume as reference)
  scored by the judge model, through ragas' OpenAI-compatible LLM wrapper pointed at the gateway, so its
  calls are attributed `x-agent: judge` and costed like ours. An answer instructor cannot validate after
  one retry is recorded as `ragas_rubric_valid` 0, not as a score.
- `ragas_string`: NonLLMStringSimilarity (Levenshtein) of the tailored resume to the original, both in the
  optimiser's Markdown layout: how much tailoring changed, an edit-size signal rather than a quality
  score, so it names no preferred direction and is never calibrated or used to gate.
"""

from __future__ import annotations

import asyncio

from evaluator.judges import Score
from evaluator.results import as_markdown, source_job, source_resume
from evaluator.rubric import clip

# One rubric for the whole tailoring (ragas' format: score1..score5 descriptions).
TAILORING_RUBRIC = {
    "score1_description": "Invents facts absent from the reference resume (employer, title, date, degree, number, "
                          "skill), or is about a different kind of job.",
    "score2_description": "No invented facts, but a section or role of the reference is dropped, or the job's "
                          "requirements are buried under irrelevant material or keyword stuffing.",
    "score3_description": "Faithful to the reference and complete, but only loosely aimed at the job.",
    "score4_description": "Faithful and complete; the job's requirements the candidate has are mostly up front.",
    "score5_description": "Faithful and complete; every requirement the candidate has is up front in the job's own "
                          "words, clearly written, nothing irrelevant leading.",
}
MAX_TOKENS = 600


class RagasStringSimilarity:
    name, version = "ragas_string", "1"

    def __init__(self):
        from ragas.metrics.collections import DistanceMeasure, NonLLMStringSimilarity

        self._metric = NonLLMStringSimilarity(distance_measure=DistanceMeasure.LEVENSHTEIN)

    def score(self, result, expect):
        original = source_resume(result)
        if not original:
            return []
        value = self._metric.score(reference=as_markdown(original), response=result["tailored_resume"]).value
        return [Score("edit_similarity", round(float(value), 4), self.name, self.version, "1 = unchanged")]


class RagasRubric:
    name, version = "ragas_rubric", "1"
    primary, higher_is_better = "ragas_rubric_score", True

    def __init__(self, base_url: str, api_key: str, model: str, seed: int = 7, spend=None):
        from ragas.metrics.collections import DomainSpecificRubrics  # noqa: F401 (fail at build, not per call)

        self.base_url, self.api_key, self.model, self.seed = base_url.rstrip("/") + "/v1", api_key, model, seed
        self.spend = spend  # evaluator.gateway.JudgeSpend, or None

    def score(self, result, expect):
        job, original = source_job(result), source_resume(result)
        if not job or not original:
            return []
        try:
            value, reason = asyncio.run(self._ascore(job, as_markdown(original), result["tailored_resume"],
                                                     result.get("request_id", "")))
        except Exception as exc:  # instructor's retries exhausted, the gateway refused: no made-up score
            return [Score("ragas_rubric_valid", 0.0, self.name, self.version, f"invalid: {type(exc).__name__}")]
        return [Score("ragas_rubric_valid", 1.0, self.name, self.version, f"model {self.model}"),
                Score("ragas_rubric_score", float(value), self.name, self.version, (reason or "")[:300])]

    async def _ascore(self, job: str, original: str, tailored: str, request_id: str) -> tuple[float, str]:
        import httpx
        from openai import AsyncOpenAI
        from ragas.llms import llm_factory
        from ragas.metrics.collections import DomainSpecificRubrics

        headers = {"x-agent": "judge", "x-tool": self.name, "x-prompt-name": self.name,
                   "x-prompt-version": self.version, **({"x-request-id": request_id} if request_id else {})}
        # The gateway retries upstreams itself; 180 s bounds one call of the local model on 2 cores.
        async def count(resp: httpx.Response) -> None:  # what ragas' calls cost, as our own judges count it
            if self.spend is not None and resp.status_code < 400:
                self.spend.record(request_id, resp.headers)

        client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key or "none", default_headers=headers,
                             timeout=180.0, max_retries=0,
                             http_client=httpx.AsyncClient(timeout=180.0, event_hooks={"response": [count]}))
        try:
            llm = llm_factory(self.model, client=client, temperature=0, seed=self.seed, max_tokens=MAX_TOKENS,
                              max_retries=1)  # instructor: the first answer and one retry on invalid JSON
            metric = DomainSpecificRubrics(llm=llm, rubrics=TAILORING_RUBRIC, with_reference=True)
            result = await metric.ascore(user_input=f"Tailor this resume to the job:\n{clip(job)}",
                                         response=clip(tailored), reference=clip(original))
            return float(result.value), str(result.reason or "")
        finally:
            await client.close()
