"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec v1.0.0): sign what we send,
verify what a receiver got.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 keyed with the base64-decoded
secret (a `whsec_` prefix is dropped first), sent as `v1,<base64>`. This is byte for byte what the
reference libraries (`standardwebhooks`, Svix's) compute, so a consumer can verify with any of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"
# Spec: "Random. At least 24 bytes (192 bits, 512 maximum)" for symmetric keys.
_MIN_KEY_BYTES, _MAX_KEY_BYTES = 24, 64
# Spec: the id and timestamp "not be user controlled, or at the very least not be allowed to include any `.`";
# a header value must also be one line. Ids are ours (`message_id`), so a narrow alphabet costs nothing.
_MSG_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")


class WebhookVerificationError(Exception):
    """A webhook failed verification: a header missing or malformed, a timestamp outside the tolerance,
    or no signature that matches."""


class WebhookSecretError(ValueError):
    """A signing secret that is not a Standard Webhooks secret (`whsec_` + base64 of 24-64 random bytes)."""


def generate_secret() -> str:
    """A new signing secret for one webhook endpoint, in the spec's serialisation."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_webhook_secret(secret: str) -> None:
    """Raise WebhookSecretError unless `secret` decodes to a key of 24-64 bytes (call at job submission)."""
    size = len(_key(secret))
    if not _MIN_KEY_BYTES <= size <= _MAX_KEY_BYTES:
        raise WebhookSecretError(f"the webhook secret decodes to {size} bytes; Standard Webhooks keys are "
                                 f"{_MIN_KEY_BYTES}-{_MAX_KEY_BYTES} random bytes (base64, optional "
                                 f"'{SECRET_PREFIX}' prefix)")


def message_id(job_id: str, event_type: str) -> str:
    """The webhook-id for one job's event: stable, so every redelivery carries the same id (the receiver's
    idempotency key), and different per event type. Hashed: a job id may hold characters an id may not."""
    digest = hashlib.sha256(f"{job_id}\x00{event_type}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{msg_id}.{timestamp}.{body}`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secret: str, msg_id: str, body: bytes, now: int | None = None,
                      previous_secrets: Sequence[str] = ()) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (a fresh timestamp per attempt, same id).

    `previous_secrets` adds a signature per older secret, space-separated, for zero-downtime rotation."""
    if not _MSG_ID.fullmatch(msg_id):
        raise ValueError("msg_id must be 1-128 characters of A-Z, a-z, 0-9, '_' and '-'")
    timestamp = int(time.time()) if now is None else int(now)
    signatures = [sign(s, msg_id, timestamp, body) for s in (secret, *previous_secrets)]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = 300,
           now: int | None = None) -> None:
    """Raise WebhookVerificationError unless `body` and `headers` carry a valid, fresh signature by `secret`.

    `body` must be the raw bytes received (re-serialised JSON does not verify). Any one of the
    space-separated `v1` signatures may match (the sender signs with old and new secret while rotating);
    other versions (`v1a`, asymmetric) are skipped. Timestamps more than `tolerance_s` away from now, in
    either direction, are refused: that bounds a replay to the tolerance window; dedupe on webhook-id
    inside it."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (lower.get(f"webhook-{n}") for n in ("id", "timestamp", "signature"))
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not a unix time in seconds")
    timestamp = int(stamp)
    current = int(time.time()) if now is None else int(now)
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError(f"webhook-timestamp is more than {tolerance_s}s from now")
    expected = sign(secret, msg_id, timestamp, body).encode()
    # Compare with every candidate (no early exit), each in constant time: the time taken says nothing
    # about which signature, or which prefix of one, was right.
    matched = False
    for candidate in signatures.split(" "):
        if candidate.startswith("v1,"):
            matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise WebhookVerificationError("no matching signature")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        # The reference libraries accept unpadded base64, so padding is restored here too.
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(
            f"the webhook secret is not base64 (optionally prefixed '{SECRET_PREFIX}')") from None
    if not key:
        raise WebhookSecretError("the webhook secret is empty")
    return key
