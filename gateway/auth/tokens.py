"""OIDC/JWT bearer tokens: RS256 only, signature checked against the issuer's JWKS, `iss`, `aud`,
`exp` and `sub` required, clock skew bounded. Roles, team and plan come from configurable claims.

The JWKS is fetched over HTTP and cached; a token signed with a key id we have not seen triggers one
refetch (key rotation at the issuer), at most every `min_refetch_s`, so a flood of forged key ids
cannot turn the gateway into a load generator against the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.principal import ROLES, Principal
from gateway.errors import GatewayError

log = logging.getLogger("resumeopt.gateway.auth")


class JwtSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jwks_url: str
    issuer: str
    audience: str
    clock_skew_s: int = Field(60, ge=0, le=300, description="leeway on exp/nbf/iat; bounded at 5 minutes")
    roles_claim: str = "roles"
    team_claim: str = "team"
    plan_claim: str = "plan"
    default_plan: Literal["free", "basic", "premium"] = "free"
    jwks_cache_s: int = Field(300, ge=1)
    min_refetch_s: int = Field(30, ge=0)


FAILED_RETRY_S = 2.0


def _invalid(why: str) -> GatewayError:
    return GatewayError(401, "invalid_token", f"The bearer token is not valid: {why}", "authentication_error")


class JwtVerifier:
    def __init__(self, cfg: JwtSettings):
        self.cfg = cfg
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = float("-inf")  # never fetched: the first token fetches, however young the clock
        self._failed = float("-inf")   # last failed fetch: retried at most every FAILED_RETRY_S
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _invalid("malformed") from None
        if header.get("alg") != "RS256":
            raise _invalid("only RS256 is accepted")  # never `none`, never HS256 with a public key
        key = await self._key(str(header.get("kid", "")))
        cfg = self.cfg
        try:
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=cfg.audience, issuer=cfg.issuer,
                                leeway=cfg.clock_skew_s, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise GatewayError(401, "token_expired", "The bearer token has expired", "authentication_error") from None
        except jwt.InvalidTokenError as exc:
            raise _invalid(type(exc).__name__) from None
        raw_roles = claims.get(cfg.roles_claim)  # a list of roles or one role; any other shape grants none
        listed = [raw_roles] if isinstance(raw_roles, str) else raw_roles if isinstance(raw_roles, list) else []
        roles = frozenset(r for r in listed if isinstance(r, str) and r in ROLES)
        team = claims.get(cfg.team_claim)
        if not roles or not isinstance(team, str) or not team:
            raise GatewayError(403, "forbidden", f"The token grants no role or team (claims "
                               f"'{cfg.roles_claim}', '{cfg.team_claim}')", "permission_error")
        sub = str(claims["sub"])[:128]
        plan = claims.get(cfg.plan_claim)
        if plan not in ("free", "basic", "premium"):
            plan = cfg.default_plan  # an unknown plan must not escape the default plan's limits
        return Principal("jwt", sub, team[:128], roles, user_id=sub, plan=plan, token=token)

    async def _key(self, kid: str) -> jwt.PyJWK:
        now = time.monotonic()
        if (kid not in self._keys or now - self._fetched > self.cfg.jwks_cache_s) \
                and now - self._failed >= FAILED_RETRY_S:  # an issuer that is down is not hammered
            async with self._lock:
                now = time.monotonic()
                if now - self._failed < FAILED_RETRY_S:  # a waiter behind a fetch that just failed: no retry
                    if not self._keys:
                        raise GatewayError(503, "auth_unavailable", "The token issuer's keys cannot be fetched",
                                           "service_unavailable", headers={"retry-after": "5"})
                    return self._known(kid)
                stale = now - self._fetched > self.cfg.jwks_cache_s
                may_refetch = now - self._fetched >= self.cfg.min_refetch_s
                if (kid not in self._keys and may_refetch) or stale:
                    await self._fetch()
        if not self._keys:
            raise GatewayError(503, "auth_unavailable", "The token issuer's keys cannot be fetched",
                               "service_unavailable", headers={"retry-after": "5"})
        return self._known(kid)

    def _known(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is None:
            raise _invalid("unknown signing key")
        return key

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                resp = await client.get(self.cfg.jwks_url)
                resp.raise_for_status()
                keys = resp.json()["keys"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("JWKS fetch from %s failed: %s", self.cfg.jwks_url, type(exc).__name__)
            self._failed = time.monotonic()
            if not self._keys:
                raise GatewayError(503, "auth_unavailable", "The token issuer's keys cannot be fetched",
                                   "service_unavailable", headers={"retry-after": "5"}) from None
            return  # keep serving with the keys we have
        found = {}
        for k in keys:
            if k.get("kty") == "RSA" and k.get("kid") and k.get("use", "sig") == "sig" \
                    and k.get("alg", "RS256") == "RS256":
                try:
                    found[k["kid"]] = jwt.PyJWK(k, algorithm="RS256")
                except jwt.PyJWTError:
                    continue
        self._keys, self._fetched = found, time.monotonic()
