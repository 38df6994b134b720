"""Shared fixtures. chDB allows one data path per process, so the whole session shares one store
path; tests that need a clean slate use a database of their own inside it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from resumeopt import env

env.apply()
# A developer's own collector, Langfuse or search keys must not receive test traffic: tests that need them
# set their own.
for _name in [n for n in os.environ if n.startswith(("OTEL_EXPORTER_OTLP", "LANGFUSE_", "SERPER_"))]:
    del os.environ[_name]
# Job artifacts (inputs, results) of platforms a test starts without choosing a place land in this
# session's own folder under one session key, never in a developer's data dir.
if "RESUMEOPT_ARTIFACT_DIR" not in os.environ:
    import base64
    import tempfile

    os.environ["RESUMEOPT_ARTIFACT_DIR"] = tempfile.mkdtemp(prefix="resumeopt-test-artifacts-")
    os.environ.setdefault("RESUMEOPT_ARTIFACT_KEYS", "test:" + base64.b64encode(os.urandom(32)).decode())

from gateway.config import GatewayConfig, load_config  # noqa: E402
from gateway.local_model import LocalModelServer  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402


ADMIN_KEY = "test-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("resumeopt-data")


def new_gw_settings(data_dir: Path, secured: bool = False) -> GatewaySettings:
    """Settings with a database of their own in the session's chDB path; `secured`: see `secured` below.
    For a module-scoped platform (one expensive set-up shared by tests that read different facets of it)."""
    settings = GatewaySettings(data_dir=data_dir, store_database=f"t_{uuid.uuid4().hex[:10]}",
                               writer_flush_interval_s=0.05, auth="off")
    if secured:
        settings = settings.model_copy(update={"auth": "required", "admin_key": SecretStr(ADMIN_KEY)})
    return settings


@pytest.fixture
def gw_settings(data_dir) -> GatewaySettings:
    """Settings with a database of this test's own (same chDB path for the whole session).

    Authentication is off here: these tests are about routing, resilience, cache and store, and every
    caller is the anonymous admin. tests/gateway/test_auth.py and test_governance.py turn it on
    (`secured` below) and test identities, roles and scoped limits over the same real stack."""
    return new_gw_settings(data_dir)


@pytest.fixture
def secured(gw_settings) -> GatewaySettings:
    """The production setting: every endpoint but /healthz needs a key or token; ADMIN_KEY bootstraps."""
    return gw_settings.model_copy(update={"auth": "required", "admin_key": SecretStr(ADMIN_KEY)})


@pytest.fixture(scope="session")
def base_config() -> GatewayConfig:
    return load_config(GatewaySettings().config_path)


@pytest.fixture(scope="session")
def local_model(base_config, tmp_path_factory):
    """The real local model server (SmolLM2-135M on llama.cpp), started once per session."""
    lm = base_config.local_model
    server = LocalModelServer(lm.served_name, lm.n_ctx, tmp_path_factory.mktemp("llama") / "llama.log", threads=lm.threads)
    server.start(lm.start_timeout_s)
    yield server
    server.stop()


@pytest.fixture
def live_config(base_config, local_model) -> GatewayConfig:
    return base_config.with_local_base(local_model.api_base)
