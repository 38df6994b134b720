"""The routing config is validated at start-up: a bad file fails loudly, before serving anything."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import GatewayConfig

LOCAL = {"name": "l", "provider": "local", "model": "m"}


def _config(**overrides) -> dict:
    return {"default_alias": "a", "models": [{"alias": "a", "deployments": [LOCAL]}], **overrides}


def test_shipped_config_is_valid(base_config):
    assert base_config.alias(base_config.default_alias) is not None
    assert base_config.needs_local_server()


@pytest.mark.parametrize(("change", "message"), [
    ({"default_alias": "missing"}, "default_alias 'missing'"),
    ({"models": [{"alias": "a", "deployments": [LOCAL]}, {"alias": "a", "deployments": [LOCAL]}]}, "duplicate"),
    ({"models": [{"alias": "a", "deployments": [{**LOCAL, "provider": "openai_compatible"}]}]}, "api_base"),
    ({"models": [{"alias": "a", "deployments": []}]}, "at least 1"),
    ({"models": [{"alias": "a", "deployments": [{**LOCAL, "api_key": "sk-inline"}]}]}, "api_key"),
])
def test_invalid_configs_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        GatewayConfig.model_validate(_config(**change))


def test_deployment_needing_a_key_is_unavailable_until_its_variable_is_set(monkeypatch):
    cfg = GatewayConfig.model_validate(_config(models=[{"alias": "a", "deployments": [
        {"name": "o", "provider": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": "RO_TEST_KEY"}]}]))
    dep = cfg.models[0].deployments[0]
    monkeypatch.delenv("RO_TEST_KEY", raising=False)
    assert not dep.available()
    monkeypatch.setenv("RO_TEST_KEY", "sk-test")
    assert dep.available()


def test_yaml_on_key_gets_a_helpful_error():
    import yaml

    doc = yaml.safe_load("default_alias: a\nmodels:\n  - alias: a\n    deployments: [{name: l, provider: local, "
                         "model: m}]\n    fallbacks:\n      - on: [any]\n        to: [a]\n")
    with pytest.raises(ValidationError, match="use `when:`"):
        GatewayConfig.model_validate(doc)
