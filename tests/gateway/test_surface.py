"""The OpenAI surface: every request field reaches the upstream untouched, the real `openai` SDK works
for chat (plain, streamed, tools, JSON schema) and embeddings, and the headers tell what happened."""

from __future__ import annotations

import json

import httpx
import pytest
from openai import OpenAI

from gateway.app import create_app
from gateway.config import GatewayConfig
from tests.gateway.upstreams import echo_upstream
from tests.support import serve

TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "find a skill",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True}}


@pytest.fixture
def echo_gateway(gw_settings):
    upstream = echo_upstream()
    with serve(upstream) as up:
        config = GatewayConfig.model_validate({"default_alias": "echo", "models": [
            {"alias": "echo", "deployments": [{"name": "echo-0", "provider": "openai_compatible",
                                               "model": "upstream-model", "api_base": f"{up}/v1"}]},
            {"alias": "sim", "deployments": [{"name": "sim-0", "provider": "simulator", "model": "s"}]}]})
        with serve(create_app(gw_settings, config)) as url:
            yield url, upstream.state.seen


def test_every_parameter_is_passed_through(echo_gateway):
    url, seen = echo_gateway
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    out = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hi"}], tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "lookup"}}, response_format=SCHEMA,
        seed=42, n=2, stop=["\n\n", "END"], temperature=0.3, top_p=0.9, max_tokens=17, user="u1",
        extra_body={"top_k": 5})
    forwarded = json.loads(out.choices[0].message.content)
    assert forwarded["model"] == "upstream-model"  # alias resolved to the deployment's model
    assert out.model == "echo"                     # and the client sees its alias back
    for key, value in {"tools": TOOLS, "response_format": SCHEMA, "seed": 42, "n": 2, "stop": ["\n\n", "END"],
                       "temperature": 0.3, "top_p": 0.9, "max_tokens": 17, "user": "u1", "top_k": 5}.items():
        assert forwarded[key] == value, key
    assert forwarded["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}


def test_sdk_stream_with_usage(echo_gateway):
    url, _ = echo_gateway
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    chunks = list(client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.total_tokens == 12  # asked for: the usage chunk is forwarded
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text)["stream"] is True


def test_sdk_embeddings(echo_gateway):
    url, _ = echo_gateway
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    out = client.embeddings.create(model="sim", input=["python developer", "chef"])
    assert [len(d.embedding) for d in out.data] == [64, 64]
    again = client.embeddings.create(model="sim", input="python developer")
    assert again.data[0].embedding == out.data[0].embedding  # deterministic by text
    assert out.usage.prompt_tokens > 0


def test_sdk_errors_are_typed(echo_gateway):
    import openai

    url, _ = echo_gateway
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="sim", input=[])


def test_response_headers_explain_the_call(echo_gateway):
    url, seen = echo_gateway
    trace = "0af7651916cd43dd8448eb211c80319c"
    resp = httpx.post(f"{url}/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user",
                      "content": "x"}]}, headers={"x-request-id": "rid-1", "traceparent": f"00-{trace}-b7ad6b7169203331-01"})
    h = resp.headers
    assert h["x-request-id"] == "rid-1"
    assert h["traceparent"].startswith(f"00-{trace}-") and not h["traceparent"].endswith("b7ad6b7169203331-01")
    assert h["x-resumeopt-deployment"] == "echo-0"
    assert (h["x-resumeopt-attempts"], h["x-resumeopt-fallbacks"], h["x-resumeopt-cache"]) == ("1", "0", "off")
    assert "strategy=weighted" in h["x-resumeopt-route"]
    assert float(h["x-resumeopt-overhead-ms"]) >= 0
    assert seen[-1]["headers"]["traceparent"].startswith(f"00-{trace}-")  # propagated upstream


def test_request_id_and_trace_are_created_when_absent(echo_gateway):
    url, _ = echo_gateway
    resp = httpx.post(f"{url}/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user",
                                                                                        "content": "x"}]})
    assert len(resp.headers["x-request-id"]) == 32
    assert len(resp.headers["traceparent"].split("-")[1]) == 32


def test_litellm_provider_end_to_end_over_loopback(gw_settings, monkeypatch):
    """The litellm provider for real (request translation, price map), against a loopback upstream."""
    monkeypatch.setenv("RO_TEST_UPSTREAM_KEY", "sk-loopback")
    upstream = echo_upstream()
    with serve(upstream) as up:
        config = GatewayConfig.model_validate({"default_alias": "ll", "models": [
            {"alias": "ll", "deployments": [{"name": "ll-0", "provider": "litellm", "model": "openai/gpt-4o-mini",
                                             "api_base": f"{up}/v1", "api_key_env": "RO_TEST_UPSTREAM_KEY"}]}]})
        app = create_app(gw_settings, config)
        with serve(app) as url:
            client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            out = client.chat.completions.create(model="ll", messages=[{"role": "user", "content": "hi"}], seed=3)
            streamed = list(client.chat.completions.create(model="ll", messages=[{"role": "user", "content": "hi"}],
                                                           stream=True))
            app.state.writer.flush(10)
            rows = app.state.store.query("SELECT cost_usd, input_tokens, output_tokens FROM {db}.model_calls")
    forwarded = json.loads(out.choices[0].message.content)
    assert forwarded["model"] == "gpt-4o-mini" and forwarded["seed"] == 3
    assert upstream.state.seen[0]["headers"]["authorization"] == "Bearer sk-loopback"
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert len(rows) == 2 and all(r["cost_usd"] > 0 for r in rows)  # priced from litellm's pinned map
