"""How a job is worked: the same flow as `POST /v1/optimise`, under the submitter's credential, with
usage read back and the optimisation row emitted like the synchronous path."""

from __future__ import annotations

from collections.abc import Callable

from optimiser.flow import OptimiseInput, run_optimisation
from optimiser.jobs.service import PermanentJobError
from optimiser.parsing import ResumeParseError
from optimiser.settings import OptimiserSettings


def optimisation_runner(settings: OptimiserSettings, hooks) -> Callable[[dict, Callable], dict]:
    """`hooks` is optimiser.api.optimise.Hooks: usage, emit and tracing of the process working the job."""
    from optimiser.api.optimise import _row

    def run(job_input: dict, progress: Callable[[str, dict], None]) -> dict:
        payload = OptimiseInput.model_validate(job_input["input"])
        # The agents' calls go out under the submitter's credential: its budgets, limits and team apply.
        run_settings = settings.model_copy(update={"gateway_api_key": job_input.get("gateway_key")
                                                   or settings.gateway_api_key})
        try:
            result = run_optimisation(run_settings, payload, progress, hooks.tracing)
        except ResumeParseError as exc:
            raise PermanentJobError(exc.code, exc.message) from None
        result["usage"] = hooks.usage(payload.request_id, None)
        team = job_input.get("team", "")  # the submitter's; absent in jobs queued before it was recorded
        hooks.emit("optimisations", _row(result, team))
        hooks.finished(result, team)
        return result

    return run
