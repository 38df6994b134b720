"""Deliver a job's event to the client's webhook URL: signed (Standard Webhooks), SSRF-checked, retried.

The target is the client's choice, so it gets the job-URL address policy (`optimiser.netpolicy`) with its
own allow-list (`RESUMEOPT_WEBHOOK_ALLOW`): the host is resolved, every address checked, and the request
goes to a checked address (the name in `Host` and as the TLS SNI name), so DNS rebinding cannot steer it
inside. Redirects are never followed (the spec counts a 3xx as a failure: fix the URL instead).

The worker calls these synchronously (dramatiq actors are threads); each attempt runs on an event loop of
its own under one deadline, `RESUMEOPT_WEBHOOK_TIMEOUT_S`, for DNS, connect, request and response head.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

import httpx

from optimiser.netpolicy import (AddressNotAllowed, AllowList, ResolveFailed, deny_reason, name_deny_reason,
                                 resolve_allowed)
from optimiser.notify.settings import NotifySettings
from optimiser.notify.signing import (SECRET_PREFIX, WebhookSecretError, WebhookVerificationError,
                                      check_webhook_secret, generate_secret, message_id, sign,
                                      signature_headers, verify)

__all__ = [
    "SECRET_PREFIX", "DeliveryAttempt", "WebhookSecretError", "WebhookURLError", "WebhookVerificationError",
    "attempt_delivery", "attempt_delivery_async", "backoff_s", "check_webhook_secret", "check_webhook_url",
    "deliver", "encode_event", "generate_secret", "message_id", "sign", "signature_headers", "verify",
]

_USER_AGENT = "resumeopt-webhooks/1"
_MAX_URL_CHARS = 2048
# A 2xx is delivered; these are worth another attempt (the receiver is overloaded, restarting or rate
# limiting). Any other status is the receiver's final answer (a 3xx included: redirects are not followed).
_RETRYABLE_STATUS = {408, 429}
_RETRY_AFTER_STATUS = {429, 503}
_REDIRECTS = {301, 302, 303, 307, 308}


class WebhookURLError(ValueError):
    """A webhook URL that will never be delivered to: not http(s), no host, or an internal address."""


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST to a webhook URL, as the delivery log keeps it."""

    attempt: int
    url: str
    status: int | None           # None: no HTTP answer (refused, timed out, not allowed)
    latency_ms: float
    error: str | None            # None when delivered
    retryable: bool
    at: datetime                 # UTC, when the attempt started
    msg_id: str
    retry_after_s: float | None = None  # the receiver's Retry-After on a 429/503, in seconds

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_webhook_url(url: str, settings: NotifySettings) -> None:
    """Raise WebhookURLError (a ValueError) with the reason if `url` can never be delivered to.

    No DNS here: it runs on the API's request path, and an answer now says nothing about the answer at
    delivery, where every resolved address is checked again. What it refuses up front: a scheme other
    than http(s), no host, an overlong URL, an internal name, or a literal address in a denied range."""
    _check_host(_host(_parse(url)), AllowList.parse(settings.webhook_allow))


