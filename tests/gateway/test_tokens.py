"""OIDC bearer tokens: RS256 signatures checked against a real JWKS served over loopback HTTP, the
classic forgeries refused (wrong key, `alg: none`, HS256 keyed with the public key), claims and clock
skew enforced, key rotation followed with one refetch, a flood of forged key ids kept from turning
into a flood of JWKS fetches, and the whole thing end to end through a real gateway."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.auth.principal import Principal
from gateway.auth.tokens import JwtSettings, JwtVerifier
from gateway.config import GatewayConfig
from gateway.errors import GatewayError
from gateway.local_model import free_port
from tests.support import serve, wait_for

ISSUER = "https://issuer.test/"
AUDIENCE = "resumeopt-gateway"
MSG = [{"role": "user", "content": "hi"}]


# --- the issuer: keys, a JWKS endpoint that counts its fetches, and signed tokens ------------------

@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """`a` and `b` are the issuer's (b is what it rotates to); `mallory` is an attacker's own key."""
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("a", "b", "mallory")}


def _jwk(private: rsa.RSAPrivateKey, kid: str) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class Issuer:
    """State of the JWKS endpoint, changed by the test while the server runs in its thread."""

    def __init__(self):
        self.url = ""
        self.reset()

    def reset(self) -> None:
        self.jwks: list[dict] = []
        self.fetches = 0
        self.failing = False

    def serve_keys(self, *jwks: dict) -> None:
        self.jwks = list(jwks)

    def app(self) -> Starlette:
        async def jwks(_: Request) -> JSONResponse:
            self.fetches += 1
            if self.failing:
                return JSONResponse({"error": "down for maintenance"}, status_code=503)
            return JSONResponse({"keys": self.jwks})
        return Starlette(routes=[Route("/.well-known/jwks.json", jwks)])


@pytest.fixture(scope="module")
def _issuer_server():
    issuer = Issuer()
    with serve(issuer.app()) as url:
        issuer.url = f"{url}/.well-known/jwks.json"
        yield issuer


@pytest.fixture
def issuer(_issuer_server, keys) -> Issuer:
    """The running issuer, serving key `a` as kid `k1`, with its fetch counter at zero."""
    _issuer_server.reset()
    _issuer_server.serve_keys(_jwk(keys["a"], "k1"))
    return _issuer_server


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
              "team": "search", "roles": ["consumer"], "plan": "basic"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: rsa.RSAPrivateKey, kid: str = "k1", drop: tuple[str, ...] = (), **overrides) -> str:
    claims = {k: v for k, v in _claims(**overrides).items() if k not in drop}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(public_pem: bytes, kid: str) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the issuer's *public* key (which anyone can
    fetch), hoping the verifier feeds that same key to HMAC. Built by hand: PyJWT refuses to make it."""
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}." \
                    f"{_b64(json.dumps(_claims(roles=['admin'])).encode())}"
    sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def _settings(issuer_url: str, **kw) -> JwtSettings:
    return JwtSettings(jwks_url=issuer_url, issuer=ISSUER, audience=AUDIENCE, **kw)


def _verify(verifier: JwtVerifier, token: str) -> Principal:
    return asyncio.run(verifier.verify(token))


def _refused(verifier: JwtVerifier, token: str) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        _verify(verifier, token)
    return info.value


# --- the verifier on its own --------------------------------------------------------------------

def test_valid_token_gives_the_principal_it_names(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url))
    token = _token(keys["a"], sub="alice@example.com", team="search", roles=["consumer", "engineer", "pilot"],
                   plan="premium")
    p = _verify(verifier, token)
    assert (p.kind, p.subject, p.user_id, p.team, p.plan) == ("jwt", "alice@example.com", "alice@example.com",
                                                              "search", "premium")
    assert p.roles == frozenset({"consumer", "engineer"})  # "pilot" is no role of ours: dropped
    assert p.token == token
    assert issuer.fetches == 1


def test_configured_claim_names_and_default_plan(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url, roles_claim="groups", team_claim="org", plan_claim="tier",
                                     default_plan="free"))
    p = _verify(verifier, _token(keys["a"], drop=("roles", "team", "plan"), groups="finance", org="acme"))
    assert (p.roles, p.team, p.plan) == (frozenset({"finance"}), "acme", "free")  # a single role as a string
    # the default claim names mean nothing under this configuration
    assert _refused(verifier, _token(keys["a"])).code == "forbidden"


