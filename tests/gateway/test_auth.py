"""Identities and roles over real HTTP: every endpoint is called with every role and with no, a
garbage, a revoked and an expired credential, and allows exactly the roles it declares; keys are
shown once, stored as hashes, rotate and revoke durably, and every change is audited; a team never
reads another team's costs, requests or cache."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.auth.gate import declared_roles, role_table
from gateway.auth.principal import ROLES
from gateway.config import GatewayConfig
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.conftest import ADMIN_KEY
from tests.support import serve

README = Path(__file__).resolve().parents[2] / "README.md"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def _config(**cache) -> GatewayConfig:
    return GatewayConfig.model_validate({
        "default_alias": "sim", "policy": {"cache": {"enabled": True, **cache}},
        "models": [{"alias": "sim", "deployments": [{"name": "s", "provider": "simulator", "model": "s",
                                                     "price": {"input_per_mtok": 1, "output_per_mtok": 2}}]}]})


@pytest.fixture
def platform(secured):
    """Gateway + optimiser + read API in one app, as the embedded platform serves them."""
    app = create_platform_app(secured, _config(), OptimiserSettings(gateway_url="http://127.0.0.1:9"))
    with serve(app) as url:
        yield url, app


def _key(url: str, team: str, role: str, **extra) -> tuple[str, dict]:
    resp = httpx.post(f"{url}/admin/v1/keys", json={"name": f"{team}-{role}", "team": team, "role": role, **extra},
                      headers=ADMIN)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return body.pop("key"), body


def _bearer(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}


def _routes(app) -> list[tuple[str, str, list[str]]]:
    return declared_roles(app)


def test_every_route_declares_its_roles(platform):
    _, app = platform
    routes = _routes(app)
    assert len(routes) >= 20
    undeclared = [(m, p) for m, p, roles in routes if not roles]
    assert undeclared == []


def test_readme_role_table_is_the_enforced_one(platform):
    _, app = platform
    assert role_table(app) in README.read_text(), "README's role table is stale: regenerate it"


def _call(client: httpx.Client, url: str, method: str, path: str, headers: dict) -> httpx.Response:
    concrete = re.sub(r"\{[^}]+\}", "x-test", path)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    client.cookies.clear()  # nothing sets one; if something did, no call may ride on another's
    return client.request(method, url + concrete, json=body, headers=headers, timeout=30)


def test_every_endpoint_allows_exactly_its_roles(platform):
    """~600 calls through one client: a new httpx client per call (its TLS context, ~17 ms to build)
    was most of this test's time. Each call still carries only its own credential."""
    url, app = platform
    keys = {role: _key(url, "acme", role)[0] for role in ROLES}
    revoked, rec = _key(url, "acme", "admin")
    assert httpx.post(f"{url}/admin/v1/keys/{rec['key_id']}/revoke", json={}, headers=ADMIN).status_code == 200
    expired_rec, expired = app.state.keys.create(name="old", team="acme", role="admin", plan="free", actor="test",
                                                 expires_at=datetime.now(UTC) - timedelta(seconds=1))
    refused = {"none": ({}, "missing_credentials"), "garbage": (_bearer("ro_nope"), "invalid_api_key"),
               "forged": (_bearer(f"ro_{rec['key_id']}_{'A' * 43}"), "invalid_api_key"),
               "revoked": (_bearer(revoked), "key_revoked"), "expired": (_bearer(expired), "key_expired")}
    checked = 0
    with httpx.Client() as client:
        for method, path, roles in _routes(app):
            for name, (headers, code) in refused.items():
                resp = _call(client, url, method, path, headers)
                if roles == ["public"]:
                    assert resp.status_code not in (401, 403), (method, path, name)
                else:
                    assert (resp.status_code, resp.json()["error"]["code"]) == (401, code), (method, path, name)
            for role, key in keys.items():
                resp = _call(client, url, method, path, _bearer(key))
                if roles == ["public"] or role in roles:
                    assert resp.status_code not in (401, 403), (method, path, role, resp.text)
                else:
                    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "forbidden"), (method, path, role)
                checked += 1
    assert checked >= 20 * len(ROLES)


def test_a_key_is_shown_once_and_only_its_hash_is_stored(platform):
    url, app = platform
    raw, rec = _key(url, "acme", "consumer", plan="basic", user_id="u-1")
    assert raw.startswith(f"ro_{rec['key_id']}_") and rec["prefix"] == f"ro_{rec['key_id']}_…"
    listed = httpx.get(f"{url}/admin/v1/keys", headers=ADMIN).json()["keys"]
    assert [k["key_id"] for k in listed] == [rec["key_id"]]
    assert raw not in str(listed) and "hash" not in listed[0]
    app.state.writer.flush(10)
    for table in ("governance", "audit", "model_calls"):
        dump = str(app.state.store.query(f"SELECT * FROM {{db}}.{table}"))
        assert raw not in dump and raw.split("_")[-1] not in dump, table


