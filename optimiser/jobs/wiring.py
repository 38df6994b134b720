"""A job `Runner` from the parts: the flow, artifact storage, webhooks and e-mail (each from its settings)."""

from __future__ import annotations

from dataclasses import asdict

from optimiser.jobs.runner import optimisation_runner
from optimiser.jobs.service import Runner
from optimiser.settings import OptimiserSettings


def runner_for(opt: OptimiserSettings, hooks, artifacts=None) -> Runner:
    from optimiser.artifacts import open_artifacts
    from optimiser.notify import email, webhooks
    from optimiser.notify.settings import NotifySettings

    notify = NotifySettings()

    def deliver(job: dict, event: dict, attempt: int) -> dict:
        # the id is stable per (job, event): a receiver dedupes redeliveries by `webhook-id`
        result = webhooks.attempt_delivery(job["webhook_url"], job["webhook_secret"],
                                           webhooks.message_id(job["id"], event["type"]), event, attempt, notify)
        out = {**asdict(result), "event": event["type"], "delivered": result.delivered}
        out["at"] = out["at"].isoformat() if hasattr(out["at"], "isoformat") else out["at"]
        if result.retry_after_s:
            out["retry_after_ms"] = int(min(result.retry_after_s, notify.webhook_backoff_cap_s) * 1000)
        return out

    def mail(job: dict, event_type: str) -> None:
        if email.email_enabled(notify):
            email.send_completion_email(job["notify_email"], {**job, **(job.get("result") or {})}, notify)

    return Runner(run=optimisation_runner(opt, hooks), artifacts=artifacts or open_artifacts(),
                  notify=mail, deliver_webhook=deliver,
                  check_webhook_url=lambda url: webhooks.check_webhook_url(url, notify),
                  webhook_max_attempts=notify.webhook_max_attempts,
                  webhook_backoff_s=(notify.webhook_backoff_base_s, notify.webhook_backoff_cap_s))
