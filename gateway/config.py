"""The routing config: model aliases mapped to deployments, validated once at start-up.

Secrets never appear in the file: a deployment names the environment variable that holds its key
(`api_key_env`), and a deployment whose variable is unset is simply not available.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from gateway.auth.tokens import JwtSettings
from gateway.breaker import BreakerPolicy
from gateway.budgets import BudgetPolicy
from gateway.cache import CachePolicy
from gateway.limits import DEFAULT_PLANS, Limits, LogMode
from gateway.providers.simulator import SimulatorSpec
from gateway.ratelimit import RateLimit
from gateway.retry import FALLBACK_ON, RetryPolicy

ProviderKind = Literal["local", "openai_compatible", "litellm", "simulator"]


class Price(BaseModel):
    """USD per million tokens. Decimal so that sums never drift."""

    model_config = ConfigDict(extra="forbid")
    input_per_mtok: Decimal = Decimal(0)
    output_per_mtok: Decimal = Decimal(0)

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        total = self.input_per_mtok * input_tokens + self.output_per_mtok * output_tokens
        return total / Decimal(1_000_000)


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    provider: ProviderKind
    model: str = Field(description="the model name the upstream expects")
    api_base: str | None = Field(None, description="unset for `local`: the platform starts the server")
    api_key_env: str | None = None
    price: Price | None = Field(None, description="unset for litellm: its pinned price map is used")
    timeout_s: float = Field(120.0, gt=0, description="one upstream call; the request deadline may cut it")
    weight: float = Field(1.0, ge=0, description="share of traffic under the weighted strategy")
    tier: Literal["draft", "final"] | None = None
    max_in_flight: int = Field(64, ge=1, description="beyond this, the deployment is skipped (back-pressure)")
    simulator: SimulatorSpec | None = Field(None, description="behaviour of a `simulator` deployment")

    @model_validator(mode="after")
    def _needs_base(self) -> Deployment:
        if self.provider == "openai_compatible" and not self.api_base:
            raise ValueError(f"deployment {self.name!r}: openai_compatible needs api_base")
        if self.provider == "simulator" and self.simulator is None:
            self.simulator = SimulatorSpec()
        return self

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def available(self) -> bool:
        """A deployment that needs a key is usable only when its variable is set."""
        return self.api_key_env is None or bool(self.api_key())


class FallbackRule(BaseModel):
    """When the alias's own deployments fail with an error class in `when`, try the aliases in `to`, in
    order. (Not `on`: YAML 1.1 reads a bare `on:` key as the boolean true.)"""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data):
        if isinstance(data, dict) and True in data:
            raise ValueError("fallback rules use `when:` (YAML reads a bare `on:` key as true)")
        return data

    when: list[Literal[FALLBACK_ON]] = Field(default_factory=lambda: ["any"], min_length=1)  # type: ignore[valid-type]
    to: list[str] = Field(min_length=1)


class ModelAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str
    description: str = ""
    strategy: Literal["weighted", "latency", "cost"] = "weighted"
    default_tier: Literal["draft", "final"] | None = None
    deployments: list[Deployment] = Field(min_length=1)
    fallbacks: list[FallbackRule] = []
    cache: CachePolicy | None = Field(None, description="overrides policy.cache for this alias")
    rate_limit: RateLimit | None = Field(None, description="protects the upstreams' quota: cache hits do not count")

    def fallbacks_for(self, error_class: str) -> list[str]:
        chain: list[str] = []
        for rule in self.fallbacks:
            if error_class in rule.when or "any" in rule.when:
                chain += [a for a in rule.to if a not in chain]
        return chain


class GatewayPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_deadline_s: float = Field(120.0, gt=0, description="per request unless x-resumeopt-timeout-ms")
    max_in_flight: int = Field(1024, ge=1, description="whole gateway; beyond it 503 + Retry-After")
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    cache: CachePolicy = CachePolicy()
    budget: BudgetPolicy = BudgetPolicy()


class AuthConfig(BaseModel):
    """Identities: plans (default limits of a key or a token's user), OIDC tokens, prompt logging."""

    model_config = ConfigDict(extra="forbid")
    jwt: JwtSettings | None = Field(None, description="accept OIDC bearer tokens from this issuer")
    plans: dict[Literal["free", "basic", "premium"], Limits] = Field(default_factory=lambda: dict(DEFAULT_PLANS))
    prompt_logging: LogMode = Field("redacted", description="default per team: off | redacted | full")

    @field_validator("plans")
    @classmethod
    def _every_plan(cls, plans: dict) -> dict:
        """A plan the file leaves out keeps its default: a key on it is never unlimited by omission."""
        return {**DEFAULT_PLANS, **plans}


class LocalModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    served_name: str = "smollm2-135m"
    n_ctx: int = Field(8192, ge=512)
    # None: one core fewer than the machine has (at least 1). llama.cpp's threads meet at a barrier after
    # every step, so one descheduled thread stalls them all: with every core given to the model and the
    # platform busy beside it, a call took 81 s instead of 4-8 s here (2 cores; tests/perf/bench_local_threads.py).
    threads: int | None = Field(None, ge=1, le=256)
    start_timeout_s: float = 90.0


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_alias: str
    models: list[ModelAlias]
    local_model: LocalModel = LocalModel()
    policy: GatewayPolicy = GatewayPolicy()
    auth: AuthConfig = AuthConfig()
    _by_alias: dict[str, ModelAlias] = PrivateAttr(default_factory=dict)

    @field_validator("models")
    @classmethod
    def _unique(cls, models: list[ModelAlias]) -> list[ModelAlias]:
        aliases = [m.alias for m in models]
        dupes = {a for a in aliases if aliases.count(a) > 1}
        if dupes:
            raise ValueError(f"duplicate model aliases: {sorted(dupes)}")
        return models

    @model_validator(mode="after")
    def _references_exist(self) -> GatewayConfig:
        aliases = {m.alias for m in self.models}
        if self.default_alias not in aliases:
            raise ValueError(f"default_alias {self.default_alias!r} is not a configured alias")
        for m in self.models:
            unknown = {a for rule in m.fallbacks for a in rule.to} - aliases
            if unknown:
                raise ValueError(f"alias {m.alias!r} falls back to unknown aliases {sorted(unknown)}")
        for policy in [self.policy.cache] + [m.cache for m in self.models if m.cache]:
            if policy.semantic.enabled and policy.semantic.embedding_model not in aliases:
                raise ValueError(f"semantic cache embeds with unknown alias {policy.semantic.embedding_model!r}")
        names = [d.name for m in self.models for d in m.deployments]
        if len(names) != len(set(names)):
            raise ValueError("deployment names must be unique across aliases")
        self._by_alias = {m.alias: m for m in self.models}
        return self

    def alias(self, name: str) -> ModelAlias | None:
        return self._by_alias.get(name)

    def needs_local_server(self) -> bool:
        return any(d.provider == "local" and not d.api_base for m in self.models for d in m.deployments)

    def with_local_base(self, api_base: str) -> GatewayConfig:
        """The same config with every managed `local` deployment pointed at a running server."""
        data = self.model_dump()
        for m in data["models"]:
            for d in m["deployments"]:
                if d["provider"] == "local" and not d["api_base"]:
                    d["api_base"] = api_base
        return GatewayConfig.model_validate(data)


def load_config(path: Path) -> GatewayConfig:
    with open(path, encoding="utf-8") as fh:
        return GatewayConfig.model_validate(yaml.safe_load(fh))
