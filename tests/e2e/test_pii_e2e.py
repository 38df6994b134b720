"""A resume full of contact details goes through the optimiser, the gateway and the real local model
with the default `redacted` prompt logging; afterwards no ClickHouse table and no log line (ours, and
the model server's) contains any of them, while the prompts were logged (redacted, not dropped)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.local_model import free_port
from optimiser.client import PlatformClient
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.support import serve

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RESUME = (REPO / "datasets" / "pii" / "contact-heavy-resume.md").read_text()
JOB = (REPO / "datasets" / "samples" / "job.txt").read_text()
PERSONAL = ["Marisol", "Quintero", "Haugen", "marisol.qh@example.org", "marisol.qh", "555-0179", "4155550179",
            "Evergreen", "97403", "marisol-qh", "mqhaugen"]


def test_contact_details_never_reach_a_row_or_a_log_line(secured, live_config, local_model, caplog):
    caplog.set_level(logging.DEBUG)  # everything we and our libraries log, at the most verbose level
    port = free_port()
    app = create_platform_app(secured, live_config, OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"))
    with serve(app, port=port) as url:
        _, key = app.state.keys.create(name="pii", team="careers", role="consumer", plan="premium", actor="test")
        result = PlatformClient(url, key).optimise(RESUME, JOB)
        assert "Marisol" in result["tailored_resume"]  # the product returns the person's own resume to them
        app.state.writer.flush(10)
        store = app.state.store
        tables = [r["name"] for r in store.query("SELECT name FROM system.tables WHERE database = {d:String}",
                                                 {"d": store.database})]
        # Every column that can hold text, in every table (aggregate states in the rollups hold numbers).
        text = store.query("SELECT table, groupArray(name) AS cols FROM system.columns WHERE database = {d:String} "
                           "AND type NOT LIKE 'AggregateFunction%' GROUP BY table", {"d": store.database})
        dumps = {r["table"]: str(store.query(f"SELECT {', '.join(f'`{c}`' for c in r['cols'])} "
                                             f"FROM {{db}}.`{r['table']}`")) for r in text}
        assert set(dumps) == set(tables)
        prompts = store.query("SELECT agent, prompt, completion FROM {db}.model_calls "
                              "WHERE request_id = {r:String}", {"r": result["request_id"]})
    assert {"model_calls", "optimisations", "audit", "governance"} <= set(tables)
    # every agent call (four agents, and any rewrite of the writer's) logged, redacted
    assert len(prompts) == result["usage"]["calls"] >= 3 and all(p["prompt"] for p in prompts)
    writer_prompt = next(p["prompt"] for p in prompts if p["agent"] == "writer")
    assert "[NAME]" in writer_prompt and "[EMAIL]" in writer_prompt and "[PHONE]" in writer_prompt
    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    model_log = Path(local_model._log_path).read_text(errors="replace")
    for needle in PERSONAL:
        for table, dump in dumps.items():
            assert needle.lower() not in dump.lower(), (needle, table)
        assert needle.lower() not in logs.lower(), needle
        assert needle.lower() not in model_log.lower(), (needle, "llama.log")
