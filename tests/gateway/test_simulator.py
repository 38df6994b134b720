"""The simulator's scripted replies: the first rule whose text the prompt contains answers, as written, plain
or streamed; a prompt no rule matches gets the configured `reply`, cycled to `completion_tokens` words."""

from __future__ import annotations

import asyncio

import pytest

from gateway.config import GatewayConfig
from gateway.providers.simulator import SimulatedProvider, SimulatorSpec

SPEC = SimulatorSpec(reply="ok then", completion_tokens=3, replies=[
    {"when": "rewrite", "reply": "A grounded summary."},
    {"when": "summary", "reply": "Led a team of 50 at Google."}])


def _body(prompt: str, **extra) -> dict:
    return {"model": "sim", "messages": [{"role": "system", "content": "You write."},
                                         {"role": "user", "content": prompt}], **extra}


def _complete(body: dict) -> tuple[str, int]:
    done = asyncio.run(SimulatedProvider(SPEC).complete(body, timeout=5))
    return done.body["choices"][0]["message"]["content"], done.usage.output_tokens


async def _streamed(body: dict) -> str:
    chunks = [c async for c in SimulatedProvider(SPEC).stream(body, timeout=5)]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


@pytest.mark.parametrize(("prompt", "text"), [
    ("Write a summary", "Led a team of 50 at Google."),
    ("Please rewrite the summary", "A grounded summary."),  # both rules match: the first wins
    ("List the requirements", "ok then ok"),
])
def test_the_first_matching_rule_answers_as_written(prompt, text):
    assert _complete(_body(prompt)) == (text, len(text.split()))
    assert asyncio.run(_streamed(_body(prompt))) == text


def test_a_scripted_reply_keeps_its_lines():
    spec = SimulatorSpec(replies=[{"when": "list", "reply": "Python\nDjango and Flask\nGit"}])
    done = asyncio.run(SimulatedProvider(spec).complete(_body("list them"), timeout=5))
    assert done.body["choices"][0]["message"]["content"] == "Python\nDjango and Flask\nGit"


def test_a_scripted_reply_is_cut_at_max_tokens():
    assert _complete(_body("a summary", max_tokens=3)) == ("Led a team", 3)


def _config(rule: dict) -> GatewayConfig:
    return GatewayConfig.model_validate({"default_alias": "a", "models": [{"alias": "a", "deployments": [
        {"name": "s", "provider": "simulator", "model": "s", "simulator": {"replies": [rule]}}]}]})


def test_rules_are_validated_with_the_routing_config():
    assert _config({"when": "summary", "reply": "ok"}).models[0].deployments[0].simulator.replies[0].reply == "ok"
    for bad in ({"when": "", "reply": "ok"}, {"when": "summary"}, {"when": "x", "reply": "ok", "odds": 1}):
        with pytest.raises(ValueError):
            _config(bad)
