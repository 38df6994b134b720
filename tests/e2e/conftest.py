from __future__ import annotations

import pytest

from gateway.local_model import free_port
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.support import serve


def start_platform(gw_settings, config, **optimiser_overrides):
    """(app, server): the whole embedded platform (gateway + optimiser + read API) for a routing config;
    `server` is a context manager that serves it and yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_platform_app(gw_settings, config, OptimiserSettings(gateway_url=url, **optimiser_overrides))
    return app, serve(app, port=port)


@pytest.fixture
def platform_factory(gw_settings):
    """Serve the whole embedded platform (gateway + optimiser + read API) for a given routing config."""
    return lambda config, **optimiser_overrides: start_platform(gw_settings, config, **optimiser_overrides)
