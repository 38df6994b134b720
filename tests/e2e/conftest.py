from __future__ import annotations

import pytest

from gateway.local_model import free_port
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.support import serve


@pytest.fixture
def platform_factory(gw_settings):
    """Serve the whole embedded platform (gateway + optimiser + read API) for a given routing config."""

    def start(config, **optimiser_overrides):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        app = create_platform_app(gw_settings, config, OptimiserSettings(gateway_url=url, **optimiser_overrides))
        return app, serve(app, port=port)

    return start
