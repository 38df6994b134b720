"""Encryption at rest: a wrapper that seals every object with AES-256-GCM before it reaches a backend.

Format (version 1), 48 bytes over the plaintext:

    b"roa" | version (1 byte) | key id (16 bytes, NUL-padded) | nonce (12) | ciphertext | tag (16)

The associated data is the 32-byte header plus the object key, so a ciphertext copied under another key,
or a header edited to name another key id, fails authentication. The overhead is fixed, so a listing
reports plaintext sizes without reading objects."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime

from cryptography.exceptions import InvalidTag

from optimiser.artifacts.keys import KEY_ID_LENGTH, Keyring
from optimiser.artifacts.store import ArtifactCorrupt, ArtifactInfo, ArtifactStore, check_key

MAGIC = b"roa"
VERSION = 1
NONCE_LENGTH = 12  # 96-bit random nonces: NIST SP 800-38D 8.3 allows 2**32 of them per key; rotate before
HEADER_LENGTH = len(MAGIC) + 1 + KEY_ID_LENGTH + NONCE_LENGTH
OVERHEAD = HEADER_LENGTH + 16


def seal(keyring: Keyring, key: str, plaintext: bytes) -> bytes:
    key_id = keyring.primary.encode("ascii").ljust(KEY_ID_LENGTH, b"\0")
    header = MAGIC + bytes([VERSION]) + key_id + os.urandom(NONCE_LENGTH)
    cipher = keyring.cipher(keyring.primary)
    return header + cipher.encrypt(header[-NONCE_LENGTH:], plaintext, header + key.encode())


def sealed_key_id(blob: bytes) -> str | None:
    """The key id a sealed object names, or None if it is not one."""
    if len(blob) < OVERHEAD or blob[:len(MAGIC)] != MAGIC:
        return None
    raw = blob[len(MAGIC) + 1:len(MAGIC) + 1 + KEY_ID_LENGTH].rstrip(b"\0")
    return raw.decode("ascii", "replace")


def unseal(keyring: Keyring, key: str, blob: bytes) -> bytes:
    key_id = sealed_key_id(blob)
    if key_id is None:
        raise ArtifactCorrupt(f"artifact {key!r} is not a sealed artifact (no header): truncated or "
                              "written by something else")
    if blob[len(MAGIC)] != VERSION:
        raise ArtifactCorrupt(f"artifact {key!r} has format version {blob[len(MAGIC)]}; this release "
                              f"reads version {VERSION}")
    cipher = keyring.cipher(key_id)
    if cipher is None:
        raise ArtifactCorrupt(f"artifact {key!r} was encrypted with key id {key_id!r}, which is not among "
                              f"the configured artifact keys ({', '.join(keyring.ciphers)})")
    header = blob[:HEADER_LENGTH]
    try:
        return cipher.decrypt(header[-NONCE_LENGTH:], blob[HEADER_LENGTH:], header + key.encode())
    except InvalidTag:
        raise ArtifactCorrupt(f"artifact {key!r} failed authentication with key id {key_id!r}: its bytes "
                              "were altered, it was moved from another key, or this is not the key it "
                              "was written with") from None


class EncryptedArtifactStore:
    """An ArtifactStore over another one (the backend), which only ever holds sealed bytes."""

    def __init__(self, backend: ArtifactStore, keyring: Keyring):
        self.backend, self.keyring = backend, keyring

    def put(self, key: str, data: bytes) -> None:
        self.backend.put(key, seal(self.keyring, check_key(key), data))

    def put_if_absent(self, key: str, data: bytes) -> bool:
        return self.backend.put_if_absent(key, seal(self.keyring, check_key(key), data))

    def get(self, key: str) -> bytes:
        return unseal(self.keyring, key, self.backend.get(check_key(key)))

    def exists(self, key: str) -> bool:
        return self.backend.exists(key)

    def list(self, prefix: str) -> list[ArtifactInfo]:
        return [replace(info, size=max(0, info.size - OVERHEAD)) for info in self.backend.list(prefix)]

    def delete_prefix(self, prefix: str) -> int:
        return self.backend.delete_prefix(prefix)

    def sweep(self, older_than: datetime) -> int:
        return self.backend.sweep(older_than)
