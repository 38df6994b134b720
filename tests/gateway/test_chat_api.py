"""The OpenAI-compatible surface against the real local model, and every error path it has."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.local_model import free_port
from tests.support import serve

HELLO = {"model": "local-smol", "messages": [{"role": "user", "content": "Say hello."}],
         "max_tokens": 12, "temperature": 0}


@pytest.fixture
def gateway(gw_settings, live_config):
    app = create_app(gw_settings, live_config)
    with serve(app) as url:
        yield url, app


def test_completion_answers_in_openai_shape_and_is_recorded(gateway):
    url, app = gateway
    resp = httpx.post(f"{url}/v1/chat/completions", json=HELLO, headers={"x-request-id": "req-plain",
                                                                          "x-agent": "tester"}, timeout=60)
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion" and body["model"] == "local-smol"
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    assert resp.headers["x-request-id"] == "req-plain"
    assert resp.headers["x-resumeopt-deployment"] == "local-llama"
    usage = httpx.get(f"{url}/api/v1/requests/req-plain/usage").json()
    assert usage["calls"] == 1
    assert usage["input_tokens"] == body["usage"]["prompt_tokens"]
    assert usage["output_tokens"] == body["usage"]["completion_tokens"]
    assert usage["by_agent"][0]["agent"] == "tester"


def test_stream_relays_upstream_content_and_ends_with_done(gateway, local_model):
    url, _ = gateway
    through = _stream_text(f"{url}/v1/chat/completions", HELLO)
    direct = _stream_text(f"{local_model.api_base}/chat/completions", {**HELLO, "model": "smollm2-135m"})
    assert through["content"] and through["content"] == direct["content"]  # temperature 0: greedy
    assert through["last"] == "[DONE]"
    assert all(c["model"] == "local-smol" for c in through["chunks"])


def test_streamed_call_is_recorded_with_counted_tokens(gateway):
    url, _ = gateway
    _stream_text(f"{url}/v1/chat/completions", HELLO, headers={"x-request-id": "req-stream"})
    rows = httpx.get(f"{url}/api/v1/requests/req-stream/calls").json()["rows"]
    assert len(rows) == 1
    assert rows[0]["output_tokens"] > 0 and rows[0]["input_tokens"] > 0  # never a $0-looking stream


def test_openai_sdk_works_against_the_gateway(gateway):
    from openai import OpenAI

    url, _ = gateway
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["local-smol", "judge"]  # keyless aliases are not offered
    out = client.chat.completions.create(**HELLO)
    assert out.choices[0].message.content and out.usage.total_tokens > 0
    pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(**HELLO, stream=True)
              if c.choices]
    assert "".join(pieces) == out.choices[0].message.content


def test_unknown_model_is_an_openai_style_404(gateway):
    url, _ = gateway
    resp = httpx.post(f"{url}/v1/chat/completions", json={**HELLO, "model": "no-such-model"})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "model_not_found"
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_alias_without_credentials_says_which_variable_to_set(gw_settings, live_config, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve(create_app(gw_settings, live_config)) as url:
        resp = httpx.post(f"{url}/v1/chat/completions", json={**HELLO, "model": "gpt-4o-mini"})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "model_not_available"
    assert "OPENAI_API_KEY" in resp.json()["error"]["message"]


@pytest.mark.parametrize(("raw", "code"), [
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "invalid_request"),
    (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), "invalid_request"),
    (json.dumps({"model": "local-smol", "messages": []}).encode(), "invalid_request"),
    (json.dumps({"model": "local-smol", "messages": ["hi"]}).encode(), "invalid_request"),
    # max_tokens and n size every worst case: negative or absurd values would refund rate limits and budgets
    *[(json.dumps({"model": "local-smol", "messages": [{"role": "user", "content": "x"}], **bad}).encode(),
       "invalid_request") for bad in ({"max_tokens": -1_000_000_000}, {"max_tokens": 0}, {"n": -5},
                                      {"max_tokens": 1e300, "n": 1e300}, {"max_tokens": "32"}, {"n": 1000},
                                      {"max_completion_tokens": True})],
])
def test_malformed_bodies_are_400_json(gateway, raw, code):
    url, _ = gateway
    resp = httpx.post(f"{url}/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == code


def test_oversized_body_is_413(gateway, gw_settings):
    url, _ = gateway
    big = {**HELLO, "messages": [{"role": "user", "content": "x" * (gw_settings.max_body_bytes + 10)}]}
    resp = httpx.post(f"{url}/v1/chat/completions", json=big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"


def test_local_model_down_is_503_json_and_recorded(gw_settings, base_config):
    dead = base_config.with_local_base(f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    with serve(create_app(gw_settings, dead)) as url:
        resp = httpx.post(f"{url}/v1/chat/completions", json=HELLO, headers={"x-request-id": "req-dead"})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "upstream_unavailable"
        assert resp.headers["retry-after"]
        rows = httpx.get(f"{url}/api/v1/requests/req-dead/calls").json()["rows"]
        assert [(r["status"], r["error_kind"]) for r in rows] == [("error", "connect")]


def test_stream_cut_mid_answer_ends_with_error_event_not_done(gw_settings, base_config):
    with serve(_cutting_upstream()) as upstream:
        config = base_config.with_local_base(f"{upstream}/v1")
        with serve(create_app(gw_settings, config)) as url:
            out = _stream_text(f"{url}/v1/chat/completions", HELLO)
    assert out["content"] == "Hello"
    assert out["last"] != "[DONE]"
    assert json.loads(out["last"])["error"]["code"] == "upstream_error"


def _stream_text(url: str, body: dict, headers: dict | None = None) -> dict:
    chunks, last = [], None
    with httpx.stream("POST", url, json={**body, "stream": True}, headers=headers, timeout=60) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data:"):
                last = line[5:].strip()
                if last != "[DONE]" and "error" not in json.loads(last):
                    chunks.append(json.loads(last))
    content = "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c["choices"])
    return {"chunks": chunks, "content": content, "last": last}


def _cutting_upstream() -> Starlette:
    """An OpenAI-compatible upstream on loopback that sends one chunk and then drops the stream."""

    async def chat(request):
        async def body():
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": "m",
                     "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
