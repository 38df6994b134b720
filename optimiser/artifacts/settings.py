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
    artifacts: Literal["local"] = Field("local", description="where job inputs and outputs are kept")
    artifact_dir: Path | None = Field(None, description="local backend's folder; empty = <data_dir>/artifacts")
    artifact_keys: SecretStr | None = Field(
        None, description="id:base64key[,...]: the first encrypts, all decrypt; empty = a key "
                          "generated into <data_dir>/artifacts.key (0600)")
    artifact_retention_days: int = Field(30, ge=0, description="sweep_expired deletes older; 0 = keep forever")

    def resolved_artifact_dir(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"
