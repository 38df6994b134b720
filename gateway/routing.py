"""Which deployments serve a request, in which order, and why.

Strategies per alias: `weighted` (random by weight), `latency` (lowest EWMA of recent latency first;
untried deployments first so that each gets measured), `cost` (cheapest price first). A tier (`draft`
for cheap and fast, `final` for accurate) chosen per request by the `x-resumeopt-tier` header, or per
alias by `default_tier`, puts the deployments of that tier first. Deployments an operator drained or
disabled are left out. The explanation travels in the `x-resumeopt-route` header and the telemetry row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gateway.config import Deployment, ModelAlias

EWMA_ALPHA = 0.3  # weight of the newest sample: ~3 samples to follow a change, noise still damped


@dataclass(frozen=True, slots=True)
class Route:
    deployments: list[Deployment]
    explanation: str


class LatencyTracker:
    def __init__(self) -> None:
        self._ewma: dict[str, float] = {}

    def observe(self, deployment: str, latency_ms: float) -> None:
        prev = self._ewma.get(deployment)
        self._ewma[deployment] = latency_ms if prev is None else prev + EWMA_ALPHA * (latency_ms - prev)

    def get(self, deployment: str) -> float | None:
        return self._ewma.get(deployment)


class Router:
    def __init__(self, latency: LatencyTracker, rng: random.Random | None = None):
        self.latency = latency
        self._rng = rng or random.Random()

    def route(self, alias: ModelAlias, usable: set[str], tier: str | None) -> Route:
        pool = [d for d in alias.deployments if d.name in usable]
        ordered = self._order(alias.strategy, pool)
        tier = tier or alias.default_tier
        if tier:
            ordered = [d for d in ordered if d.tier == tier] + [d for d in ordered if d.tier != tier]
        names = ",".join(d.name for d in ordered) or "none"
        explanation = f"strategy={alias.strategy}" + (f";tier={tier}" if tier else "") + f";order={names}"
        return Route(ordered, explanation)

    def _order(self, strategy: str, pool: list[Deployment]) -> list[Deployment]:
        if strategy == "latency":
            return sorted(pool, key=lambda d: (self.latency.get(d.name) is not None, self.latency.get(d.name) or 0))
        if strategy == "cost":
            return sorted(pool, key=_unit_price)
        return self._weighted(pool)

    def _weighted(self, pool: list[Deployment]) -> list[Deployment]:
        """Weighted order without replacement (Efraimidis-Spirakis keys): the first pick follows the
        weights, the rest are the failover order."""
        keyed = [(self._rng.random() ** (1.0 / d.weight), d) for d in pool if d.weight > 0]
        return [d for _, d in sorted(keyed, key=lambda kd: kd[0], reverse=True)]


def _unit_price(d: Deployment) -> float:
    if d.price is None:
        return float("inf")  # unknown price sorts last: cost routing never guesses
    return float(d.price.input_per_mtok + d.price.output_per_mtok)
