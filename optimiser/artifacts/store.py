"""The artifact store's interface: what a job's inputs and outputs are kept in, whatever the backend.

Keys are '/'-separated paths such as `jobs/<job_id>/result.json`. They become file paths on the local
backend, so they are checked here once for every backend: no absolute paths, no empty, `.` or `..`
segments, and a charset that means the same on a POSIX file system and in S3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# A segment starts with a letter, digit, '_' or '-': that rules out '.', '..' and hidden names (the local
# backend's temp files start with '.', so they can never be mistaken for an artifact).
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.=+-]*"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
MAX_KEY_LENGTH = 512  # S3 allows 1024 bytes with its prefix; a job's keys are well under 100


class ArtifactNotFound(KeyError):
    """No artifact under this key."""


class ArtifactCorrupt(Exception):
    """The stored bytes cannot be trusted: decryption or authentication failed, or the key id is unknown."""


@dataclass(frozen=True)
class ArtifactInfo:
    key: str
    size: int           # plaintext bytes (what `get` returns), not the bytes at rest
    modified: datetime  # UTC


class ArtifactStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Write atomically: a reader sees the old or the new bytes, never part of them."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write only if nothing is under `key`: True if written, False if it existed. Of concurrent
        writers exactly one wins."""

    def get(self, key: str) -> bytes:
        """The bytes under `key`; ArtifactNotFound if none."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[ArtifactInfo]:
        """Every artifact whose key starts with `prefix` (a string prefix, as in S3: end it with '/' to
        mean a folder), sorted by key."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every artifact whose key starts with `prefix` (not empty); returns how many."""

    def sweep(self, older_than: datetime) -> int:
        """Retention: delete every artifact last modified before `older_than` (aware); returns how many."""


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(f"invalid artifact key {key!r}: '/'-separated segments of letters, digits and "
                         f"'_-.=+', none empty or starting with '.', at most {MAX_KEY_LENGTH} characters")
    return key


def check_prefix(prefix: str, allow_empty: bool = True) -> str:
    """A prefix is a key, or a key's start that ends in '/' or mid-segment; '' means every key."""
    if not isinstance(prefix, str):
        raise ValueError(f"invalid artifact prefix {prefix!r}")
    if prefix == "" and allow_empty:
        return prefix
    body = prefix[:-1] if prefix.endswith("/") else prefix
    if not body:
        raise ValueError(f"invalid artifact prefix {prefix!r}: must start a valid key"
                         + ("" if allow_empty else " (an empty prefix would delete everything)"))
    check_key(body)
    return prefix


def check_aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("older_than must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return when
