"""Operator switches that take effect without a restart: drain or disable a deployment, disable an
alias or force it onto its fallbacks. Changes are audited by the admin API that makes them."""

from __future__ import annotations

from typing import Literal

DeploymentMode = Literal["normal", "drain", "disabled"]
AliasMode = Literal["normal", "force_fallback", "disabled"]


class Modes:
    """In-process switches. `drain` and `disabled` both take a deployment out of routing for new
    requests (in-flight ones finish); they differ in intent, which the audit trail keeps."""

    def __init__(self) -> None:
        self._deployments: dict[str, DeploymentMode] = {}
        self._aliases: dict[str, AliasMode] = {}

    def deployment(self, name: str) -> DeploymentMode:
        return self._deployments.get(name, "normal")

    def alias(self, name: str) -> AliasMode:
        return self._aliases.get(name, "normal")

    def set_deployment(self, name: str, mode: DeploymentMode) -> DeploymentMode:
        before = self.deployment(name)
        self._deployments[name] = mode
        return before

    def set_alias(self, name: str, mode: AliasMode) -> AliasMode:
        before = self.alias(name)
        self._aliases[name] = mode
        return before

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {"deployments": dict(self._deployments), "aliases": dict(self._aliases)}
