from __future__ import annotations

from decimal import Decimal

from gateway.config import Deployment
from gateway.pricing import call_cost, litellm_prices, unit_prices


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


def test_every_row_records_the_price_its_cost_used_and_the_cost_rederives_from_it(gw_settings):
    """Plain, streamed and fallen-back calls: cost_usd equals tokens x the recorded unit prices / 1e6,
    exactly, and the price is the deployment's that answered (the fallback's, not the primary's)."""
    import httpx

    from gateway.app import create_app
    from gateway.config import GatewayConfig
    from tests.support import serve

    cheap = {"input_per_mtok": "0.15", "output_per_mtok": "0.60"}
    dear = {"input_per_mtok": "3", "output_per_mtok": "15"}
    config = GatewayConfig.model_validate({"default_alias": "a", "models": [
        {"alias": "a", "deployments": [{"name": "a1", "provider": "simulator", "model": "s", "price": cheap,
                                        "simulator": {"completion_tokens": 7}}]},
        {"alias": "down", "deployments": [{"name": "d1", "provider": "simulator", "model": "s", "price": dear,
                                           "simulator": {"error_rate": 1.0}}],
         "fallbacks": [{"when": ["any"], "to": ["a"]}]}]})
    app = create_app(gw_settings, config)
    with serve(app) as url:
        for model, stream in (("a", False), ("a", True), ("down", False)):
            resp = httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
                "model": model, "stream": stream, "messages": [{"role": "user", "content": "price me"}]})
            assert resp.status_code == 200
        app.state.writer.flush(10)
        rows = app.state.store.query("SELECT model_alias, deployment, input_tokens, output_tokens, cost_usd, "
                                     "input_price_per_mtok AS pin, output_price_per_mtok AS pout FROM {db}.model_calls")
    assert len(rows) == 3
    for r in rows:
        assert (r["deployment"], r["pin"], r["pout"]) == ("a1", Decimal("0.15"), Decimal("0.6"))
        assert r["cost_usd"] == (r["input_tokens"] * r["pin"] + r["output_tokens"] * r["pout"]) / 1_000_000
        assert r["cost_usd"] > 0


def test_price_book_precedence_and_the_shipped_book_loads(tmp_path):
    import pytest

    from gateway.config import GatewayConfig
    from gateway.pricing import PriceBook, load_price_book, priced
    from gateway.settings import GatewaySettings

    shipped = load_price_book(GatewaySettings().price_file)
    assert shipped.version and shipped.local_compute.input_per_mtok == 0  # local compute: 0 by default
    config = GatewayConfig.model_validate({"default_alias": "a", "models": [{"alias": "a", "deployments": [
        {"name": "by-name", "provider": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": "X"},
        {"name": "by-model", "provider": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": "X"},
        {"name": "box", "provider": "local", "model": "smol", "price": {"input_per_mtok": 9}},
        {"name": "configured", "provider": "simulator", "model": "s", "price": {"input_per_mtok": 2}},
        {"name": "mapped", "provider": "litellm", "model": "openai/gpt-4o", "api_key_env": "X"}]}]})
    book = PriceBook.model_validate({"version": "t", "local_compute": {"input_per_mtok": "0.5"},
                                     "models": {"openai/gpt-4o-mini": {"input_per_mtok": "0.12"}},
                                     "deployments": {"by-name": {"input_per_mtok": "0.1"}}})
    deps = {d.name: d for d in priced(config, book).alias("a").deployments}
    assert unit_prices(deps["by-name"])[0] == Decimal("0.1")       # deployment name beats model
    assert unit_prices(deps["by-model"])[0] == Decimal("0.12")     # model beats litellm's map
    assert unit_prices(deps["box"])[0] == Decimal("0.5")           # the book's compute rate beats the config
    assert unit_prices(deps["configured"])[0] == Decimal(2)        # not in the book: the config's price
    assert unit_prices(deps["mapped"])[0] == litellm_prices("openai/gpt-4o")[0] * 1_000_000
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nmodels: {m: {input_per_mtok: lots}}\n")
    with pytest.raises(ValueError):
        load_price_book(bad)
