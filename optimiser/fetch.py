"""Fetch a job description from a URL, server-side and SSRF-safe.

Every hop (the URL and each redirect target) is resolved and checked by `optimiser.netpolicy`, then the
request goes to the checked IP itself: the URL's host is replaced by that address, and the original name
travels in the `Host` header and, for https, as the TLS SNI name (httpcore's `sni_hostname` request
extension, which is also the name the certificate is verified against). Nothing re-resolves the name
after the check, so DNS rebinding cannot redirect the connection. Redirects are followed here, never by
httpx, so each target is checked before anything connects to it.

Errors are `FetchError`s with the status and stable code the API returns.
"""

from __future__ import annotations

import asyncio
import codecs

import httpx

from optimiser.html_text import html_to_text
from optimiser.netpolicy import AddressNotAllowed, AllowList, ResolveFailed, resolve_allowed
from optimiser.settings import OptimiserSettings

_CONVERTERS = {"text/html": html_to_text, "text/plain": str, "application/json": str}
_REDIRECTS = {301, 302, 303, 307, 308}
_HEADERS = {
    "accept": "text/html, text/plain;q=0.9, application/json;q=0.8",
    # Uncompressed, so the byte limit bounds memory (a gzip body can expand 1000x in one chunk).
    "accept-encoding": "identity",
    "user-agent": "resumeopt-job-fetch/1",
}


class FetchError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def fetch_job(url: str, settings: OptimiserSettings) -> str:
    """The job page at `url` as text (HTML converted; JSON returned as is, for `parse_job`'s JSON path)."""
    try:
        async with asyncio.timeout(settings.fetch_timeout_s):  # one deadline for DNS, hops and body
            return await _fetch(parse_url(url), settings)
    except TimeoutError:
        raise FetchError(504, "job_fetch_timeout",
                         f"The job URL did not answer within {settings.fetch_timeout_s:g}s.") from None


def parse_url(raw: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError):
        raise FetchError(400, "invalid_url", "The job URL is not a valid URL.") from None
    if url.scheme not in ("http", "https"):
        raise FetchError(400, "invalid_url", f"Only http and https job URLs are fetched, not {url.scheme!r}.")
    if not url.host:
        raise FetchError(400, "invalid_url", "The job URL has no host.")
    return url


async def _fetch(url: httpx.URL, settings: OptimiserSettings) -> str:
    allow = AllowList.parse(settings.fetch_allow)
    # trust_env=False: an HTTP(S)_PROXY from the environment would connect by name, undoing the pinning.
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                 timeout=settings.fetch_timeout_s) as client:
        for _ in range(settings.fetch_max_redirects + 1):
            addresses = await _checked_addresses(url, allow)
            async with _open(client, url, addresses) as resp:
                location = resp.headers.get("location")
                if resp.status_code in _REDIRECTS and location:
                    url = parse_url(str(url.join(location)))
                    continue
                return await _read_text(resp, settings)
    raise FetchError(502, "job_fetch_failed",
                     f"The job URL redirected more than {settings.fetch_max_redirects} times.")


async def _checked_addresses(url: httpx.URL, allow: AllowList) -> list[str]:
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        return [str(a) for a in await resolve_allowed(url.raw_host.decode("ascii"), port, allow)]
    except AddressNotAllowed as exc:
        raise FetchError(400, "url_not_allowed", f"The job URL is not allowed: {exc}.") from None
    except ResolveFailed as exc:
        raise FetchError(502, "job_fetch_failed", f"The job URL's host could not be resolved: {exc}.") from None


class _open:
    """GET `url` from the first of `addresses` (all checked) that accepts a connection, streamed. Trying
    each in turn, as a browser would, keeps a dual-stack name working when one family is unreachable."""

    def __init__(self, client: httpx.AsyncClient, url: httpx.URL, addresses: list[str]):
        self._client, self._url, self._addresses = client, url, addresses
        self._stream = None

    async def __aenter__(self) -> httpx.Response:
        extensions = {"sni_hostname": self._url.raw_host.decode("ascii")} if self._url.scheme == "https" else {}
        headers = {**_HEADERS, "host": self._url.netloc.decode("ascii")}
        failure: httpx.TransportError | None = None
        for address in self._addresses:
            stream = self._client.stream("GET", self._url.copy_with(host=address), headers=headers,
                                         extensions=extensions)
            try:
                response = await stream.__aenter__()
            except httpx.ConnectError as exc:
                failure = exc
                continue
            except httpx.TimeoutException:
                raise TimeoutError from None
            except httpx.TransportError as exc:
                failure = exc
                break
            self._stream = stream
            return response
        raise FetchError(502, "job_fetch_failed", f"The job URL could not be fetched: {_why(failure)}.")

    async def __aexit__(self, *exc_info) -> None:
        await self._stream.__aexit__(*exc_info)


async def _read_text(resp: httpx.Response, settings: OptimiserSettings) -> str:
    if not 200 <= resp.status_code < 300:
        raise FetchError(502, "job_fetch_failed", f"The job URL answered HTTP {resp.status_code}.")
    media_type = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    convert = _CONVERTERS.get(media_type)
    if convert is None:
        raise FetchError(415, "unsupported_media_type", f"The job URL returned {media_type or 'no content type'}"
                         f"; supported: {', '.join(_CONVERTERS)}.")
    body = await _read_body(resp, settings.fetch_max_bytes)
    text = convert(body.decode(_charset(resp), errors="replace")).strip()
    if not text:
        raise FetchError(422, "empty_job", "The job page has no text.")
    if len(text.encode()) > settings.max_job_bytes:
        raise FetchError(413, "job_too_large", f"The job page's text is over {settings.max_job_bytes} bytes.")
    return text


async def _read_body(resp: httpx.Response, limit: int) -> bytes:
    too_large = FetchError(413, "job_too_large", f"The job page is over {limit} bytes.")
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    try:
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > limit:  # stop reading: the rest is never downloaded
                raise too_large
    except httpx.TimeoutException:
        raise TimeoutError from None
    except httpx.TransportError as exc:
        raise FetchError(502, "job_fetch_failed", f"The job page could not be read: {_why(exc)}.") from None
    return bytes(body)


def _charset(resp: httpx.Response) -> str:
    try:
        return codecs.lookup(resp.charset_encoding or "utf-8").name
    except LookupError:
        return "utf-8"


def _why(exc: httpx.TransportError) -> str:
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:200]}"
