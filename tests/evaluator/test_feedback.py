"""`POST /v1/feedback` over real HTTP on the secured platform: a thumbs up or down with a reason code
lands as a `user_feedback` score of the optimisation, only for an optimisation the caller's team may see
(404 otherwise, as a stranger's request id must not be confirmed), and a bad rating or reason is a 422."""

from __future__ import annotations

import httpx
import pytest

from evaluator.online import OnlineEvalSettings, OnlineEvaluator
from evaluator.registry import resolve
from optimiser.client import PlatformClient
from tests.conftest import ADMIN_KEY, new_gw_settings
from tests.optimiser.test_jobs import JOB, RESUME
from tests.support import simulated_platform, wait_for


def _key(url: str, team: str, role: str, **extra) -> str:
    resp = httpx.post(f"{url}/admin/v1/keys", json={"name": f"{team}-{role}", "team": team, "role": role, **extra},
                      headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert resp.status_code == 201, resp.text
    return resp.json()["key"]


def _post(url: str, key: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/feedback", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture(scope="module")
def optimised(data_dir):
    """(url, {name: key}, request id, result): acme's consumer has optimised once; nothing is sampled online.

    One platform and one optimisation for the module: each test posts feedback and reads only its own
    answers, and a refused feedback stores nothing, so the tests do not see each other. acme's consumer
    is on the premium plan: on the default (free) plan the optimisation's model calls wait out 429
    back-offs (~10 s), and rate limits are tests/gateway/test_governance.py's subject, not this module's."""
    online = OnlineEvaluator(OnlineEvalSettings(share=0.0), resolve(None))
    with simulated_platform(new_gw_settings(data_dir, secured=True), online=online) as (url, _):
        keys = {"acme": _key(url, "acme", "consumer", plan="premium"), "globex": _key(url, "globex", "consumer"),
                "acme-engineer": _key(url, "acme", "engineer"), "acme-finance": _key(url, "acme", "finance")}
        result = PlatformClient(url, keys["acme"]).optimise(RESUME, JOB)
        yield url, keys, result["request_id"], result


def test_feedback_lands_as_a_score_of_the_optimisation(optimised):
    url, keys, request_id, result = optimised
    resp = _post(url, keys["acme"], {"request_id": request_id, "rating": "down", "reason": "fabricated",
                                     "comment": "it says I know Kafka; mail me at jane@example.com"})
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] is True

    def scores() -> list[dict]:
        rows = httpx.get(f"{url}/api/v1/requests/{request_id}/scores",
                         headers={"authorization": f"Bearer {keys['acme']}"}).json()["rows"]
        return [r for r in rows if r["name"] == "user_feedback"]

    row = wait_for(scores, timeout=10, what="the feedback score")[0]
    tag = "+".join(f"{k}@{v}" for k, v in sorted(result["prompt_versions"].items()))
    assert (row["value"], row["judge"], row["prompt_version"]) == (0.0, "user", tag)
    assert row["comment"] == "fabricated: it says I know Kafka; mail me at [EMAIL]"
    # the same caller changing their mind replaces the rating; an engineer of the team adds their own
    assert _post(url, keys["acme"], {"request_id": request_id, "rating": "up"}).status_code == 202
    assert _post(url, keys["acme-engineer"], {"request_id": request_id, "rating": "up",
                                               "reason": "other"}).status_code == 202
    wait_for(lambda: sorted((r["value"], r["comment"]) for r in scores()) == [(1.0, ""), (1.0, "other")],
             timeout=10, what="the changed rating")


@pytest.mark.parametrize("who,body,status,code", [
    ("globex", {"rating": "up"}, 404, "request_not_found"),            # another team's optimisation
    ("acme", {"request_id": "no-such-request", "rating": "up"}, 404, "request_not_found"),
    ("acme", {"rating": "meh"}, 422, "invalid_request"),
    ("acme", {"rating": "down", "reason": "boring"}, 422, "invalid_request"),
    ("acme", {"rating": "down", "comment": "x" * 1001}, 422, "invalid_request"),
    ("acme", {"rating": "up", "stars": 5}, 422, "invalid_request"),
    ("acme-finance", {"rating": "up"}, 403, "forbidden"),
])
def test_feedback_is_refused_with_a_json_code(optimised, who, body, status, code):
    url, keys, request_id, _ = optimised
    resp = _post(url, keys[who], {"request_id": request_id, **body})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