def test_expired_beyond_the_skew_is_token_expired_but_within_it_is_accepted(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url, clock_skew_s=60))
    now = int(time.time())
    err = _refused(verifier, _token(keys["a"], iat=now - 600, exp=now - 120))
    assert (err.status, err.code) == (401, "token_expired")
    assert _verify(verifier, _token(keys["a"], iat=now - 600, exp=now - 20)).user_id == "alice"
    # with no leeway the same token is refused: the acceptance above is the skew's doing
    strict = JwtVerifier(_settings(issuer.url, clock_skew_s=0))
    assert _refused(strict, _token(keys["a"], iat=now - 600, exp=now - 20)).code == "token_expired"


def test_clock_skew_is_bounded_at_five_minutes(issuer):
    assert JwtSettings(jwks_url=issuer.url, issuer=ISSUER, audience=AUDIENCE, clock_skew_s=300).clock_skew_s == 300
    with pytest.raises(ValueError):
        JwtSettings(jwks_url=issuer.url, issuer=ISSUER, audience=AUDIENCE, clock_skew_s=301)


@pytest.mark.parametrize("overrides", [
    pytest.param({"iss": "https://evil.test/"}, id="wrong-issuer"),
    pytest.param({"aud": "some-other-api"}, id="wrong-audience"),
    pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
])
def test_wrong_claims_are_invalid_token(issuer, keys, overrides):
    verifier = JwtVerifier(_settings(issuer.url))
    assert _verify(verifier, _token(keys["a"])).team == "search"  # the same verifier takes a good token
    err = _refused(verifier, _token(keys["a"], **overrides))
    assert (err.status, err.code) == (401, "invalid_token")


@pytest.mark.parametrize("missing", ["sub", "exp", "iss", "aud"])
def test_a_required_claim_missing_is_invalid_token(issuer, keys, missing):
    verifier = JwtVerifier(_settings(issuer.url))
    err = _refused(verifier, _token(keys["a"], drop=(missing,)))
    assert (err.status, err.code) == (401, "invalid_token")


def test_signed_by_another_key_under_the_issuers_kid_is_invalid_token(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url))
    assert _verify(verifier, _token(keys["a"], kid="k1")).roles == frozenset({"consumer"})
    err = _refused(verifier, _token(keys["mallory"], kid="k1", roles=["admin"]))
    assert (err.status, err.code) == (401, "invalid_token")


def test_hs256_keyed_with_the_public_key_is_invalid_token(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url))
    pem = keys["a"].public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = _hs256_with_public_key(pem, "k1")
    assert jwt.get_unverified_header(forged)["alg"] == "HS256"
    assert jwt.decode(forged, options={"verify_signature": False})["roles"] == ["admin"]
    err = _refused(verifier, forged)
    assert (err.status, err.code) == (401, "invalid_token")


def test_alg_none_is_invalid_token(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url))
    unsigned = jwt.encode(_claims(roles=["admin"]), None, algorithm="none", headers={"kid": "k1"})
    assert unsigned.endswith(".")  # really no signature
    err = _refused(verifier, unsigned)
    assert (err.status, err.code) == (401, "invalid_token")
    # nor does an RS256 header with the signature stripped pass
    header, payload, _ = _token(keys["a"], roles=["admin"]).split(".")
    assert _refused(verifier, f"{header}.{payload}.").code == "invalid_token"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "....", ""])
def test_malformed_is_invalid_token(issuer, token):
    err = _refused(JwtVerifier(_settings(issuer.url)), token)
    assert (err.status, err.code) == (401, "invalid_token")


@pytest.mark.parametrize("overrides,drop", [
    pytest.param({}, ("roles",), id="no-roles-claim"),
    pytest.param({"roles": []}, (), id="empty-roles"),
    pytest.param({"roles": ["superuser", "root"]}, (), id="unknown-roles-only"),
    pytest.param({"roles": None}, (), id="roles-null"),
    pytest.param({"roles": 7}, (), id="roles-not-a-list"),
    pytest.param({}, ("team",), id="no-team"),
    pytest.param({"team": ""}, (), id="empty-team"),
    pytest.param({"team": ["search"]}, (), id="team-not-a-string"),
])
def test_no_recognised_role_or_no_team_is_forbidden(issuer, keys, overrides, drop):
    verifier = JwtVerifier(_settings(issuer.url))
    claims = {k: v for k, v in _claims(**overrides).items() if k not in drop}
    if "roles" in overrides:
        claims["roles"] = overrides["roles"]  # keep an explicit null
    err = _refused(verifier, jwt.encode(claims, keys["a"], algorithm="RS256", headers={"kid": "k1"}))
    assert (err.status, err.code) == (403, "forbidden")


