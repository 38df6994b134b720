"""Webhooks: Standard Webhooks signatures (the spec's own test vector, and plain hmac), verification
failures and rotation; delivery to a real receiver on loopback, retries, Retry-After and the SSRF policy.

`deliver` gets `sleeps.append` as its sleep, so the requested delays are asserted, never waited for."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.local_model import free_port
from optimiser.notify.settings import NotifySettings
from optimiser.notify.webhooks import (DeliveryAttempt, WebhookSecretError, WebhookURLError,
                                       WebhookVerificationError, attempt_delivery, backoff_s,
                                       check_webhook_secret, check_webhook_url, deliver, encode_event,
                                       generate_secret, message_id, sign, signature_headers, verify)
from tests.support import serve

# The Standard Webhooks reference test vector (standard-webhooks/standard-webhooks, libraries' tests;
# the same one Svix's libraries pin).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = generate_secret()
EVENT = {"type": "job.succeeded", "job_id": "job_42", "created_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
         "data": {"status": "succeeded", "match_before": 41.5, "match_after": 68.0, "degraded": False,
                  "result_url": "https://resumeopt.example/v1/jobs/job_42/result"}}
MSG_ID = message_id("job_42", "job.succeeded")
ALLOWED = NotifySettings(webhook_allow="127.0.0.1", webhook_max_attempts=3, webhook_timeout_s=5,
                         webhook_backoff_base_s=0.5, webhook_backoff_cap_s=30)
DEFAULT = ALLOWED.model_copy(update={"webhook_allow": []})


# --- signatures -------------------------------------------------------------------------------------

def test_the_spec_test_vector_signs_and_verifies():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TS + 299)


def test_the_signature_is_hmac_sha256_over_id_timestamp_and_body_keyed_with_the_decoded_secret():
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    body = encode_event(EVENT)
    digest = hmac.new(key, f"{MSG_ID}.1700000000.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert sign(SECRET, MSG_ID, 1700000000, body) == expected
    assert sign(SECRET.removeprefix("whsec_"), MSG_ID, 1700000000, body) == expected  # prefix optional


def test_headers_round_trip_through_verify():
    body = encode_event(EVENT)
    headers = signature_headers(SECRET, MSG_ID, body, now=1700000000)
    assert headers["webhook-id"] == MSG_ID and headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == sign(SECRET, MSG_ID, 1700000000, body)
    verify(SECRET, headers, body, now=1700000000)
    verify(SECRET, {k.title(): v for k, v in headers.items()}, body, now=1700000000)  # header names: any case


def _spec_headers(**changes) -> dict[str, str]:
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    return {k: v for k, v in {**headers, **changes}.items() if v is not None}


@pytest.mark.parametrize(("secret", "headers", "body", "now", "reason"), [
    (SPEC_SECRET, _spec_headers(), b'{"test": 2432232315}', SPEC_TS, "no matching signature"),
    (SECRET, _spec_headers(), SPEC_BODY, SPEC_TS, "no matching signature"),
    (SPEC_SECRET, _spec_headers(**{"webhook-id": "msg_other"}), SPEC_BODY, SPEC_TS, "no matching signature"),
    (SPEC_SECRET, _spec_headers(), SPEC_BODY, SPEC_TS + 301, "from now"),
    (SPEC_SECRET, _spec_headers(), SPEC_BODY, SPEC_TS - 301, "from now"),
    (SPEC_SECRET, _spec_headers(**{"webhook-signature": None}), SPEC_BODY, SPEC_TS, "missing"),
    (SPEC_SECRET, _spec_headers(**{"webhook-timestamp": None}), SPEC_BODY, SPEC_TS, "missing"),
    (SPEC_SECRET, _spec_headers(**{"webhook-id": None}), SPEC_BODY, SPEC_TS, "missing"),
    (SPEC_SECRET, _spec_headers(**{"webhook-timestamp": "1614265330.0"}), SPEC_BODY, SPEC_TS, "unix time"),
    (SPEC_SECRET, _spec_headers(**{"webhook-signature": "v1a," + SPEC_SIGNATURE[3:]}), SPEC_BODY, SPEC_TS,
     "no matching signature"),
    (SPEC_SECRET, _spec_headers(**{"webhook-signature": SPEC_SIGNATURE[3:]}), SPEC_BODY, SPEC_TS,
     "no matching signature"),
], ids=["tampered-body", "wrong-secret", "other-id", "too-old", "too-new", "no-signature", "no-timestamp",
        "no-id", "fractional-timestamp", "other-version", "no-version"])
def test_verification_refuses(secret, headers, body, now, reason):
    with pytest.raises(WebhookVerificationError, match=reason):
        verify(secret, headers, body, now=now)


def test_rotation_signs_with_both_secrets_and_either_verifies():
    old, new, body = generate_secret(), generate_secret(), encode_event(EVENT)
    headers = signature_headers(new, MSG_ID, body, now=1700000000, previous_secrets=[old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(new, headers, body, now=1700000000)
    verify(old, headers, body, now=1700000000)
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, body, now=1700000000)


def test_verify_finds_a_valid_signature_among_unknown_and_stale_ones():
    signatures = f"v1a,c29tZXRoaW5n v1,{base64.b64encode(b'x' * 32).decode()} {SPEC_SIGNATURE}"
    verify(SPEC_SECRET, _spec_headers(**{"webhook-signature": signatures}), SPEC_BODY, now=SPEC_TS)


def test_message_ids_are_stable_per_job_and_event_type_and_safe_to_sign():
    assert message_id("job_42", "job.succeeded") == MSG_ID
    assert message_id("job_42", "job.failed") != MSG_ID and message_id("job_43", "job.succeeded") != MSG_ID
    assert "." not in MSG_ID and MSG_ID.startswith("msg_")
    with pytest.raises(ValueError, match="msg_id"):
        signature_headers(SECRET, "msg.with.dots", b"{}")  # the spec forbids '.' in the signed id


@pytest.mark.parametrize("secret", ["whsec_" + base64.b64encode(b"short").decode(), "whsec_not base64!", "whsec_"])
def test_a_secret_that_is_not_a_standard_webhooks_key_is_refused(secret):
    with pytest.raises(WebhookSecretError):
        check_webhook_secret(secret)


def test_generated_secrets_are_standard_webhooks_keys():
    check_webhook_secret(SECRET)
    assert SECRET.startswith("whsec_") and len(base64.b64decode(SECRET[6:])) == 32
    assert generate_secret() != SECRET


# --- a receiver on loopback -------------------------------------------------------------------------

@dataclass
class Receiver:
    """A webhook endpoint that answers from `script` ((status, headers), in order; then 200) and keeps
    every request it got."""

    base: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}/hook"


def receiver_app(rx: Receiver) -> Starlette:
    async def hook(request: Request):
        rx.seen.append({"path": request.url.path, "headers": dict(request.headers), "body": await request.body()})
        status, headers = rx.script.pop(0) if rx.script else (200, {})
        return Response(status_code=status, headers=headers)

    async def slow(request: Request):
        # Answers after 2 s, later than any timeout here, or as soon as the caller has hung up: the
        # server's stop waits for this handler, and a fixed 2 s sleep made that stop take ~1.8 s.
        for _ in range(200):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.01)
        return Response(status_code=200)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/moved", hook, methods=["POST"]),
                             Route("/slow", slow, methods=["POST"])])


@pytest.fixture
def receiver():
    rx = Receiver()
    with serve(receiver_app(rx)) as base:
        rx.base = base
        yield rx


def run(url: str, settings: NotifySettings = ALLOWED) -> tuple[bool, list[DeliveryAttempt], list[float]]:
    attempts, sleeps = [], []
    delivered = deliver(url, SECRET, MSG_ID, EVENT, settings, attempts.append, sleep=sleeps.append)
    return delivered, attempts, sleeps


def test_two_503s_then_a_200_is_delivered_on_the_third_attempt_each_one_signed(receiver):
    receiver.script = [(503, {}), (503, {})]
    delivered, attempts, sleeps = run(receiver.url)
    assert delivered
    assert [(a.attempt, a.status, a.retryable, a.delivered) for a in attempts] == [
        (1, 503, True, False), (2, 503, True, False), (3, 200, False, True)]
    assert [a.error for a in attempts] == ["HTTP 503", "HTTP 503", None]
    assert all(a.msg_id == MSG_ID and a.url == receiver.url and a.latency_ms > 0 for a in attempts)
    assert all(a.at.tzinfo is not None for a in attempts)
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0 and len(sleeps) == 2  # full jitter, doubling
    assert len(receiver.seen) == 3
    for got in receiver.seen:  # what a consumer gets verifies, with the same id every time
        assert got["headers"]["webhook-id"] == MSG_ID
        assert got["headers"]["content-type"] == "application/json"
        verify(SECRET, got["headers"], got["body"])
        assert json.loads(got["body"]) == {**EVENT, "created_at": "2025-01-02T03:04:05+00:00"}


def test_a_400_is_the_receivers_final_answer_and_is_not_retried(receiver):
    receiver.script = [(400, {})]
    delivered, attempts, sleeps = run(receiver.url)
    assert not delivered
    assert [(a.status, a.retryable, a.error) for a in attempts] == [(400, False, "HTTP 400")]
    assert sleeps == [] and len(receiver.seen) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 504])
def test_retryable_statuses_are_retried(receiver, status):
    receiver.script = [(status, {})]
    delivered, attempts, _ = run(receiver.url)
    assert delivered and [a.status for a in attempts] == [status, 200] and attempts[0].retryable


def test_a_dead_port_is_retried_up_to_the_limit_then_given_up():
    delivered, attempts, sleeps = run(f"http://127.0.0.1:{free_port()}/hook")
    assert not delivered
    assert [(a.attempt, a.status, a.retryable) for a in attempts] == [(1, None, True), (2, None, True),
                                                                      (3, None, True)]
    assert all("ConnectError" in a.error for a in attempts)
    assert len(sleeps) == 2  # none after the last attempt


def test_retry_after_seconds_is_honoured_and_capped(receiver):
    receiver.script = [(429, {"retry-after": "7"}), (503, {"retry-after": "3600"})]
    delivered, attempts, sleeps = run(receiver.url)
    assert delivered and [a.retry_after_s for a in attempts] == [7.0, 3600.0, None]
    assert sleeps == [7.0, 30.0]  # the second capped at webhook_backoff_cap_s


def test_retry_after_as_an_http_date_is_honoured(receiver):
    when = datetime.now(UTC) + timedelta(seconds=20)
    receiver.script = [(503, {"retry-after": format_datetime(when, usegmt=True)})]
    delivered, _, sleeps = run(receiver.url)
    assert delivered and len(sleeps) == 1 and 15 <= sleeps[0] <= 20


def test_retry_after_on_a_500_is_not_a_promise_and_the_backoff_applies(receiver):
    receiver.script = [(500, {"retry-after": "25"})]
    delivered, attempts, sleeps = run(receiver.url)
    assert delivered and attempts[0].retry_after_s is None and 0 <= sleeps[0] <= 0.5


def test_a_receiver_slower_than_the_timeout_is_a_retryable_failure(receiver):
    settings = ALLOWED.model_copy(update={"webhook_timeout_s": 0.3})
    attempt = attempt_delivery(f"{receiver.base}/slow", SECRET, MSG_ID, EVENT, 1, settings)
    assert (attempt.status, attempt.retryable, attempt.error) == (None, True, "no answer within 0.3s")
    assert attempt.latency_ms < 1500


def test_redirects_are_not_followed(receiver):
    receiver.script = [(307, {"location": f"{receiver.base}/moved"})]
    delivered, attempts, _ = run(receiver.url)
    assert not delivered and attempts[0].status == 307 and not attempts[0].retryable
    assert "redirects are not followed" in attempts[0].error
    assert [got["path"] for got in receiver.seen] == ["/hook"]


# --- SSRF -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "reason"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost:8080/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 as getaddrinfo reads it
    ("http://10.1.2.3/hook", "private"),
    ("http://metadata.google.internal/computeMetadata/v1/", "internal host name"),
    ("ftp://example.com/hook", "http or https"),
    ("http:///hook", "no host"),
    ("https://example.com/" + "a" * 2100, "longer than"),
])
def test_check_webhook_url_refuses_internal_and_malformed_targets(url, reason):
    with pytest.raises(WebhookURLError, match=reason):
        check_webhook_url(url, DEFAULT)


def test_check_webhook_url_accepts_public_and_allow_listed_targets():
    check_webhook_url("https://hooks.example.com/resumeopt", DEFAULT)
    check_webhook_url("http://127.0.0.1:8080/hook", ALLOWED)
    assert issubclass(WebhookURLError, ValueError)  # the API maps ValueError to a 422


def test_delivery_to_the_metadata_service_is_refused_without_retry():
    delivered, attempts, sleeps = run("http://169.254.169.254/latest/meta-data/", DEFAULT)
    assert not delivered and sleeps == []
    assert [(a.status, a.retryable) for a in attempts] == [(None, False)]
    assert "link-local (cloud metadata)" in attempts[0].error


def test_a_loopback_receiver_gets_nothing_without_the_allow_list(receiver):
    delivered, attempts, _ = run(receiver.url, DEFAULT)
    assert not delivered and not attempts[0].retryable and "loopback" in attempts[0].error
    assert receiver.seen == []


# --- backoff ----------------------------------------------------------------------------------------

def test_backoff_doubles_from_the_base_up_to_the_cap():
    ceilings = [backoff_s(n, 1.0, 300.0, rand=lambda: 1.0) for n in range(1, 12)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff_s(10**6, 1.0, 300.0, rand=lambda: 1.0) == 300  # no overflow far out
    assert backoff_s(3, 1.0, 300.0, rand=lambda: 0.0) == 0


def test_backoff_is_jittered_over_the_whole_range():
    delays = [backoff_s(4, 1.0, 300.0) for _ in range(500)]
    assert all(0 <= d <= 8 for d in delays)
    assert min(delays) < 2 and max(delays) > 6  # spread out, not clustered at the ceiling
