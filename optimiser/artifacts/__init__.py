"""Artifact storage for the optimiser's async jobs: uploaded resumes, job texts, results (JSON, Markdown,
DOCX), encrypted at rest with AES-256-GCM, on a local folder (the embedded default) or S3-compatible storage.

    store = open_artifacts(settings)
    store.put_if_absent(f"jobs/{job_id}/result.json", body)   # idempotent result write
    sweep_expired(store, settings)                             # retention, run periodically

The methods block (file or network I/O): from async code call them through `asyncio.to_thread`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from optimiser.artifacts.encrypted import EncryptedArtifactStore
from optimiser.artifacts.keys import Keyring, ensure_local_keys, local_key_path, parse_keys
from optimiser.artifacts.local import LocalArtifactStore
from optimiser.artifacts.s3 import S3ArtifactStore, s3_client
from optimiser.artifacts.settings import ArtifactSettings
from optimiser.artifacts.store import ArtifactCorrupt, ArtifactInfo, ArtifactNotFound, ArtifactStore

__all__ = ["ArtifactCorrupt", "ArtifactInfo", "ArtifactNotFound", "ArtifactSettings", "ArtifactStore",
           "EncryptedArtifactStore", "LocalArtifactStore", "S3ArtifactStore", "open_artifacts", "sweep_expired"]


def open_artifacts(settings: ArtifactSettings | None = None) -> ArtifactStore:
    """The configured store, always encrypted. Raises ValueError for settings that cannot work."""
    settings = settings or ArtifactSettings()
    return EncryptedArtifactStore(_backend(settings), _keyring(settings))


def sweep_expired(store: ArtifactStore, settings: ArtifactSettings, now: datetime | None = None) -> int:
    """Delete artifacts older than `artifact_retention_days` (none when it is 0); returns how many."""
    if settings.artifact_retention_days == 0:
        return 0
    now = now or datetime.now(timezone.utc)
    return store.sweep(now - timedelta(days=settings.artifact_retention_days))


def _backend(settings: ArtifactSettings) -> ArtifactStore:
    if settings.artifacts == "local":
        return LocalArtifactStore(settings.resolved_artifact_dir())
    if not settings.s3_bucket:
        raise ValueError("RESUMEOPT_ARTIFACTS=s3 needs RESUMEOPT_S3_BUCKET")
    return S3ArtifactStore(settings.s3_bucket, settings.s3_prefix,
                           s3_client(settings.s3_endpoint_url, settings.s3_region))


def _keyring(settings: ArtifactSettings) -> Keyring:
    if settings.artifact_keys is not None:
        return parse_keys(settings.artifact_keys.get_secret_value())
    if settings.artifacts != "local":
        # A key generated on one machine could not be read on another: the scaled shape sets them all.
        raise ValueError("RESUMEOPT_ARTIFACTS=s3 needs RESUMEOPT_ARTIFACT_KEYS (the same on every machine)")
    path = local_key_path(settings.data_dir)
    return parse_keys(ensure_local_keys(settings.data_dir), source=str(path))
