from __future__ import annotations

from decimal import Decimal

from gateway.config import Deployment
from gateway.pricing import call_cost, litellm_prices


def test_configured_price_is_exact_decimal():
    dep = Deployment(name="d", provider="simulator", model="s",
                     price={"input_per_mtok": "0.15", "output_per_mtok": "0.60"})
    assert call_cost(dep, 1_000_000, 500_000) == Decimal("0.45")
    assert call_cost(dep, 1, 1) == Decimal("0.00000075")


def test_self_hosted_without_price_costs_nothing_and_never_loads_litellm():
    dep = Deployment(name="d", provider="openai_compatible", model="m", api_base="http://127.0.0.1:9/v1")
    assert call_cost(dep, 1000, 1000) == 0


def test_litellm_models_are_priced_from_the_pinned_map_offline():
    per_in, per_out = litellm_prices("openai/gpt-4o-mini")
    assert per_in > 0 and per_out > per_in
    assert litellm_prices("openai/no-such-model-anywhere") == (0, 0)
    dep = Deployment(name="o", provider="litellm", model="openai/gpt-4o-mini", api_key_env="X")
    assert call_cost(dep, 1_000_000, 0) == per_in * 1_000_000
