"""Authentication (who) and the role check (may they) for every endpoint.

Each route declares the roles it allows with `allow(...)` (or `public()`): the declaration is both the
check (a dependency) and documentation (`x-roles` in the OpenAPI schema). Tests and the README's role
table read the declarations from the app's routes, so the table cannot drift from what is enforced.
The two hot endpoints (chat completions, embeddings) call their gate directly instead of through
dependency injection, which costs measurably more there; they declare it the same way.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import SecretStr

from gateway.auth.keys import KeyRegistry
from gateway.auth.principal import ANONYMOUS, ROLES, Principal
from gateway.auth.tokens import JwtVerifier
from gateway.errors import GatewayError

_CHALLENGE = {"www-authenticate": 'Bearer realm="resumeopt"'}


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key", "").strip()


class Authenticator:
    def __init__(self, mode: Literal["required", "off"], admin_key: SecretStr | None, keys: KeyRegistry,
                 jwt: JwtVerifier | None):
        self.mode, self.keys, self.jwt = mode, keys, jwt
        self._admin = admin_key.get_secret_value() if admin_key else ""

    async def principal(self, request: Request) -> Principal:
        cached = getattr(request.state, "principal", None)
        if cached is not None:
            return cached
        principal = await self._authenticate(request)
        request.state.principal = principal
        return principal

    async def _authenticate(self, request: Request) -> Principal:
        if self.mode == "off":
            return ANONYMOUS
        token = _bearer(request)
        if not token:
            raise GatewayError(401, "missing_credentials", "Send an API key: 'Authorization: Bearer <key>'",
                               "authentication_error", headers=_CHALLENGE)
        if self._admin and hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin_key", "admin", "platform", frozenset({"admin"}), token=token)
        if token.startswith("ro_"):
            return self.keys.authenticate(token, datetime.now(UTC))
        if self.jwt is not None and token.count(".") == 2:
            return await self.jwt.verify(token)
        raise GatewayError(401, "invalid_api_key", "The API key is not valid", "authentication_error",
                           headers=_CHALLENGE)


class RoleGate:
    """Authenticates the request and lets it through only for the declared roles."""

    def __init__(self, roles: tuple[str, ...]):
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        principal = await request.app.state.auth.principal(request)
        if not principal.can(self.roles):
            raise GatewayError(403, "forbidden", "Your role may not call this endpoint", "permission_error")
        return principal


def allow(*roles: str) -> dict:
    """Route keyword arguments: enforce these roles and publish them in the OpenAPI schema."""
    gate = RoleGate(roles)
    return {"dependencies": [Depends(gate)], "openapi_extra": {"x-roles": sorted(gate.roles)}}


def declare(gate: RoleGate) -> dict:
    """For a hot route that calls `gate` itself: publish its roles without a second check."""
    return {"openapi_extra": {"x-roles": sorted(gate.roles)}}


def public() -> dict:
    return {"openapi_extra": {"x-roles": ["public"]}}


async def _current(request: Request) -> Principal:
    return await request.app.state.auth.principal(request)


PrincipalDep = Annotated[Principal, Depends(_current)]


def team_filter(principal: Principal, requested: str | None = None) -> str | None:
    """The team a read is limited to: a cross-team role may pick one (or none = all); everyone else
    reads their own team, and asking for another is refused rather than silently narrowed."""
    if principal.cross_team:
        return requested or None
    if requested and requested != principal.team:
        raise GatewayError(403, "forbidden", "You may only read your own team's data", "permission_error")
    return principal.team


def declared_roles(app) -> list[tuple[str, str, list[str] | None]]:
    """(method, path, roles) of every route, from the OpenAPI schema: the contract clients see."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            out.append((method.upper(), path, op.get("x-roles")))
    return sorted(out, key=lambda r: (r[1], r[0]))


def role_table(app) -> str:
    """The README's endpoint/role table, read from the routes' declarations."""
    lines = ["| method | path | roles |", "|---|---|---|"]
    lines += [f"| {m} | `{p}` | {', '.join(r or ['UNDECLARED'])} |" for m, p, r in declared_roles(app)]
    return "\n".join(lines)
