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
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProviderKind = Literal["local", "openai_compatible", "litellm"]


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
    timeout_s: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _needs_base(self) -> Deployment:
        if self.provider == "openai_compatible" and not self.api_base:
            raise ValueError(f"deployment {self.name!r}: openai_compatible needs api_base")
        return self

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def available(self) -> bool:
        """A deployment that needs a key is usable only when its variable is set."""
        return self.api_key_env is None or bool(self.api_key())


class ModelAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str
    description: str = ""
    deployments: list[Deployment] = Field(min_length=1)


class LocalModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    served_name: str = "smollm2-135m"
    n_ctx: int = Field(8192, ge=512)
    start_timeout_s: float = 90.0


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_alias: str
    models: list[ModelAlias]
    local_model: LocalModel = LocalModel()

    @field_validator("models")
    @classmethod
    def _unique(cls, models: list[ModelAlias]) -> list[ModelAlias]:
        aliases = [m.alias for m in models]
        dupes = {a for a in aliases if aliases.count(a) > 1}
        if dupes:
            raise ValueError(f"duplicate model aliases: {sorted(dupes)}")
        return models

    @model_validator(mode="after")
    def _default_exists(self) -> GatewayConfig:
        if self.default_alias not in {m.alias for m in self.models}:
            raise ValueError(f"default_alias {self.default_alias!r} is not a configured alias")
        return self

    def alias(self, name: str) -> ModelAlias | None:
        return next((m for m in self.models if m.alias == name), None)

    def needs_local_server(self) -> bool:
        return any(d.provider == "local" and not d.api_base for m in self.models for d in m.deployments)

    def with_local_base(self, api_base: str) -> GatewayConfig:
        """The same config with every managed `local` deployment pointed at a running server."""
        copy = self.model_copy(deep=True)
        for m in copy.models:
            for d in m.deployments:
                if d.provider == "local" and not d.api_base:
                    d.api_base = api_base
        return copy


def load_config(path: Path) -> GatewayConfig:
    with open(path, encoding="utf-8") as fh:
        return GatewayConfig.model_validate(yaml.safe_load(fh))
