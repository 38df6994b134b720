"""Cost of a call, and where its price comes from.

Precedence per deployment: the environment's price book (`deploy/prices/<env>.yaml`: by deployment name,
then by upstream model, then `local_compute` for the platform's own model) > the routing config's `price`
> litellm's pinned map > 0. The book is applied once at start-up (`priced`), so the hot path only reads
`dep.price`. Every row records the unit prices its cost used.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from gateway.config import Deployment, GatewayConfig, Price

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


_MTOK = Decimal(1_000_000)
COST_QUANTUM = Decimal("1e-9")  # model_calls.cost_usd is Decimal(18, 9): round once, here, half-even


def unit_prices(dep: Deployment) -> tuple[Decimal, Decimal]:
    """USD per million input and output tokens: the configured price, else litellm's pinned map (a
    self-hosted or simulated model without a configured price costs nothing). Recorded on every row."""
    if dep.price is not None:
        return dep.price.input_per_mtok, dep.price.output_per_mtok
    if dep.provider != "litellm":
        return Decimal(0), Decimal(0)
    per_in, per_out = litellm_prices(dep.model)
    return per_in * _MTOK, per_out * _MTOK


def call_cost(dep: Deployment, input_tokens: int, output_tokens: int) -> Decimal:
    per_in, per_out = unit_prices(dep)
    return ((per_in * input_tokens + per_out * output_tokens) / _MTOK).quantize(COST_QUANTUM)


@lru_cache(maxsize=256)
def litellm_prices(model: str) -> tuple[Decimal, Decimal]:
    """Per-token prices from the price map shipped inside the locked litellm wheel (never fetched).
    Called at start-up for every litellm deployment, so the ~4.5 s import never lands on a request."""
    import litellm

    litellm.suppress_debug_info = True
    try:
        info = litellm.get_model_info(model)
    except Exception:  # unknown to the map: priced at 0 and visible as such in reports
        return Decimal(0), Decimal(0)
    return (Decimal(str(info.get("input_cost_per_token") or 0)),
            Decimal(str(info.get("output_cost_per_token") or 0)))


class PriceBook(BaseModel):
    """One environment's prices (a versioned YAML file)."""

    model_config = ConfigDict(extra="forbid")
    version: str
    local_compute: Price = Price()
    models: dict[str, Price] = {}
    deployments: dict[str, Price] = {}

    def price_for(self, dep: Deployment) -> Price | None:
        if dep.name in self.deployments:
            return self.deployments[dep.name]
        if dep.model in self.models:
            return self.models[dep.model]
        if dep.provider == "local":
            return self.local_compute
        return dep.price


def load_price_book(path: Path) -> PriceBook:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"price file {path}: {exc}") from exc
    return PriceBook.model_validate(raw or {})


def priced(config: GatewayConfig, book: PriceBook) -> GatewayConfig:
    """The config with the book's prices on every deployment they cover (re-validated, as
    `with_local_base` does: the config keeps an index of its aliases)."""
    data = config.model_dump()
    for alias, raw in zip(config.models, data["models"]):
        for dep, d in zip(alias.deployments, raw["deployments"]):
            price = book.price_for(dep)
            d["price"] = price.model_dump() if price is not None else None
    return GatewayConfig.model_validate(data)
