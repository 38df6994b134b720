"""What a request may do and what it may spend, applied before any upstream is called:
the response cache, rate limits and budgets, each scoped to the caller (key, user, team), the model
alias and the whole gateway.

Worst cases, in one place. Rate limits count tokens as chars/4 (`estimate_tokens`, the usual BPE
average) because a limit is a fairness measure and a slight undercount is harmless; budgets price the
prompt at chars/2 tokens, which BPE tokenisers do not go below in practice, because a reservation
must be a true upper bound or concurrent requests could overspend.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from gateway.auth.principal import Principal
from gateway.budgets import Budget, BudgetGuard, BudgetStore
from gateway.cache import CacheDirectives, Entry, cache_key
from gateway.config import Deployment, GatewayConfig, ModelAlias
from gateway.errors import GatewayError
from gateway.limits import Limits, LogMode, ScopeLimits, resolve
from gateway.pricing import call_cost
from gateway.ratelimit import Check, Limiter, retry_after_s
from gateway.semantic_cache import SemanticIndex, bucket
from gateway.store.registry import Registry

if TYPE_CHECKING:
    from gateway.chat import CallContext
    from gateway.telemetry import CallRecord


class Governance:
    def __init__(self, config: GatewayConfig, cache, limiter: Limiter, budgets: BudgetStore,
                 clock: Callable[[], float], limits: Registry[ScopeLimits] | None = None,
                 spent_since=None):
        self._config = config
        self.cache, self.limiter = cache, limiter
        self.budget = BudgetGuard(config.policy.budget, budgets, spent_since)
        self.limits = limits
        self._clock = clock
        self.plans = config.auth.plans
        self.semantic = SemanticIndex()
        # (alias, text, ctx) -> vector or None: the gateway's own embeddings path, set by ChatService
        self.embedder = None

    def scoped(self, principal: Principal) -> list[tuple[str, Limits]]:
        """Limits that apply to this caller, narrowest scope first (plan defaults on its own scope)."""
        if self.limits is None:
            return []
        return resolve(principal, self.plans, self._limits_of)

    def prompt_logging(self, principal: Principal) -> LogMode:
        """The team's mode if an admin set one, else the configured default."""
        own = self._limits_of(f"team:{principal.team}") if principal.team else None
        return (own and own.prompt_logging) or self._config.auth.prompt_logging

    def configured_budgets(self) -> list[Budget]:
        """Every budget set explicitly: the routing config's, then each scope's limits (plan defaults of
        individual keys are not listed: they are per key, and there may be thousands)."""
        found = list(self._config.policy.budget.budgets)
        for row in self.limits.all() if self.limits is not None else []:
            found += row.limits.budgets(row.scope)
        return found

    def _limits_of(self, scope: str) -> Limits | None:
        row = self.limits.get(scope) if self.limits is not None else None
        return row.limits if row is not None else None

    # -- response cache -------------------------------------------------------------------------------

    async def lookup(self, alias: ModelAlias, body: dict, ctx: CallContext, directives: CacheDirectives) -> Entry | None:
        """A fresh cached answer, or None; on a miss `ctx.cache_key` says where to store the answer."""
        policy = alias.cache or self._config.policy.cache
        if not policy.enabled:
            return None
        if not directives.write:
            ctx.cache = "bypass"  # no-store: neither read nor write
            return None
        namespace = "shared" if policy.shareable else f"team:{ctx.who.team}"
        key = cache_key(namespace, alias.alias, body)
        entry = await self.cache.get(key) if directives.read else None
        if _fresh(entry, directives):
            ctx.cache = "hit"
            return entry
        ctx.cache, ctx.cache_key = ("miss" if directives.read else "bypass"), key
        if policy.semantic.enabled and "messages" in body and self.embedder is not None:
            return await self._semantic(policy.semantic, namespace, alias.alias, body, ctx, directives)
        return None

    async def _semantic(self, policy, namespace: str, alias: str, body: dict, ctx: CallContext,
                        directives: CacheDirectives) -> Entry | None:
        vector = await self.embedder(policy.embedding_model, ctx.prompt, ctx)
        if vector is None:
            return None  # the embedding failed: an exact-only lookup, never a failed request
        bucket_id = bucket(namespace, alias, body)
        ctx.semantic = (bucket_id, vector)
        found = self.semantic.nearest(bucket_id, vector, policy.threshold) if directives.read else None
        entry = await self.cache.get(found[0]) if found else None
        if _fresh(entry, directives):
            ctx.cache = "semantic-hit"
            return entry
        return None

    async def remember(self, ctx: CallContext, payload: bytes, rec: CallRecord) -> None:
        if ctx.cache_key is None:
            return
        policy = self._config.alias(ctx.alias).cache or self._config.policy.cache
        if len(payload) <= policy.max_entry_bytes:
            await self.cache.set(ctx.cache_key, Entry(payload, time.time(), rec.cost_usd, rec.deployment),
                                 policy.ttl_s)
            if ctx.semantic is not None:
                self.semantic.add(ctx.semantic[0], ctx.cache_key, ctx.semantic[1], policy.semantic.max_entries)

    # -- rate limits ----------------------------------------------------------------------------------

    async def throttle(self, alias: ModelAlias, ctx: CallContext, worst_tokens: int) -> None:
        """Requests and tokens per minute: the alias's (protecting the upstream's quota), then each of the
        caller's scopes. 429 + Retry-After past any of them."""
        checks: list[Check] = []
        named: list[tuple[str, str]] = []   # (what, unit) of each check, for the refusal's message
        scoped = [(f"model:{alias.alias}", alias.rate_limit, f"model '{alias.alias}'")] if alias.rate_limit else []
        scoped += [(scope, lim, scope.split(":", 1)[0]) for scope, lim in ctx.limits if lim.rated]
        for scope, limit, what in scoped:
            if limit.requests_per_minute:
                checks.append(Check(f"{scope}:rpm", limit.requests_per_minute, limit.requests_burst_s, 1))
                named.append((what, "requests"))
            if limit.tokens_per_minute:
                if worst_tokens * 60 / limit.tokens_per_minute > max(limit.tokens_burst_s, 60 / limit.tokens_per_minute):
                    raise GatewayError(400, "request_exceeds_rate_limit",
                                       f"This request may use {worst_tokens} tokens, more than the {what} limit "
                                       "allows at once; lower max_tokens", param="max_tokens")
                checks.append(Check(f"{scope}:tpm", limit.tokens_per_minute, limit.tokens_burst_s, worst_tokens))
                named.append((what, "tokens"))
        if not checks:
            return
        verdict = await self.limiter.take_all(checks, self._clock())
        if not verdict.allowed:
            what, unit = named[verdict.refused]
            raise GatewayError(429, "rate_limited", f"Rate limit of the {what} reached ({unit} per minute)",
                               "rate_limit_error", headers={"retry-after": retry_after_s(verdict.retry_after_s)})

    # -- budgets --------------------------------------------------------------------------------------

    async def reserve(self, body: dict, ctx: CallContext) -> None:
        """Reserve the request's worst case against every budget that applies, or refuse with 402."""
        policy = self._config.policy.budget
        scopes = set(ctx.principal.scopes())
        budgets: list[Budget] = [b for b in policy.budgets if b.scope in scopes]
        max_request = policy.max_request_usd
        for scope, limits in ctx.limits:
            budgets += limits.budgets(scope)
            if limits.max_request_usd is not None:
                max_request = min(max_request or limits.max_request_usd, limits.max_request_usd)
        if not budgets and max_request is None:
            return
        embedding = "input" in body and "messages" not in body
        if not embedding and not (body.get("max_tokens") or body.get("max_completion_tokens")):
            # Without a cap the worst case is unbounded: cap it, so the reservation is a true bound.
            body["max_tokens"] = policy.default_max_tokens
        prompt = len(ctx.prompt) // 2 + 16
        completion = 0 if embedding else int(body.get("max_tokens") or body.get("max_completion_tokens")) * int(
            body.get("n") or 1)
        worst = max((call_cost(d, prompt, completion) for d in self._candidates(ctx.alias)), default=Decimal(0))
        ctx.held = await self.budget.reserve(worst, datetime.fromtimestamp(self._clock(), UTC), budgets, max_request)

    async def settle(self, ctx: CallContext, actual: Decimal) -> None:
        if ctx.held is not None:
            await self.budget.settle(ctx.held, actual)

    def _candidates(self, alias: str) -> list[Deployment]:
        """Every deployment that might serve the alias: its own and its fallback chains'. The worst case
        is priced at the dearest of them."""
        entry = self._config.alias(alias)
        names = [alias] + [a for rule in entry.fallbacks for a in rule.to]
        return [d for n in names for d in self._config.alias(n).deployments]


def _fresh(entry: Entry | None, directives: CacheDirectives) -> bool:
    return entry is not None and (directives.max_age_s is None or time.time() - entry.created <= directives.max_age_s)
