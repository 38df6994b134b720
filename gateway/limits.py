"""Limits per scope (key, user, team, global): rate limits, budgets per day and month, a per-request
maximum, and the team's prompt logging mode. Plans (`free`, `basic`, `premium`) give a key (or a
token's user) its defaults; an explicit limit set by an admin on that scope overrides them field by field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.principal import Principal
from gateway.budgets import Budget
from gateway.ratelimit import RateLimit

LogMode = Literal["off", "redacted", "full"]
# any id a key or an OIDC issuer may give (`auth0|123`, "Data Science"): no slash, no control characters
SCOPE_RE = r"^(global|(key|user|team):[^/\x00-\x1f]{1,128})$"


class Limits(RateLimit):
    model_config = ConfigDict(extra="forbid")
    budget_day_usd: Decimal | None = Field(None, gt=0)
    budget_month_usd: Decimal | None = Field(None, gt=0)
    budget_mode: Literal["hard", "soft"] = Field("hard", description="hard refuses with 402; soft only alerts")
    max_request_usd: Decimal | None = Field(None, gt=0, description="refuse one request whose worst case costs more")
    prompt_logging: LogMode | None = Field(None, description="team scope only: off | redacted | full")

    def over(self, base: Limits | None) -> Limits:
        """These limits on top of `base`: every field set here wins."""
        if base is None:
            return self
        return base.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})

    def budgets(self, scope: str) -> list[Budget]:
        out = []
        for period, amount in (("day", self.budget_day_usd), ("month", self.budget_month_usd)):
            if amount is not None:
                out.append(Budget(scope=scope, period=period, limit_usd=amount, mode=self.budget_mode))
        return out

    @property
    def rated(self) -> bool:
        return bool(self.requests_per_minute or self.tokens_per_minute)


class ScopeLimits(BaseModel):
    """A row of the `governance` table (kind `limits`)."""

    model_config = ConfigDict(extra="forbid")
    scope: str = Field(pattern=SCOPE_RE)
    limits: Limits


DEFAULT_PLANS: dict[str, Limits] = {
    "free": Limits(requests_per_minute=20, tokens_per_minute=40_000, requests_burst_s=3,
                   budget_day_usd=Decimal("0.50"), budget_month_usd=Decimal("5")),
    "basic": Limits(requests_per_minute=120, tokens_per_minute=400_000, requests_burst_s=5,
                    budget_day_usd=Decimal("10"), budget_month_usd=Decimal("100")),
    "premium": Limits(requests_per_minute=600, tokens_per_minute=2_000_000, requests_burst_s=10,
                      budget_day_usd=Decimal("100"), budget_month_usd=Decimal("1000")),
}


def resolve(principal: Principal, plans: dict[str, Limits], overrides) -> list[tuple[str, Limits]]:
    """The limits that apply to one caller, narrowest scope first. `overrides(scope)` returns the
    admin-set limits of a scope or None. The plan applies to the caller's own scope (its key, or its
    user for a token)."""
    out = []
    scopes = principal.scopes()
    for i, scope in enumerate(scopes):
        own = overrides(scope)
        if i == 0 and scope != "global" and principal.plan in plans:
            own = own.over(plans[principal.plan]) if own is not None else plans[principal.plan]
        if own is not None:
            out.append((scope, own))
    return out
