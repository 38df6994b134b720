"""Builds one provider per deployment from the validated config."""

from __future__ import annotations

import aiohttp

from gateway.config import Deployment, GatewayConfig
from gateway.providers.base import Provider
from gateway.providers.openai_compat import OpenAICompatProvider


def build_provider(dep: Deployment, session: aiohttp.ClientSession) -> Provider:
    if dep.provider == "simulator":
        from gateway.providers.simulator import SimulatedProvider

        return SimulatedProvider(dep.simulator, dep.name)
    if dep.provider in ("local", "openai_compatible"):
        if not dep.api_base:
            raise ValueError(f"deployment {dep.name!r} has no api_base: is the local model server running?")
        return OpenAICompatProvider(dep.api_base, dep.api_key(), session)
    from gateway.pricing import litellm_prices
    from gateway.providers.litellm_provider import LiteLLMProvider

    litellm_prices(dep.model)  # imports litellm and reads the price now, at start-up
    return LiteLLMProvider(dep.model, dep.api_key(), dep.api_base)


def build_providers(config: GatewayConfig, session: aiohttp.ClientSession) -> dict[str, Provider]:
    return {
        d.name: build_provider(d, session)
        for m in config.models
        for d in m.deployments
        if d.available()
    }
