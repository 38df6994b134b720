"""Artifact encryption keys: `RESUMEOPT_ARTIFACT_KEYS` = `id:base64key[,id:base64key...]`, the first
encrypts and every one decrypts (rotation: put the new key first, drop the old one once retention has
removed what it encrypted).

Unset on the local backend, the platform creates one key on first start in `<data dir>/artifacts.key`
(mode 0600, the same format), as it does with `admin.key`: the embedded default is encrypted too."""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ID_LENGTH = 16  # the header holds the id in a fixed 16-byte field (see encrypted.py)
_KEY_ID = re.compile(rf"[A-Za-z0-9_.-]{{1,{KEY_ID_LENGTH}}}")


@dataclass(frozen=True)
class Keyring:
    """Named AES-256 keys; `primary` encrypts new objects."""
    primary: str
    ciphers: dict[str, AESGCM] = field(repr=False)

    def cipher(self, key_id: str) -> AESGCM | None:
        return self.ciphers.get(key_id)


def parse_keys(spec: str, source: str = "RESUMEOPT_ARTIFACT_KEYS") -> Keyring:
    """The keyring of a spec; errors name the entry and the id, never the key material."""
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise ValueError(f"{source} holds no key: expected id:base64key[,id:base64key...]")
    ciphers: dict[str, AESGCM] = {}
    for n, entry in enumerate(entries, 1):
        key_id, colon, encoded = entry.partition(":")
        if not colon:
            raise ValueError(f"{source} entry {n} is not id:base64key")
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"{source} entry {n}: the id before ':' must be 1-{KEY_ID_LENGTH} of A-Z a-z 0-9 _ . -")
        if key_id in ciphers:
            raise ValueError(f"{source}: key id {key_id!r} appears twice")
        ciphers[key_id] = AESGCM(_decode_key(encoded, f"{source} key {key_id!r}"))
    return Keyring(primary=next(iter(ciphers)), ciphers=ciphers)


def _decode_key(encoded: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"{what} is {len(raw)} bytes; AES-256 needs 32 (e.g. `openssl rand -base64 32`)")
    return raw


def new_key_entry(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"invalid key id {key_id!r}")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def local_key_path(data_dir: Path) -> Path:
    return data_dir / "artifacts.key"


def ensure_local_keys(data_dir: Path) -> str:
    """The spec in `<data_dir>/artifacts.key`, created (0600) if absent. The file appears complete or
    not at all (written aside, then hard-linked), so of two processes starting at once both use the key
    of whichever linked first."""
    path = local_key_path(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".artifacts.key.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(new_key_entry(f"local-{secrets.token_hex(3)}") + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
