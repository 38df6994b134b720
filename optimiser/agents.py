"""The agents: job analyst, resume analyst, writer and reviewer, each a CrewAI agent whose LLM is the gateway.

Each runs on its own (one agent, one task, one kickoff), and the flow hands each what it may see: the
resume analyst the job analyst's requirements and the resume's facts; the writer the strengths that pass
the grounding check and the facts, never the job text (handed it, the small local model copies it:
FACTS.md); the reviewer the writer's last draft. So the flow can ask the writer again without running the others again.

Every agent gets its own LLM client carrying attribution headers, so each of its calls lands in
`model_calls` under the optimisation's request id, the agent's name and its prompt version.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from gateway.tracing import Tracing
from optimiser.prompts import PROMPTS_DIR, Prompt, load_prompt
from optimiser.settings import OptimiserSettings
from optimiser.tracing import gateway_call_spans, traced_agent

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")  # else it looks up its telemetry host 16x a run
# crewAI's own run tracing (to its cloud). Not OTEL_SDK_DISABLED: that would switch off our traces too.
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

AGENTS = ("job_analyst", "resume_analyst", "writer", "reviewer")
_IMPORT_LOCK = threading.Lock()


def import_crewai():
    """Import CrewAI once, under a lock: two threads importing it at the same time fail with a
    circular-import error (seen here when a warm-up thread raced the first request)."""
    with _IMPORT_LOCK:
        import crewai
        import crewai.flow.flow  # noqa: F401

        return crewai


def prompt_set(label: str, refs: Mapping[str, str] | None = None, root: Path = PROMPTS_DIR) -> dict[str, Prompt]:
    """Each agent's prompt at `label`, or at its own ref in `refs` (an experiment's arm)."""
    refs = refs or {}
    return {name: load_prompt(name, refs.get(name, label), root) for name in AGENTS}


class Agents:
    """The agents of one optimisation: built once, each run as often as the flow asks."""

    def __init__(self, settings: OptimiserSettings, prompts: dict[str, Prompt], request_id: str,
                 personal: Iterable[str] = (), tracing: Tracing | None = None, experiments: str = ""):
        self._crewai = import_crewai()  # ~5 s import: only when agents actually run
        tracing = tracing or Tracing()
        # The gateway redacts these from any prompt or completion it keeps (x-resumeopt-redact, never stored).
        redact = base64.urlsafe_b64encode(json.dumps(list(personal)[:50]).encode()).decode().rstrip("=")
        self._prompts = prompts
        # `experiments` (the x-experiment header, name=arm,...) goes on every call, whichever prompt it varies
        ids = {"x-request-id": request_id, "x-resumeopt-redact": redact,
               **({"x-experiment": experiments} if experiments else {})}
        self._agents = {name: _agent(settings, p, ids, tracing) for name, p in prompts.items()}
        self.slowest_s = 0.0  # the longest run so far: what the flow expects one more to take

    def run(self, name: str, inputs: dict[str, str]) -> str:
        """The agent's answer to its task, `inputs` filled into the prompt's {placeholders}."""
        crewai, prompt, agent = self._crewai, self._prompts[name], self._agents[name]
        task = crewai.Task(description=prompt.task.description, expected_output=prompt.task.expected_output,
                           agent=agent)
        crew = crewai.Crew(agents=[agent], tasks=[task], process=crewai.Process.sequential, verbose=False)
        began = time.monotonic()
        try:
            return crew.kickoff(inputs=inputs).tasks_output[0].raw or ""
        finally:
            self.slowest_s = max(self.slowest_s, time.monotonic() - began)


def _agent(settings: OptimiserSettings, prompt: Prompt, ids: dict[str, str], tracing: Tracing):
    crewai = import_crewai()
    seed = prompt.model.seed if prompt.model.seed is not None else settings.llm_seed
    # Traced, each call to the gateway is a client span that sends traceparent (optimiser/tracing.py).
    calls = gateway_call_spans(tracing, prompt.name) if tracing.enabled else None
    llm = crewai.LLM(
        model=f"openai/{prompt.model.alias}",
        base_url=settings.gateway_url.rstrip("/") + "/v1",
        api_key=settings.gateway_api_key,
        temperature=prompt.model.temperature,
        max_tokens=prompt.model.max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=0,  # retries belong to the gateway, which knows what is safe to retry
        **({"seed": seed} if seed is not None else {}),
        default_headers={**ids, "x-agent": prompt.name, "x-prompt-name": prompt.name,
                         "x-prompt-version": prompt.version},
        **({"interceptor": calls} if calls is not None else {}),
    )
    spec = {"role": prompt.agent.role, "goal": prompt.agent.goal, "backstory": prompt.agent.backstory, "llm": llm,
            "allow_delegation": False, "max_iter": 1, "verbose": False}
    if calls is None:
        return crewai.Agent(**spec)
    return traced_agent(tracing, calls, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": prompt.name,
        "resumeopt.prompt_version": prompt.version, "resumeopt.request_id": ids["x-request-id"]}, **spec)
