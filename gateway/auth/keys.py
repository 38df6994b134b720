"""Virtual API keys: shown once, stored as a SHA-256 only; created, listed, revoked and rotated.

A key reads `ro_<key id>_<secret>`: the id (12 hex) finds the record without a scan, the secret (256
random bits) is what the hash protects. A fast hash is the right one here: the secret is random and
long, so there is nothing to brute-force (as with GitHub and Stripe tokens); a slow hash would only
slow every request. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.principal import ROLES, Principal, Role
from gateway.errors import GatewayError
from gateway.store.registry import Registry
from gateway.store.client import Store

KEY_RE = re.compile(r"^ro_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TEAM_RE = r"^[^/\x00-\x1f]{1,128}$"  # the same ids a token may carry; no slash (scopes appear in paths)


class KeyRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_id: str
    hash: str
    name: str = Field(max_length=200)
    team: str = Field(pattern=TEAM_RE)
    user_id: str = Field("", max_length=128)
    role: Role
    plan: Literal["free", "basic", "premium"]
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_from: str = ""

    def status(self, now: datetime) -> Literal["active", "revoked", "expired"]:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def public(self, now: datetime | None = None) -> dict:
        data = self.model_dump(mode="json", exclude={"hash"})
        data["prefix"] = f"ro_{self.key_id}_…"
        data["status"] = self.status(now or datetime.now(UTC))
        return data


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"ro_{key_id}_{secrets.token_urlsafe(32)}"


class KeyRegistry:
    def __init__(self, store: Store):
        self.records: Registry[KeyRecord] = Registry(store, "key", KeyRecord)

    def load(self) -> None:
        self.records.load()

    def authenticate(self, raw: str, now: datetime) -> Principal:
        """The principal of a presented key, or 401 saying which way it failed (never echoing it)."""
        m = KEY_RE.match(raw)
        rec = self.records.get(m.group(1)) if m else None
        if rec is None or not hmac.compare_digest(rec.hash, _hash(raw)):
            raise GatewayError(401, "invalid_api_key", "The API key is not valid", "authentication_error")
        status = rec.status(now)
        if status != "active":
            raise GatewayError(401, f"key_{status}", f"The API key was {status}", "authentication_error")
        return Principal("key", rec.key_id, rec.team, frozenset({rec.role}), user_id=rec.user_id, plan=rec.plan,
                         key_id=rec.key_id, token=raw)

    def create(self, *, name: str, team: str, role: str, plan: str, actor: str, user_id: str = "",
               expires_at: datetime | None = None, rotated_from: str = "", reason: str = "") -> tuple[KeyRecord, str]:
        if role not in ROLES:
            raise GatewayError(422, "invalid_request", f"role must be one of {', '.join(ROLES)}", param="role")
        key_id, raw = new_key()
        rec = KeyRecord(key_id=key_id, hash=_hash(raw), name=name, team=team, user_id=user_id, role=role,
                        plan=plan, created_at=datetime.now(UTC), created_by=actor, expires_at=expires_at,
                        revoked_at=None, rotated_from=rotated_from)
        self.records.put(key_id, rec, actor, "key.rotate" if rotated_from else "key.create", reason)
        return rec, raw

    def revoke(self, key_id: str, actor: str, at: datetime | None = None, reason: str = "") -> KeyRecord:
        rec, when = self.get(key_id), at or datetime.now(UTC)
        if rec.revoked_at is not None and rec.revoked_at <= when:
            return rec  # idempotent: revoking a revoked key changes nothing and writes nothing
        # (a key still in a rotation's grace period is revoked now: an explicit revoke cuts the grace)
        new = rec.model_copy(update={"revoked_at": when})
        self.records.put(key_id, new, actor, "key.revoke", reason)
        return new

    def rotate(self, key_id: str, actor: str, grace_s: int = 0, reason: str = "") -> tuple[KeyRecord, str]:
        """A new key with the same team, user, role and plan; the old one stops working after `grace_s`
        (0 = at once), so clients can switch without an outage."""
        old = self.get(key_id)
        if old.status(datetime.now(UTC)) != "active":
            raise GatewayError(409, "key_not_active", "Only an active key can be rotated")
        rec, raw = self.create(name=old.name, team=old.team, role=old.role, plan=old.plan, actor=actor,
                               user_id=old.user_id, expires_at=old.expires_at, rotated_from=key_id, reason=reason)
        self.revoke(key_id, actor, datetime.now(UTC) + timedelta(seconds=grace_s), reason=f"rotated to {rec.key_id}")
        return rec, raw

    def list(self, team: str | None = None) -> list[KeyRecord]:
        return sorted((r for r in self.records.all() if team is None or r.team == team), key=lambda r: r.created_at)

    def get(self, key_id: str) -> KeyRecord:
        rec = self.records.get(key_id)
        if rec is None:
            raise GatewayError(404, "key_not_found", "No such key")
        return rec
