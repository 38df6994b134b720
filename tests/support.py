"""Test helpers: run a real ASGI app on a loopback port (uvicorn in a thread), poll with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import redis
import uvicorn
import yaml

from gateway.local_model import free_port


class _Server(uvicorn.Server):
    """uvicorn's server, looking at `should_exit` every 10 ms instead of every 100 ms (its main loop's
    tick): the suite starts and stops ~220 servers, and each stop waited half a tick on average. Every
    tenth tick still refreshes the Date header and the notify callback (uvicorn's `on_tick`)."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)


@contextlib.contextmanager
def serve(app, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    port = port or free_port(host)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30, what="uvicorn start")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def gateway_replicas(config: dict, workdir: Path, n: int = 2, env: dict | None = None) -> Iterator[list[str]]:
    """`n` real `resumeopt gateway` processes sharing Redis state under a prefix of their own (each with
    its own chDB store, as chDB allows one process per path); the prefix's keys are removed after.
    Authentication is off unless `env` sets RESUMEOPT_AUTH (as the `gw_settings` fixture does)."""
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    procs: list[subprocess.Popen] = []
    try:
        urls = []
        for i in range(n):
            proc, url = start_gateway(config, workdir, f"replica{i}", prefix, env)
            procs.append(proc)
            urls.append(url)
        for url in urls:
            wait_for(lambda u=url: _healthy(u), timeout=60, what=f"replica {url}", interval=0.2)
        yield urls
    finally:
        for p in procs:
            stop_process(p)
        clear_redis_prefix(prefix)


def start_gateway(config: dict, workdir: Path, name: str, prefix: str,
                  env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """One `resumeopt gateway` process under `workdir/name` (not waited for: see `_healthy`)."""
    path = workdir / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "gateway", "--config", str(path),
                             "--port", str(port)], env=_env(workdir / name, prefix, env),
                            stdout=subprocess.DEVNULL, stderr=open(workdir / f"{name}.log", "ab"))
    return proc, f"http://127.0.0.1:{port}"


def start_store_writer(workdir: Path, prefix: str, env: dict | None = None) -> subprocess.Popen:
    """The scaled shape's `resumeopt store-writer`, its chDB store under `workdir/writer`."""
    return subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "store-writer"],
                            env=_env(workdir / "writer", prefix, env), stdout=subprocess.DEVNULL,
                            stderr=open(workdir / "writer.log", "ab"))


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _env(data_dir: Path, prefix: str, extra: dict | None) -> dict:
    return {**os.environ, "RESUMEOPT_STATE_BACKEND": "redis", "RESUMEOPT_REDIS_PREFIX": prefix,
            "RESUMEOPT_DATA_DIR": str(data_dir), "RESUMEOPT_AUTH": "off", **(extra or {})}


@contextlib.contextmanager
def s3_server(log_path: Path) -> Iterator[str]:
    """moto's S3 server (tests/moto_s3.py) as a process on a free loopback port; yields its endpoint URL.
    Any credentials are accepted: callers put dummy ones in boto3's chain."""
    port = free_port()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.moto_s3", "--port", str(port)],
                                cwd=Path(__file__).resolve().parent.parent, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: proc.poll() is not None or _answers(url), timeout=30, what="moto server")
            assert proc.poll() is None, f"moto server exited; see {log_path}"
            yield url
        finally:
            stop_process(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.TransportError:
        return False


def healthy(url: str) -> bool:
    return _healthy(url)


def clear_redis_prefix(prefix: str) -> None:
    client = redis.Redis()
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


# A priced simulator as the model: plumbing tests of the optimiser through the real gateway (never a quality figure).
SIMULATED_MODEL = {"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim",
                                             "price": {"input_per_mtok": 1, "output_per_mtok": 2},
                                             "simulator": {"reply": "A backend engineer with Python.",
                                                           "completion_tokens": 8}}]}]}


@contextlib.contextmanager
def simulated_platform(gw_settings, online=None, **optimiser: object) -> Iterator[tuple[str, object]]:
    """(url, app): the whole platform in-process on a loopback port, the simulator as the model;
    `optimiser`: OptimiserSettings fields (prompts_dir, experiments_path, ...); `online`: its evaluator."""
    from gateway.config import GatewayConfig
    from optimiser.settings import OptimiserSettings
    from resumeopt.platform import create_platform_app

    port = free_port()
    opt = OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}", **optimiser)
    app = create_platform_app(gw_settings, GatewayConfig.model_validate(SIMULATED_MODEL), opt, online=online)
    with serve(app, port=port) as url:
        yield url, app
