"""Test helpers: run a real ASGI app on a loopback port (uvicorn in a thread), poll with deadlines."""

from __future__ import annotations

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


@contextlib.contextmanager
def serve(app, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
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
    extra = {"RESUMEOPT_AUTH": "off", **(env or {})}
    prefix = f"resumeopt-test:{uuid.uuid4().hex[:8]}:"
    path = workdir / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    procs, urls = [], []
    try:
        for i in range(n):
            port = free_port()
            proc_env = {**os.environ, "RESUMEOPT_STATE_BACKEND": "redis", "RESUMEOPT_REDIS_PREFIX": prefix,
                        "RESUMEOPT_DATA_DIR": str(workdir / f"replica{i}"), **extra}
            procs.append(subprocess.Popen([sys.executable, "-m", "resumeopt.cli", "gateway", "--config", str(path),
                                           "--port", str(port)], env=proc_env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for(lambda u=url: _healthy(u), timeout=60, what=f"replica {url}", interval=0.2)
        yield urls
    finally:
        for p in procs:
            p.terminate()
            p.wait(15)
        clear_redis_prefix(prefix)


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