def test_a_dict_of_roles_grants_nothing(issuer, keys):
    """`{"admin": false}` must not be read as the role list ["admin"]."""
    err = _refused(JwtVerifier(_settings(issuer.url)), _token(keys["a"], roles={"admin": False}))
    assert (err.status, err.code) == (403, "forbidden")


# --- the JWKS: rotation, forged key ids, outages -------------------------------------------------

def test_key_rotation_is_followed_with_one_refetch(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url, min_refetch_s=0))
    assert _verify(verifier, _token(keys["a"], kid="k1")).team == "search"
    assert issuer.fetches == 1
    assert _verify(verifier, _token(keys["a"], kid="k1", sub="bob")).user_id == "bob"
    assert issuer.fetches == 1  # cached

    issuer.serve_keys(_jwk(keys["b"], "k2"))  # the issuer rotates: k1 retired
    assert _verify(verifier, _token(keys["b"], kid="k2", sub="carol")).user_id == "carol"
    assert issuer.fetches == 2
    assert _verify(verifier, _token(keys["b"], kid="k2", sub="dave")).user_id == "dave"
    assert issuer.fetches == 2  # the new key is cached too
    # the retired key's tokens are no longer accepted
    assert _refused(verifier, _token(keys["a"], kid="k1")).code == "invalid_token"


def test_a_flood_of_unknown_kids_fetches_the_jwks_at_most_once(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url, min_refetch_s=30))
    forged = [_token(keys["mallory"], kid=uuid.uuid4().hex) for _ in range(50)]

    async def flood(tokens):
        return await asyncio.gather(*[verifier.verify(t) for t in tokens], return_exceptions=True)

    # cold: 50 concurrent forged kids and one real token share a single fetch
    results = asyncio.run(flood([*forged, _token(keys["a"])]))
    assert isinstance(results[-1], Principal) and results[-1].team == "search"
    assert all(isinstance(r, GatewayError) and r.code == "invalid_token" for r in results[:-1])
    assert issuer.fetches == 1
    # and more of them, one by one, within min_refetch_s: no refetch at all
    for t in [_token(keys["mallory"], kid=uuid.uuid4().hex) for _ in range(20)]:
        assert _refused(verifier, t).code == "invalid_token"
    assert issuer.fetches == 1


def test_after_min_refetch_s_a_concurrent_flood_refetches_exactly_once(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url, min_refetch_s=1))
    assert _verify(verifier, _token(keys["a"])).team == "search"
    first_fetch = time.monotonic()
    assert _refused(verifier, _token(keys["mallory"], kid="nope")).code == "invalid_token"
    assert issuer.fetches == 1  # inside the window
    wait_for(lambda: time.monotonic() - first_fetch > 1.05, timeout=5, what="min_refetch_s to pass")

    async def flood():
        tokens = [_token(keys["mallory"], kid=uuid.uuid4().hex) for _ in range(50)]
        return await asyncio.gather(*[verifier.verify(t) for t in tokens], return_exceptions=True)

    results = asyncio.run(flood())
    assert all(isinstance(r, GatewayError) and r.code == "invalid_token" for r in results)
    assert issuer.fetches == 2


def test_jwks_unreachable_from_the_start_is_auth_unavailable(keys):
    dead = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"  # nothing listens there
    verifier = JwtVerifier(_settings(dead))
    for _ in range(2):  # and it stays so: no key appears from nowhere
        err = _refused(verifier, _token(keys["a"]))
        assert (err.status, err.code) == (503, "auth_unavailable")
        assert err.headers.get("retry-after")


def test_jwks_answering_errors_from_the_start_is_auth_unavailable(issuer, keys):
    issuer.failing = True
    err = _refused(JwtVerifier(_settings(issuer.url)), _token(keys["a"]))
    assert (err.status, err.code) == (503, "auth_unavailable")
    assert issuer.fetches == 1  # it was asked, and answered 503


def test_jwks_outage_after_keys_are_cached_keeps_serving_them(issuer, keys):
    verifier = JwtVerifier(_settings(issuer.url, min_refetch_s=0))
    assert _verify(verifier, _token(keys["a"])).team == "search"
    issuer.failing = True
    # an unknown kid triggers a refetch, which fails: the token is invalid, not "auth unavailable"
    err = _refused(verifier, _token(keys["mallory"], kid="k9"))
    assert (err.status, err.code) == (401, "invalid_token")
    assert issuer.fetches == 2
    assert _verify(verifier, _token(keys["a"], sub="bob")).user_id == "bob"  # cached key still works


# --- end to end through a real gateway ------------------------------------------------------------