def encode_event(event: dict) -> bytes:
    """The exact bytes sent and signed: compact JSON, UTF-8, datetimes as ISO 8601."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def attempt_delivery(url: str, secret: str, msg_id: str, event: dict, attempt: int,
                     settings: NotifySettings) -> DeliveryAttempt:
    """One signed POST of `event` to `url`. Never raises for the network or the receiver's answer (that
    is in the result); raises WebhookSecretError for a bad secret and ValueError for a bad msg_id.
    Not for a thread running an event loop: await `attempt_delivery_async` there."""
    return asyncio.run(attempt_delivery_async(url, secret, msg_id, event, attempt, settings))


async def attempt_delivery_async(url: str, secret: str, msg_id: str, event: dict, attempt: int,
                                 settings: NotifySettings) -> DeliveryAttempt:
    body = encode_event(event)
    headers = {"content-type": "application/json", "user-agent": _USER_AGENT,
               **signature_headers(secret, msg_id, body)}
    at, started = datetime.now(UTC), time.perf_counter()
    try:
        async with asyncio.timeout(settings.webhook_timeout_s):
            status, retry_after = await _post(url, headers, body, settings)
    except WebhookURLError as exc:
        status, retry_after, error, retryable = None, None, str(exc), False
    except ResolveFailed as exc:  # often a DNS outage or a record not yet published: worth another try
        status, retry_after, error, retryable = None, None, str(exc), True
    except TimeoutError:
        status, retry_after, retryable = None, None, True
        error = f"no answer within {settings.webhook_timeout_s:g}s"
    except httpx.TransportError as exc:
        status, retry_after, error, retryable = None, None, _why(exc), True
    else:
        error, retryable = _judge(status)
    latency_ms = (time.perf_counter() - started) * 1000
    return DeliveryAttempt(attempt, url, status, latency_ms, error, retryable, at, msg_id, retry_after)


def backoff_s(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float] = random.random) -> float:
    """Delay after failed attempt `attempt` (1-based): uniform in [0, min(cap, base * 2**(attempt-1))].

    Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): many jobs failing against
    one receiver at once spread their retries out instead of returning in waves."""
    exponent = min(max(attempt - 1, 0), 62)  # 2**62 s is past any cap; the bound keeps the float finite
    return rand() * min(cap_s, base_s * 2.0 ** exponent)


def deliver(url: str, secret: str, msg_id: str, event: dict, settings: NotifySettings,
            record: Callable[[DeliveryAttempt], None], sleep: Callable[[float], None] = time.sleep) -> bool:
    """Attempt delivery up to `webhook_max_attempts` times; True once a 2xx came back.

    Every attempt goes to `record` (the delivery log) before the next decision. Between retryable
    failures it sleeps the backoff, or the receiver's Retry-After (429/503), both capped at
    `webhook_backoff_cap_s`. A non-retryable failure (4xx other than 408/429, a 3xx, a refused address)
    ends delivery at once."""
    for attempt in range(1, settings.webhook_max_attempts + 1):
        result = attempt_delivery(url, secret, msg_id, event, attempt, settings)
        record(result)
        if result.delivered:
            return True
        if not result.retryable or attempt == settings.webhook_max_attempts:
            return False
        sleep(_delay(result, settings))
    return False


def _delay(result: DeliveryAttempt, settings: NotifySettings) -> float:
    if result.retry_after_s is not None:
        return min(result.retry_after_s, settings.webhook_backoff_cap_s)
    return backoff_s(result.attempt, settings.webhook_backoff_base_s, settings.webhook_backoff_cap_s)


def _judge(status: int) -> tuple[str | None, bool]:
    if 200 <= status < 300:
        return None, False
    if status in _REDIRECTS:
        return f"HTTP {status}: redirects are not followed; the webhook URL must answer itself", False
    return f"HTTP {status}", status in _RETRYABLE_STATUS or status >= 500


# --- the request, to a checked address --------------------------------------------------------------

async def _post(url: str, headers: dict[str, str], body: bytes,
                settings: NotifySettings) -> tuple[int, float | None]:
    parsed = _parse(url)
    host, allow = _host(parsed), AllowList.parse(settings.webhook_allow)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = await resolve_allowed(host, port, allow)
    except AddressNotAllowed as exc:
        raise WebhookURLError(f"the webhook URL is not allowed: {exc}") from None
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    headers = {**headers, "host": parsed.netloc.decode("ascii")}
    # trust_env=False: an HTTP(S)_PROXY from the environment would connect by name, undoing the pinning.
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                 timeout=settings.webhook_timeout_s) as client:
        failure: httpx.TransportError | None = None
        for address in addresses:  # each in turn, as a browser would: one unreachable family is not fatal
            try:
                async with client.stream("POST", parsed.copy_with(host=str(address)), headers=headers,
                                         content=body, extensions=extensions) as resp:
                    # The body is never read: the status is the answer, and a huge body costs nothing.
                    return resp.status_code, _retry_after(resp)
            except httpx.ConnectError as exc:
                failure = exc
            except httpx.TimeoutException:
                raise TimeoutError from None
    raise failure or httpx.ConnectError("no address to connect to")


def _retry_after(resp: httpx.Response) -> float | None:
    """Retry-After in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), on a 429/503 only."""
    value = resp.headers.get("retry-after", "").strip()
    if resp.status_code not in _RETRY_AFTER_STATUS or not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


def _parse(raw: str) -> httpx.URL:
    if len(raw) > _MAX_URL_CHARS:
        raise WebhookURLError(f"the webhook URL is longer than {_MAX_URL_CHARS} characters")
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError):
        raise WebhookURLError("the webhook URL is not a valid URL") from None
    if url.scheme not in ("http", "https"):
        raise WebhookURLError(f"the webhook URL must be http or https, not {url.scheme or 'relative'!r}")
    if not url.host:
        raise WebhookURLError("the webhook URL has no host")
    return url


def _host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii")  # IDNA-encoded: what DNS and the TLS SNI name take


def _check_host(host: str, allow: AllowList) -> None:
    """The checks that need no DNS: an internal name, or an address (in any form getaddrinfo accepts,
    e.g. `2130706433` for 127.0.0.1) in a denied range, unless allow-listed."""
    host = host.lower().rstrip(".")
    if host in allow.names:
        return
    reason = name_deny_reason(host)
    address = _literal_address(host)
    if address is not None and not allow.allows(address):
        reason = deny_reason(address)
    if reason:
        raise WebhookURLError(f"the webhook URL is not allowed: {host}: {reason}")


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if host == "localhost":  # RFC 6761 §6.3: always loopback, whatever DNS says
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # inet_aton's legacy forms: 127.1, 0x7f.0.0.1, 2130706433
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _why(exc: httpx.TransportError) -> str:
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:200]}"
