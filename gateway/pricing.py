"""Cost of a call: the deployment's own price when the config sets one, else litellm's pinned map."""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache

from gateway.config import Deployment

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


_MTOK = Decimal(1_000_000)


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
    return (per_in * input_tokens + per_out * output_tokens) / _MTOK


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
