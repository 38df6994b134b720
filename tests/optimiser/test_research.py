"""Company research through the search API: skipped and said so without a key; with one, a real HTTP call
(to a search endpoint on loopback standing in for Serper's) whose failure never fails the optimisation."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from optimiser.research import ResearchSettings, research_company
from tests.support import serve


def _search_api(status: int = 200):
    app, seen = FastAPI(), []

    @app.post("/search")
    async def search(request: Request):
        seen.append((request.headers.get("x-api-key"), await request.json()))
        organic = [{"title": "Acme Corp — About", "snippet": "Acme makes rockets.", "link": "https://acme.example"}]
        return JSONResponse({"organic": organic}, status_code=status)
    return app, seen


def test_without_a_key_research_is_skipped_and_says_why(monkeypatch):
    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    got = research_company("Acme Corp")
    assert (got.status, got.company, got.findings) == ("skipped", "Acme Corp", [])
    assert "SERPER_API_KEY" in got.reason
    assert research_company("  ").reason == "the job names no company"


def test_with_a_key_the_search_api_is_called_and_its_findings_kept():
    app, seen = _search_api()
    with serve(app) as url:
        got = research_company("Acme Corp", ResearchSettings(serper_api_key=SecretStr("k-123"),
                                                             RESUMEOPT_SERPER_URL=f"{url}/search"))
    assert got.status == "done" and [f.link for f in got.findings] == ["https://acme.example"]
    assert seen == [("k-123", {"q": "Acme Corp company", "num": 5})]


def test_a_failing_search_is_reported_not_raised():
    app, _ = _search_api(status=500)
    with serve(app) as url:
        got = research_company("Acme Corp", ResearchSettings(serper_api_key=SecretStr("k"),
                                                             RESUMEOPT_SERPER_URL=f"{url}/search"))
    assert got.status == "failed" and "HTTPStatusError" in got.reason
