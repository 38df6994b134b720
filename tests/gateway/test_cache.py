"""Response cache: every answer-changing parameter is in the key, hits are byte-identical, Cache-Control
is honoured, streams replay as streams, teams never share entries, and a hit records the cost it saved."""

from __future__ import annotations

import asyncio
import copy
import uuid

import httpx
import pytest

from gateway.app import create_app
from gateway.cache import CacheDirectives
from gateway.chat import CallContext
from gateway.config import GatewayConfig
from gateway.telemetry import Attribution
from tests.gateway.upstreams import echo_upstream
from tests.support import clear_redis_prefix, serve, wait_for

BASE = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0, "top_p": 1.0,
        "seed": 1, "max_tokens": 20, "stop": ["END"], "n": 1,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto", "response_format": {"type": "json_object"}, "top_k": 40}
CHANGES = {
    "model": "echo-2", "messages": [{"role": "user", "content": "hello"}], "temperature": 0.5, "top_p": 0.9,
    "seed": 2, "max_tokens": 21, "stop": ["STOP"], "n": 2,
    "tools": [{"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}],
    "tool_choice": "none", "response_format": {"type": "text"}, "top_k": 41,
}


def _config(up: str, **cache) -> GatewayConfig:
    dep = {"provider": "openai_compatible", "model": "m", "api_base": f"{up}/v1",
           "price": {"input_per_mtok": 1000, "output_per_mtok": 2000}}
    return GatewayConfig.model_validate({"default_alias": "echo", "policy": {"cache": {"enabled": True, **cache}},
                                         "models": [{"alias": "echo", "deployments": [{**dep, "name": "e1"}]},
                                                    {"alias": "echo-2", "deployments": [{**dep, "name": "e2"}]}]})


@pytest.fixture
def cached_gateway(gw_settings):
    upstream = echo_upstream()
    with serve(upstream) as up:
        app = create_app(gw_settings, _config(up))
        with serve(app) as url:
            yield url, upstream.state.seen, app


def _post(url: str, body: dict, **headers) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_same_request_hits_with_identical_bytes(cached_gateway):
    url, seen, _ = cached_gateway
    first = _post(url, BASE)
    again = _post(url, BASE)
    assert first.headers["x-resumeopt-cache"] == "miss" and again.headers["x-resumeopt-cache"] == "hit"
    assert again.content == first.content
    assert len(seen) == 1


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_changing_any_answer_parameter_misses(cached_gateway, field):
    url, seen, _ = cached_gateway
    _post(url, BASE)
    changed = {**copy.deepcopy(BASE), field: CHANGES[field]}
    resp = _post(url, changed)
    assert resp.headers["x-resumeopt-cache"] == "miss", field
    assert len(seen) == 2


def test_a_field_never_seen_before_is_in_the_key(cached_gateway):
    url, seen, _ = cached_gateway
    _post(url, {**BASE, "some_new_provider_param": 1})
    assert _post(url, {**BASE, "some_new_provider_param": 2}).headers["x-resumeopt-cache"] == "miss"


def test_user_field_does_not_change_the_answer(cached_gateway):
    url, _, _ = cached_gateway
    _post(url, {**BASE, "user": "a"})
    assert _post(url, {**BASE, "user": "b"}).headers["x-resumeopt-cache"] == "hit"


def test_no_store_writes_nothing_and_no_cache_refreshes(cached_gateway):
    url, seen, _ = cached_gateway
    assert _post(url, BASE, **{"cache-control": "no-store"}).headers["x-resumeopt-cache"] == "bypass"
    assert _post(url, BASE).headers["x-resumeopt-cache"] == "miss"  # nothing had been stored
    assert _post(url, BASE, **{"cache-control": "no-cache"}).headers["x-resumeopt-cache"] == "bypass"
    assert len(seen) == 3  # no-cache went upstream although an entry existed
    assert _post(url, BASE).headers["x-resumeopt-cache"] == "hit"


def test_max_age_rejects_older_entries(cached_gateway):
    url, _, _ = cached_gateway
    _post(url, BASE)
    wait_for(lambda: _post(url, BASE, **{"cache-control": "max-age=0"}).headers["x-resumeopt-cache"] == "miss",
             timeout=5, what="an entry older than max-age=0")
    assert _post(url, BASE, **{"cache-control": "max-age=3600"}).headers["x-resumeopt-cache"] == "hit"


def test_stream_is_replayed_as_the_same_stream(cached_gateway):
    url, seen, _ = cached_gateway
    body = {**BASE, "stream": True}

    def stream() -> tuple[str, bytes]:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as r:
            return r.headers["x-resumeopt-cache"], r.read()

    (s1, b1), (s2, b2) = stream(), stream()
    assert (s1, s2) == ("miss", "hit") and b1 == b2 and b1.endswith(b"data: [DONE]\n\n")
    assert len(seen) == 1
    assert _post(url, BASE).headers["x-resumeopt-cache"] == "miss"  # plain and streamed are apart


def test_hit_costs_nothing_and_records_the_saving(cached_gateway):
    url, _, app = cached_gateway
    _post(url, BASE, **{"x-request-id": "c-1"})
    _post(url, BASE, **{"x-request-id": "c-2"})
    app.state.writer.flush(10)
    rows = {r["request_id"]: r for r in app.state.store.query(
        "SELECT request_id, cost_usd, cost_saved_usd, cache_hit FROM {db}.model_calls FINAL")}
    assert rows["c-1"]["cost_usd"] > 0 and not rows["c-1"]["cache_hit"]
    assert rows["c-2"]["cache_hit"] and rows["c-2"]["cost_usd"] == 0
    assert rows["c-2"]["cost_saved_usd"] == rows["c-1"]["cost_usd"]


def test_team_a_never_reads_team_b_entry(cached_gateway):
    _, _, app = cached_gateway
    service = app.state.chat

    def ctx(team: str) -> CallContext:
        return CallContext(who=Attribution(uuid.uuid4().hex, team=team), alias="echo", deadline=1e18)

    async def go():
        a = ctx("team-a")
        assert await service.cached(BASE, a, CacheDirectives()) is None
        from gateway.telemetry import CallRecord

        await service.remember(a, b'{"answer": "for team a"}', CallRecord(a.who, "echo", "e1"))
        hit_a = await service.cached(BASE, ctx("team-a"), CacheDirectives())
        hit_b = await service.cached(BASE, ctx("team-b"), CacheDirectives())
        return hit_a, hit_b

    hit_a, hit_b = asyncio.run(go())
    assert hit_a is not None and hit_a.payload == b'{"answer": "for team a"}'
    assert hit_b is None


def test_redis_backend_is_shared_between_replicas(gw_settings, monkeypatch):
    upstream = echo_upstream()
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    settings = gw_settings.model_copy(update={"state_backend": "redis", "redis_prefix": prefix})
    with serve(upstream) as up:
        config = _config(up)
        with serve(create_app(settings, config)) as a, serve(create_app(settings, config)) as b:
            first = _post(a, BASE)
            other = _post(b, BASE)
    assert (first.headers["x-resumeopt-cache"], other.headers["x-resumeopt-cache"]) == ("miss", "hit")
    assert other.content == first.content
    clear_redis_prefix(prefix)


def test_entries_expire_after_their_ttl():
    from gateway.cache import Entry, MemoryCache

    async def go():
        cache = MemoryCache()
        await cache.set("k", Entry(b"x", 0.0, 0, "d"), ttl_s=1)
        assert (await cache.get("k")).payload == b"x"
        deadline = asyncio.get_running_loop().time() + 5
        while await cache.get("k") is not None:
            assert asyncio.get_running_loop().time() < deadline, "entry outlived its TTL"
            await asyncio.sleep(0.05)

    asyncio.run(go())


def test_semantic_index_matches_only_above_threshold_within_a_bucket_and_stays_bounded():
    from gateway.semantic_cache import SemanticIndex, bucket

    index = SemanticIndex()
    same = bucket("team:a", "echo", {"messages": [{"role": "user", "content": "x"}], "temperature": 0})
    assert same == bucket("team:a", "echo", {"messages": [{"role": "user", "content": "y"}], "temperature": 0})
    assert same != bucket("team:a", "echo", {"messages": [], "temperature": 0.1})
    assert same != bucket("team:b", "echo", {"messages": [], "temperature": 0})
    index.add(same, "k1", [1.0, 0.0], max_entries=2)
    index.add(same, "k2", [0.0, 1.0], max_entries=2)
    assert index.nearest(same, [0.99, 0.05], 0.98)[0] == "k1"
    assert index.nearest(same, [0.7, 0.7], 0.98) is None          # cosine 0.707 each
    assert index.nearest("other", [1.0, 0.0], 0.5) is None
    index.add(same, "k3", [0.6, 0.8], max_entries=2)               # k1 is evicted (least recent)
    assert index.nearest(same, [1.0, 0.0], 0.99) is None
    assert index.nearest(same, [1.0, 0.0, 0.0], 0.1) is None      # another embedding model's width


def test_semantic_cache_needs_a_configured_embedding_alias(base_config):
    data = base_config.model_dump()
    data["policy"]["cache"] = {"enabled": True, "semantic": {"enabled": True, "embedding_model": "nope"}}
    with pytest.raises(ValueError, match="unknown alias 'nope'"):
        GatewayConfig.model_validate(data)
