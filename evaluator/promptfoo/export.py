"""`resumeopt eval export-promptfoo`: a promptfoo config for the writer prompt over a golden dataset.

What it writes into the output folder:
- `promptfooconfig.yaml`: one prompt and one provider per prompt version asked for; one test per case.
- `prompts/writer@<version>.json`: the prompt as chat messages, laid out as CrewAI sends them (the agent's
  role, backstory and goal as the system message; the task and its expected output as the user message,
  without CrewAI's tool scaffolding), `{placeholders}` turned into promptfoo's `{{ vars }}`.
- `judges_assert.py`: the `python` assert, a two-line shim into evaluator/promptfoo/python_assert.py.

Each provider is the gateway (`openai:chat:<the prompt's model alias>`, `apiBaseUrl` = gateway + /v1, key
from RESUMEOPT_API_KEY) with the prompt's temperature and max_tokens, and our attribution headers, so
promptfoo's calls land in `model_calls` under one request id with the prompt's name and version. Test
vars are what the crew gets (optimiser.flow.crew_inputs); the asserts are judging.py's checks.

Only the writer is exported: its answer is what ships, and what the grounding judge reads.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from evaluator.datasets import DATASETS_DIR, Case, Dataset, load_dataset
from evaluator.promptfoo.judging import LENGTH_JS, case_inputs, coverable_skills
from optimiser.flow import crew_inputs
from optimiser.prompts import PROMPTS_DIR, Prompt, load_prompt

REPO = Path(__file__).resolve().parents[2]
PROMPT = "writer"
API_KEY_ENV = "RESUMEOPT_API_KEY"
ASSERT_FILE = "judges_assert.py"
CONFIG_FILE = "promptfooconfig.yaml"
PROMPTFOO_BIN = REPO / ".cache" / "promptfoo" / "node_modules" / ".bin" / "promptfoo"  # deploy/setup_promptfoo.sh
# promptfoo's switches for a run that talks to nothing but the gateway: no usage telemetry, no update
# check, no remote generation (red-team/synthesis features call promptfoo's servers), no sharing.
OFFLINE_ENV = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
               "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1", "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
               "PROMPTFOO_DISABLE_SHARING": "1"}
# Nothing listens on the discard port: a request sent there is refused at once, before any DNS lookup.
DEAD_PROXY = "http://127.0.0.1:9"


def offline_env(gateway_url: str) -> dict[str, str]:
    """OFFLINE_ENV, and every other HTTP(S) request promptfoo makes sent to a closed loopback proxy: with
    telemetry disabled, 0.121.20 still posts one "telemetry disabled" event to its own host (seen with
    strace: a DNS query for it on every run). The gateway's host is exempt (NO_PROXY)."""
    host = urlsplit(gateway_url).hostname or "127.0.0.1"
    proxy = {"http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY, "no_proxy": host}
    return {**OFFLINE_ENV, **proxy, **{k.upper(): v for k, v in proxy.items()}}


def export_promptfoo(dataset: str, refs: list[str], out: Path, gateway_url: str, *,
                     datasets_root: Path = DATASETS_DIR, prompts_root: Path = PROMPTS_DIR) -> Path:
    """Write the config and its files into `out`; return the config's path. Raises FileNotFoundError for
    an unknown dataset and optimiser.prompts.PromptNotFound for an unknown prompt label or version,
    before writing anything."""
    ds = load_dataset(dataset, datasets_root)
    prompts = list({p.version: p for p in (load_prompt(PROMPT, ref, prompts_root) for ref in refs)}.values())
    request_id = f"promptfoo-{ds.name}-{uuid.uuid4().hex[:8]}"
    (out / "prompts").mkdir(parents=True, exist_ok=True)
    for p in prompts:
        (out / "prompts" / f"{_label(p)}.json").write_text(json.dumps(chat_messages(p), indent=2) + "\n")
    (out / ASSERT_FILE).write_text(_ASSERT_SHIM.format(repo=str(REPO)))
    config = {
        "description": f"{PROMPT} prompt {', '.join(_label(p) for p in prompts)} on dataset {ds.name} "
                       f"({ds.content_hash}); gateway request id {request_id}",
        "sharing": False,
        "prompts": [{"id": f"file://prompts/{_label(p)}.json", "label": _label(p)} for p in prompts],
        "providers": [_provider(p, gateway_url, request_id) for p in prompts],
        "tests": [_test(ds, case, datasets_root) for case in ds.cases],
    }
    path = out / CONFIG_FILE
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=120))
    return path


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    system = f"You are {prompt.agent.role}. {prompt.agent.backstory}\nYour personal goal is: {prompt.agent.goal}"
    user = (f"{prompt.task.description.rstrip()}\n\nThis is the expected criteria for your final answer: "
            f"{prompt.task.expected_output}")
    return [{"role": "system", "content": _vars(system)}, {"role": "user", "content": _vars(user)}]


def _vars(text: str) -> str:
    """`{facts}` (Python format, as CrewAI fills it) -> `{{ facts }}` (nunjucks, as promptfoo fills it)."""
    return re.sub(r"\{(\w+)\}", r"{{ \1 }}", text)


def _label(prompt: Prompt) -> str:
    return f"{prompt.name}@{prompt.version}"


def _provider(prompt: Prompt, gateway_url: str, request_id: str) -> dict:
    return {
        "id": f"openai:chat:{prompt.model.alias}",
        "label": _label(prompt),
        "prompts": [_label(prompt)],  # each version is sent with its own model parameters and headers
        "config": {
            "apiBaseUrl": gateway_url.rstrip("/") + "/v1",
            "apiKeyEnvar": API_KEY_ENV,
            "temperature": prompt.model.temperature,
            "max_tokens": prompt.model.max_tokens,
            "headers": {"x-request-id": request_id, "x-agent": "promptfoo", "x-prompt-name": prompt.name,
                        "x-prompt-version": prompt.version},
        },
    }


def _test(ds: Dataset, case: Case, datasets_root: Path) -> dict:
    inputs = case_inputs(case)
    asserts = [{"type": "python", "metric": "grounded", "value": f"file://{ASSERT_FILE}",
                "config": {"dataset": ds.name, "case": case.id, "content_hash": ds.content_hash,
                           "datasets_root": str(datasets_root.resolve())}}]
    skills = coverable_skills(case, inputs)
    if skills:  # icontains-any needs a value; a case whose resume shows none of them has nothing to name
        asserts.append({"type": "icontains-any", "metric": "names_must_cover", "value": skills})
    asserts.append({"type": "javascript", "metric": "length", "value": LENGTH_JS})
    return {"description": case.id, "vars": crew_inputs(inputs.original, inputs.job, inputs.requirements),
            "metadata": {"dataset": ds.name, "case_id": case.id}, "assert": asserts}


_ASSERT_SHIM = '''\
# Written by `resumeopt eval export-promptfoo`: promptfoo's python assert runs our judges
# (evaluator/promptfoo/python_assert.py) with PROMPTFOO_PYTHON set to the project's Python.
import sys

sys.path.insert(0, {repo!r})
from evaluator.promptfoo.python_assert import get_assert  # noqa: E402,F401
'''