def test_rotate_and_revoke_take_effect_survive_a_restart_and_are_audited(secured):
    config = _config()
    app = create_platform_app(secured, config, OptimiserSettings(gateway_url="http://127.0.0.1:9"))
    body = {"model": "sim", "messages": [{"role": "user", "content": "hi"}]}
    with serve(app) as url:
        old, rec = _key(url, "acme", "consumer")
        chat = lambda key: httpx.post(f"{url}/v1/chat/completions", json=body, headers=_bearer(key))  # noqa: E731
        assert chat(old).status_code == 200
        graced = httpx.post(f"{url}/admin/v1/keys/{rec['key_id']}/rotate", json={"grace_s": 3600}, headers=ADMIN).json()
        assert chat(old).status_code == 200 and chat(graced["key"]).status_code == 200  # both, during the grace
        new = httpx.post(f"{url}/admin/v1/keys/{graced['key_id']}/rotate", json={}, headers=ADMIN).json()
        assert chat(graced["key"]).json()["error"]["code"] == "key_revoked"
        assert chat(new["key"]).status_code == 200
        assert httpx.post(f"{url}/admin/v1/keys/{rec['key_id']}/revoke", json={"reason": "left"},
                          headers=ADMIN).status_code == 200
        assert chat(old).json()["error"]["code"] == "key_revoked"
    restarted = create_platform_app(secured, config, OptimiserSettings(gateway_url="http://127.0.0.1:9"))
    with serve(restarted) as url:
        assert chat(old).status_code == 401 and chat(graced["key"]).status_code == 401
        assert chat(new["key"]).status_code == 200
        audit = httpx.get(f"{url}/admin/v1/audit", headers=ADMIN).json()["rows"]
    actions = sorted(a["action"] for a in audit)
    assert actions == sorted(["key.create", "key.rotate", "key.revoke", "key.rotate", "key.revoke",
                              "key.revoke"])
    assert {a["actor"] for a in audit} == {"admin"}
    revoke = next(a for a in audit if a["reason"] == "left")  # cut the rotation's grace short
    before, after = json.loads(revoke["before"]), json.loads(revoke["after"])
    assert before["revoked_at"] > after["revoked_at"] and "hash" not in before and "hash" not in after


def test_a_team_never_reads_another_teams_costs_requests_or_cache(platform):
    url, app = platform
    a_key, _ = _key(url, "team-a", "engineer", plan="premium")
    b_key, _ = _key(url, "team-b", "engineer", plan="premium")
    fin_key, _ = _key(url, "finance-dept", "finance")
    body = {"model": "sim", "messages": [{"role": "user", "content": "same prompt"}], "temperature": 0}
    a1 = httpx.post(f"{url}/v1/chat/completions", json=body, headers={**_bearer(a_key), "x-request-id": "req-a"})
    b1 = httpx.post(f"{url}/v1/chat/completions", json=body, headers={**_bearer(b_key), "x-request-id": "req-b"})
    a2 = httpx.post(f"{url}/v1/chat/completions", json=body, headers=_bearer(a_key))
    assert [r.headers["x-resumeopt-cache"] for r in (a1, b1, a2)] == ["miss", "miss", "hit"]

    def cost(key: str, **params) -> httpx.Response:
        return httpx.get(f"{url}/api/v1/reports/cost", params={"by": "team", **params}, headers=_bearer(key))

    assert [r["key"] for r in cost(a_key).json()["rows"]] == ["team-a"]
    assert cost(a_key, team="team-b").json()["error"]["code"] == "forbidden"
    assert [r["key"] for r in cost(fin_key).json()["rows"]] == ["team-a", "team-b"]
    assert [r["key"] for r in cost(fin_key, team="team-b").json()["rows"]] == ["team-b"]
    usage = lambda key, rid: httpx.get(f"{url}/api/v1/requests/{rid}/usage", headers=_bearer(key))  # noqa: E731
    assert usage(a_key, "req-a").json()["calls"] == 1  # its own (the hit had its own request id)
    assert usage(a_key, "req-b").json()["calls"] == 0
    assert usage(fin_key, "req-b").json()["calls"] == 1
    # request ids are the client's choice: team B reusing A's id neither reads A's rows nor adds to A's
    httpx.post(f"{url}/v1/chat/completions", json={**body, "seed": 2}, headers={**_bearer(b_key), "x-request-id": "req-a"})
    assert usage(b_key, "req-a").json()["calls"] == 1 and usage(a_key, "req-a").json()["calls"] == 1
    assert usage(fin_key, "req-a").json()["calls"] == 2
    calls = httpx.get(f"{url}/api/v1/requests/req-a/calls", headers=_bearer(b_key)).json()["rows"]
    assert len(calls) == 1


def test_me_shows_the_callers_identity_and_plan_limits(platform):
    url, _ = platform
    key, rec = _key(url, "acme", "consumer", plan="basic", user_id="u-7")
    me = httpx.get(f"{url}/api/v1/me", headers=_bearer(key)).json()
    assert (me["team"], me["roles"], me["plan"], me["user_id"]) == ("acme", ["consumer"], "basic", "u-7")
    assert me["limits"][f"key:{rec['key_id']}"]["requests_per_minute"] == 120  # the basic plan's
