"""Gateway settings (environment `RESUMEOPT_*`), passed into `create_app`: no import-time singleton."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.tracing import TracingSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    return Path.home() / ".resumeopt"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_", extra="ignore")

    config_path: Path = Field(REPO_ROOT / "deploy" / "config" / "gateway.yaml",
                              description="routing config: aliases, deployments, prices")
    price_file: Path | None = Field(REPO_ROOT / "deploy" / "prices" / "default.yaml",
                                    description="this environment's price book (versioned YAML); empty = none")
    data_dir: Path = Field(default_factory=default_data_dir, description="where the embedded store lives")
    store_dsn: str = Field("", description="clickhouse-connect DSN; empty = chdb://<data_dir>/store")
    store_database: str = "resumeopt"
    writer_batch_size: int = Field(500, ge=1)
    writer_flush_interval_s: float = Field(0.5, gt=0)
    writer_max_pending: int = Field(100_000, ge=1, description="bound of the in-memory telemetry queue")
    spool_dir: Path | None = Field(None, description="durable spool for rows the store refused; "
                                                     "empty = <data_dir>/spool/<database>")
    max_spool_bytes: int = Field(1 << 30, ge=1, description="past this the spool is reported, never dropped")
    telemetry_queue: Literal["memory", "redis"] = Field(
        "memory", description="where services emit telemetry: an in-process queue, or a Redis Stream shared "
                              "by every replica (read by the store writer; survives SIGKILL of a replica)")
    store_writer: bool = Field(True, description="with telemetry_queue=redis: this process also runs the "
                                                 "store writer that reads the stream into its store")
    writer_name: str = Field("", description="the store writer's consumer name (default: host name); a "
                                             "writer restarted under its name re-reads what it had not acknowledged")
    max_stream_backlog: int = Field(1_000_000, ge=1, description="past this many waiting events the stream "
                                                                 "backlog is reported, never trimmed")
    max_body_bytes: int = Field(4 * 1024 * 1024, description="largest request body accepted (413 past it)")
    state_backend: Literal["memory", "redis"] = Field(
        "memory", description="where breaker state lives: in-process, or Redis shared by every replica")
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field("resumeopt:", description="prefix of every key this platform writes")

    auth: Literal["required", "off"] = Field(
        "required", description="off: every caller is an anonymous admin (a private test rig, never production)")
    admin_key: SecretStr | None = Field(None, description="bootstrap admin credential (RESUMEOPT_ADMIN_KEY)")
    auth_refresh_s: float = Field(5.0, gt=0, description="how often keys and limits are reloaded from the store")

    # Retention in days per table (0 = keep forever), applied at start-up by gateway/store/retention.py.
    retention_model_calls_days: int = Field(0, ge=0, description="raw telemetry; 0 = forever")
    retention_scores_days: int = Field(0, ge=0, description="evaluator scores; 0 = forever")
    retention_optimisations_days: int = Field(0, ge=0, description="optimisation results; 0 = forever")
    retention_audit_days: int = Field(0, ge=0, description="the audit trail; 0 = forever")
    retention_model_calls_1m_days: int = Field(30, ge=0, description="per-minute rollup (health report)")
    retention_model_calls_1d_days: int = Field(0, ge=0, description="per-day rollup; 0 = forever")
    store_cluster: str = Field("", pattern=r"^[A-Za-z0-9_.{}-]*$",  # goes into DDL: a name or a {macro}, nothing else
                               description="ClickHouse cluster name when the schema of deploy/clickhouse-cluster "
                               "is used (retention alters its *_local tables ON CLUSTER)")

    def retention_days(self) -> dict[str, int]:
        prefix, suffix = "retention_", "_days"
        return {name[len(prefix):-len(suffix)]: getattr(self, name) for name in type(self).model_fields
                if name.startswith(prefix) and name.endswith(suffix)}

    log_format: Literal["json", "text"] | None = Field(
        None, description="json: one JSON object a line; unset = json for services, text for interactive commands")
    log_level: str | None = Field(None, description="unset = INFO for services, WARNING for interactive commands")
    tracing: TracingSettings = Field(default_factory=TracingSettings,
                                     description="OTEL_* and LANGFUSE_* variables, under their standard names")

    def resolved_spool_dir(self) -> Path:
        return self.spool_dir or self.data_dir / "spool" / self.store_database

    def resolved_store_dsn(self) -> str:
        return self.store_dsn or f"chdb://{(self.data_dir / 'store').resolve()}"
