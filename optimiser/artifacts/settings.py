"""Artifact storage settings (environment `RESUMEOPT_*`): which backend, where, the keys, how long."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.settings import default_data_dir


class ArtifactSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir,
                           description="the platform's data folder: artifacts/ and artifacts.key by default")
    artifacts: Literal["local", "s3"] = Field("local", description="where job inputs and outputs are kept")
    artifact_dir: Path | None = Field(None, description="local backend's folder; empty = <data_dir>/artifacts")
    artifact_keys: SecretStr | None = Field(
        None, description="id:base64key[,...]: the first encrypts, all decrypt; empty (local only) = a key "
                          "generated into <data_dir>/artifacts.key (0600)")
    artifact_retention_days: int = Field(30, ge=0, description="sweep_expired deletes older; 0 = keep forever")
    s3_bucket: str = Field("", description="bucket of the s3 backend (required with artifacts=s3)")
    s3_prefix: str = Field("", description="key prefix inside the bucket, e.g. resumeopt/")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint (MinIO, R2, ...); empty = AWS")
    s3_region: str = Field("", description="empty = boto3's default (AWS_REGION, ~/.aws/config)")

    def resolved_artifact_dir(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"
