"""Company research for the job's employer, through a search API (Serper), only when its key is set.

Without `SERPER_API_KEY` the step is skipped and the result says so (`status: skipped` with the reason);
a failing search never fails the optimisation (`status: failed`, reason). The snippets are shown to the
user as context; they are never handed to the writer, whose every claim must come from the resume.
"""

from __future__ import annotations

import logging
from typing import Literal

import httpx
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("resumeopt.optimiser.research")


class ResearchSettings(BaseSettings):
    """The search API's standard variable names (no RESUMEOPT_ prefix), plus where it lives."""

    model_config = SettingsConfigDict(extra="ignore")
    serper_api_key: SecretStr = SecretStr("")
    serper_url: str = Field("https://google.serper.dev/search", validation_alias="RESUMEOPT_SERPER_URL")
    serper_timeout_s: float = Field(5.0, gt=0, validation_alias="RESUMEOPT_SERPER_TIMEOUT_S")


class Finding(BaseModel):
    title: str
    snippet: str
    link: str


class Research(BaseModel):
    status: Literal["done", "skipped", "failed"]
    reason: str = ""
    company: str = ""
    findings: list[Finding] = []


def research_company(company: str, settings: ResearchSettings | None = None) -> Research:
    settings = settings or ResearchSettings()
    company = company.strip()[:200]
    if not company:
        return Research(status="skipped", reason="the job names no company")
    key = settings.serper_api_key.get_secret_value()
    if not key:
        return Research(status="skipped", reason="company research is off: SERPER_API_KEY is not set", company=company)
    try:
        resp = httpx.post(settings.serper_url, json={"q": f"{company} company", "num": 5},
                          headers={"X-API-KEY": key}, timeout=settings.serper_timeout_s)
        resp.raise_for_status()
        organic = resp.json().get("organic") or []
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.warning("company research failed (%s)", type(exc).__name__)
        return Research(status="failed", reason=f"search failed ({type(exc).__name__})", company=company)
    findings = [Finding(title=str(o.get("title", ""))[:300], snippet=str(o.get("snippet", ""))[:600],
                        link=str(o.get("link", ""))[:500]) for o in organic[:5] if isinstance(o, dict)]
    return Research(status="done", company=company, findings=findings)
