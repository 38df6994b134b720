"""The embedded platform: one process serving the gateway, the optimiser API and the read API, owning
the chDB store, with the local model server as a child process. The scaled shape runs the same apps
as separate deployments; only this wiring differs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager
import time
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from gateway.app import create_app
from gateway.config import GatewayConfig, load_config
from gateway.local_model import LocalModelServer, free_port
from gateway.settings import GatewaySettings
from gateway.store import queries
from gateway.tracing import Tracing
from optimiser.api.optimise import Hooks, create_router
from optimiser.experiments import Experiments, subject_of
from optimiser.jobs.settings import JobSettings
from optimiser.settings import OptimiserSettings
from resumeopt.credentials import ensure_admin_key

log = logging.getLogger("resumeopt.platform")


def create_platform_app(gw: GatewaySettings, config: GatewayConfig, opt: OptimiserSettings,
                        tracing: Tracing | None = None, jobs: JobSettings | None = None,
                        online=None) -> FastAPI:
    """`online`: an evaluator.online.OnlineEvaluator (default: from RESUMEOPT_ONLINE_EVAL_*)."""
    app = create_app(gw, config, tracing)
    store, writer = app.state.store, app.state.writer

    def usage(request_id: str, team: str | None) -> dict:
        writer.flush(timeout=10)  # the flow's calls may still sit in the writer's batch
        return queries.usage_for_request(store, request_id, team)

    experiments = Experiments.load(opt.experiments_path, opt.prompts_dir)  # invalid: the platform does not start
    online = _add_online(app, opt, online)
    hooks = Hooks(usage=usage, emit=writer.emit, tracing=app.state.tracing, finished=online.offer,
                  arms=lambda p: experiments.choose(subject_of(p.user_id, p.team, p.subject)))
    app.include_router(create_router(opt, hooks))
    _add_evaluation(app, opt, experiments)
    service = _add_jobs(app, opt, hooks, jobs or JobSettings())
    from resumeopt.gdpr import create_gdpr_router

    app.include_router(create_gdpr_router(service, store, writer))
    return app


def _add_jobs(app: FastAPI, opt: OptimiserSettings, hooks: Hooks, settings: JobSettings):
    """The jobs API, and the in-process worker (started after the gateway it calls, stopped before it)."""
    from optimiser.api.jobs import create_jobs_router
    from optimiser.jobs.service import JobService
    from optimiser.jobs.wiring import runner_for

    service = JobService(settings, runner_for(opt, hooks))
    app.state.jobs = service
    app.include_router(create_jobs_router(opt, service, service.runner.check_webhook_url, hooks.arms))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):
        async with inner(a) as state:
            if settings.run_worker:
                service.start_worker()
            sweeper = asyncio.create_task(_sweep_artifacts(service.runner.artifacts))
            try:
                yield state
            finally:
                sweeper.cancel()
                await asyncio.to_thread(service.close)

    app.router.lifespan_context = lifespan
    return service


def _add_online(app: FastAPI, opt: OptimiserSettings, online=None):
    """The online evaluator: its scoring threads run while the app does, stopped (queue drained) before
    the store writer they emit to; its counts on /metrics."""
    from evaluator.online import OnlineEvaluator, OnlineMetrics
    from evaluator.registry import JudgeContext

    online = online or OnlineEvaluator.from_settings(ctx=JudgeContext(opt.gateway_url, opt.gateway_api_key))
    app.state.online = online
    app.state.metrics.registry.register(OnlineMetrics(online))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):
        async with inner(a) as state:
            online.start(a.state.writer.emit)
            try:
                yield state
            finally:
                await asyncio.to_thread(online.stop)

    app.router.lifespan_context = lifespan
    return online


def _add_evaluation(app: FastAPI, opt: OptimiserSettings, experiments: Experiments) -> None:
    """Feedback, the experiments' comparison, and prompt promotion (admin)."""
    from evaluator.api import create_eval_router
    from optimiser.api.prompts import create_prompts_router

    def baseline_of(name: str) -> str | None:
        found = experiments.get(name)
        return found.arms[0].key if found else None

    app.include_router(create_eval_router(baseline_of))
    app.include_router(create_prompts_router(opt))


async def _sweep_artifacts(artifacts, every_s: float = 3600.0) -> None:
    """Inputs and results past RESUMEOPT_ARTIFACT_RETENTION_DAYS are deleted: at start-up, then hourly.
    Every replica may sweep; deleting what is already deleted is harmless."""
    from optimiser.artifacts import ArtifactSettings, sweep_expired

    settings = ArtifactSettings()
    while True:
        try:
            removed = await asyncio.to_thread(sweep_expired, artifacts, settings)
            if removed:
                log.info("retention: deleted %d artifacts older than %d days", removed,
                         settings.artifact_retention_days)
        except Exception as exc:
            log.warning("artifact retention sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(every_s)


class EmbeddedPlatform:
    """Start with `with EmbeddedPlatform(...) as p:`; `p.url` is the platform's base URL."""

    def __init__(self, gw: GatewaySettings | None = None, host: str = "127.0.0.1", port: int | None = None,
                 config: GatewayConfig | None = None, model: bool = True):
        self.gw = gw or GatewaySettings()
        self.config = config or load_config(self.gw.config_path)
        self.model = model  # False: no local model server (admin commands, which call no model)
        self.admin_key: str | None = None
        self.host, self.port = host, port or free_port(host)
        self.local: LocalModelServer | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedPlatform:
        try:
            return self._start()
        except BaseException:
            self.stop()  # never leave a model server behind when the store or the port fails
            raise

    def _start(self) -> EmbeddedPlatform:
        self.gw.data_dir.mkdir(parents=True, exist_ok=True)
        if self.gw.auth == "required":
            if self.gw.admin_key is None:
                self.gw = self.gw.model_copy(update={"admin_key": SecretStr(ensure_admin_key(self.gw.data_dir))})
            self.admin_key = self.gw.admin_key.get_secret_value()
        config = self.config
        if config.needs_local_server() and not self.model:
            config = config.with_local_base("http://127.0.0.1:9/v1")  # discard port: no model is called
        elif config.needs_local_server():
            lm = config.local_model
            self.local = LocalModelServer(lm.served_name, lm.n_ctx, self.gw.data_dir / "logs" / "llama.log", threads=lm.threads)
            config = config.with_local_base(self.local.start(lm.start_timeout_s))
        opt = OptimiserSettings(gateway_url=self.url)
        app = create_platform_app(self.gw, config, opt)
        # log_config=None: uvicorn's records go to the root handler (JSON or text, gateway/logs.py)
        self._server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_config=None,
                                                     log_level="warning", timeout_graceful_shutdown=10))
        self._thread = threading.Thread(target=self._server.run, name="platform-http", daemon=True)
        self._thread.start()
        self._wait_started(timeout=30)
        # CrewAI takes ~5 s to import (FACTS.md): pay it now, beside start-up, not inside the first request.
        threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()
        return self

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"platform did not start on {self.url} (port taken?)")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        if self.local is not None:
            self.local.stop()

    def __enter__(self) -> EmbeddedPlatform:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _warm_imports() -> None:
    from optimiser.agents import import_crewai

    import_crewai()