def test_tokens_through_the_gateway(secured, issuer, keys):
    config = GatewayConfig.model_validate({
        "default_alias": "chat",
        "models": [{"alias": "chat", "deployments": [{
            "name": "sim", "provider": "simulator", "model": "s",
            "price": {"input_per_mtok": 1, "output_per_mtok": 1},
            "simulator": {"completion_tokens": 4}}]}],
        "auth": {"jwt": {"jwks_url": issuer.url, "issuer": ISSUER, "audience": AUDIENCE}},
    })
    app = create_app(secured, config)
    team = f"team-{uuid.uuid4().hex[:6]}"
    consumer = _token(keys["a"], sub="alice", team=team, roles=["consumer"], plan="premium")
    finance = _token(keys["a"], sub="fiona", team="finance-dept", roles=["finance"])
    now = int(time.time())
    expired = _token(keys["a"], sub="alice", team=team, iat=now - 3600, exp=now - 600)
    forged = _token(keys["mallory"], sub="alice", team=team, roles=["admin"])

    def auth(token: str) -> dict:
        return {"authorization": f"Bearer {token}"}

    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        ok = client.post("/v1/chat/completions", json={"model": "chat", "messages": MSG}, headers=auth(consumer))
        assert ok.status_code == 200, ok.text
        assert ok.json()["choices"][0]["message"]["content"]
        app.state.writer.flush(10)
        rows = app.state.store.query("SELECT team, user_id FROM {db}.model_calls")
        assert rows == [{"team": team, "user_id": "alice"}]

        refused = client.post("/v1/chat/completions", json={"model": "chat", "messages": MSG},
                              headers=auth(finance))
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        report = client.get("/api/v1/reports/cost", params={"by": "team"}, headers=auth(finance))
        assert report.status_code == 200, report.text
        assert [(r["key"], r["calls"]) for r in report.json()["rows"]] == [(team, 1)]  # cross-team read

        late = client.post("/v1/chat/completions", json={"model": "chat", "messages": MSG}, headers=auth(expired))
        assert (late.status_code, late.json()["error"]["code"]) == (401, "token_expired")
        bad = client.post("/v1/chat/completions", json={"model": "chat", "messages": MSG}, headers=auth(forged))
        assert (bad.status_code, bad.json()["error"]["code"]) == (401, "invalid_token")
        # the consumer may not read cost reports
        assert client.get("/api/v1/reports/cost", headers=auth(consumer)).status_code == 403

    app.state.writer.flush(10)
    assert app.state.store.query("SELECT count() AS n FROM {db}.model_calls")[0]["n"] == 1  # no refused call ran
    assert issuer.fetches == 1  # one JWKS fetch served every token of the gateway


def test_every_endpoint_allows_exactly_its_roles_for_tokens_too(secured, issuer, keys):
    """The role table, driven with OIDC tokens: one token per role, plus an expired and a forged one."""
    import re

    from gateway.auth.gate import declared_roles
    from gateway.auth.principal import ROLES
    from optimiser.settings import OptimiserSettings
    from resumeopt.platform import create_platform_app

    config = GatewayConfig.model_validate({
        "default_alias": "chat", "models": [{"alias": "chat", "deployments": [
            {"name": "sim", "provider": "simulator", "model": "s"}]}],
        "auth": {"jwt": {"jwks_url": issuer.url, "issuer": ISSUER, "audience": AUDIENCE}}})
    app = create_platform_app(secured, config, OptimiserSettings(gateway_url="http://127.0.0.1:9"))
    now = int(time.time())
    tokens = {role: _token(keys["a"], sub=f"u-{role}", team="acme", roles=[role]) for role in ROLES}
    bad = {"token_expired": _token(keys["a"], sub="u", team="acme", roles=["admin"], iat=now - 3600, exp=now - 600),
           "invalid_token": _token(keys["mallory"], sub="u", team="acme", roles=["admin"])}
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        routes = declared_roles(app)
        for method, path, roles in routes:
            concrete = re.sub(r"\{[^}]+\}", "x-test", path)
            body = {} if method in ("POST", "PUT") else None
            for role, token in tokens.items():
                resp = client.request(method, concrete, json=body, headers={"authorization": f"Bearer {token}"})
                if roles == ["public"] or role in roles:
                    assert resp.status_code not in (401, 403), (method, path, role, resp.text)
                else:
                    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "forbidden"), (method, path, role)
            for code, token in bad.items():
                resp = client.request(method, concrete, json=body, headers={"authorization": f"Bearer {token}"})
                if roles != ["public"]:
                    assert (resp.status_code, resp.json()["error"]["code"]) == (401, code), (method, path, code)
    assert len(routes) >= 20
