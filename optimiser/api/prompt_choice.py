"""Which prompts a request runs: the server's choice (production, or an experiment's arm) unless the caller
chose (`prompt_label` and/or `prompts` in the body), which evaluation runs do to try a candidate version.

Choosing is for those who own the prompts (admin, engineer): a consumer asking for a non-production
prompt gets 403 rather than silently production. A choice that does not resolve is a 422 naming what did
not, checked when the request is accepted, so a job never fails later on a typo. A request that chose its
prompts takes part in no experiment (its calls carry no `x-experiment`): its scores would mislabel an arm.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.auth.principal import Principal
from gateway.errors import GatewayError
from optimiser.agents import AGENTS
from optimiser.experiments import ArmChoice
from optimiser.flow import OptimiseInput
from optimiser.prompts import has_ref
from optimiser.settings import OptimiserSettings

MAY_CHOOSE = frozenset({"admin", "engineer"})


def settle_prompts(payload: OptimiseInput, principal: Principal, settings: OptimiserSettings,
                   arms: Callable[[Principal], list[ArmChoice]]) -> None:
    """Check the caller's prompt choice, or give the request the server's experiment arms."""
    if not payload.prompt_label and not payload.prompts:
        payload.experiments = arms(principal)
        return
    if not principal.can(MAY_CHOOSE):
        raise GatewayError(403, "prompt_choice_forbidden", "Only admin and engineer callers may choose prompt "
                           "versions; leave out 'prompt_label' and 'prompts'", "permission_denied")
    root = settings.prompts_dir
    unknown = sorted(set(payload.prompts) - set(AGENTS))
    if unknown:
        raise GatewayError(422, "unknown_prompt", f"No prompt named {', '.join(unknown)}; the prompts are "
                           f"{', '.join(AGENTS)}", param="prompts")
    missing = [f"{name}@{ref}" for name, ref in sorted(payload.prompts.items()) if not has_ref(name, ref, root)]
    if missing:
        raise GatewayError(422, "unknown_prompt", f"No such prompt version or label: {', '.join(missing)} "
                           "(resumeopt prompts list)", param="prompts")
    label = payload.prompt_label
    if label and not any(has_ref(name, label, root) for name in AGENTS):
        raise GatewayError(422, "unknown_prompt", f"No prompt has a version or label {label!r} "
                           "(resumeopt prompts list)", param="prompt_label")
    payload.experiments = []
