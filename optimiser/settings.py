"""Optimiser settings (environment `RESUMEOPT_*`): where the gateway is and how the flow behaves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from optimiser.prompts import PROMPTS_DIR

EXPERIMENTS_FILE = PROMPTS_DIR.parent / "deploy" / "experiments.yaml"


class OptimiserSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_", extra="ignore")

    gateway_url: str = Field("", description="base URL of the gateway (…/v1 is appended); set by the platform")
    gateway_api_key: str = Field("local", description="bearer key the optimiser presents to the gateway")
    prompt_label: str = Field("production", description="label (or exact version) of the prompts to use")
    prompts_dir: Path = Field(PROMPTS_DIR, description="the prompt registry (prompts/<name>/<version>.yaml)")
    experiments_path: Path = Field(EXPERIMENTS_FILE, description="prompt experiments (optimiser/experiments.py); "
                                   "a missing file means none")
    # Sent with every agent call (OpenAI's `seed`; llama.cpp's sampler seed): the same input and prompt
    # versions give the same drafts, so two evaluation runs differ only where the prompts differ. A
    # prompt's own `model.seed` wins.
    llm_seed: int | None = Field(7, description="sampling seed of agent calls")
    llm_timeout_s: float = Field(120.0, gt=0, description="per model call, enforced by the OpenAI client")
    optimise_timeout_s: float = Field(300.0, gt=0, description="whole synchronous optimisation")
    # Each rewrite is one more model call (~5-10 s on the local model), inside optimise_timeout_s.
    writer_retries: int = Field(2, ge=0, description="times the writer is asked again, with the violations "
                                "listed, when its summary fails the grounding check")
    max_resume_bytes: int = Field(2 * 1024 * 1024, description="413 past this")
    max_job_bytes: int = Field(256 * 1024, description="413 past this")
    # A job given as a URL (optimiser/fetch.py). The bounds keep one request from holding a worker or
    # memory: a job page is tens of KB; 2 MB and 10 s leave room for heavy HTML without inviting abuse.
    fetch_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated host names, IPs or CIDRs a job URL may reach even "
        "though they are loopback/private/link-local (e.g. an intranet job board); empty: public only")
    fetch_timeout_s: float = Field(10.0, gt=0, description="whole job-URL fetch: DNS, redirects and body")
    fetch_max_bytes: int = Field(2 * 1024 * 1024, gt=0, description="job page body; 413 past this")
    fetch_max_redirects: int = Field(5, ge=0, description="redirects followed (each target re-checked)")

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _split_allow(cls, value):
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    max_upload_bytes: int = Field(5 * 1024 * 1024, gt=0, description="resume file upload (PDF, DOCX, text): 413 past this")
    max_pdf_pages: int = Field(20, gt=0, description="a PDF with more pages is refused (422 too_many_pages)")
    file_read_timeout_s: float = Field(15.0, gt=0, description="reading one PDF (a killed child process past it)")
