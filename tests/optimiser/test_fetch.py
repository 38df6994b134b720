"""Job URLs over real loopback HTTP: what a page becomes, and every way a fetch is refused or bounded.
The positive tests allow-list 127.0.0.1 (RESUMEOPT_FETCH_ALLOW); the refusals run without it."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from optimiser.fetch import FetchError, fetch_job
from optimiser.netpolicy import deny_reason
from optimiser.parsing import parse_job
from optimiser.settings import OptimiserSettings
from tests.support import serve, wait_for

JOB_PAGE = """<!doctype html><html><head><title>Careers</title><style>.x{color:red}</style>
<script>window.secret = "tracking-script-text";</script></head><body>
<nav><ul><li>Home</li><li>All jobs</li></ul></nav>
<h1>Senior Backend Engineer</h1><p>Company: Acme &amp; Co</p>
<h2>Requirements</h2><ul><li>5+ years of <b>Python</b></li><li><p>Kafka and PostgreSQL</p></li></ul>
<footer>Copyright footer-text</footer></body></html>"""
CHUNK = 64 * 1024
BIG_TOTAL = 64 * 1024 * 1024  # what the server would send if nobody stopped reading
ALLOWED = OptimiserSettings(fetch_allow="127.0.0.1", fetch_max_bytes=256 * 1024, fetch_timeout_s=5)
DEFAULT = OptimiserSettings(fetch_max_bytes=256 * 1024, fetch_timeout_s=5)


def job_app(state: dict) -> Starlette:
    async def big(_: Request):
        async def chunks():
            try:
                for _ in range(BIG_TOTAL // CHUNK):
                    state["sent"] += CHUNK
                    yield b"x" * CHUNK
                    await asyncio.sleep(0.001)  # a real upstream's pace; lets the server see the client go
            finally:
                state["stopped"] = True
        return StreamingResponse(chunks(), media_type="text/plain")

    async def trickle(_: Request):  # a byte every 0.1 s: no single read times out, only the deadline can
        async def drip():
            for _ in range(300):
                yield b"x"
                await asyncio.sleep(0.1)
        return StreamingResponse(drip(), media_type="text/plain")

    job_json = {"title": "Data Engineer", "company": "Acme", "description": "Build pipelines.",
                "skills": [{"name": "Data", "keywords": ["Spark", "SQL"]}]}
    return Starlette(routes=[
        Route("/job", lambda _: HTMLResponse(JOB_PAGE)),
        Route("/job.json", lambda _: Response(json.dumps(job_json), media_type="application/json")),
        Route("/scripts-only", lambda _: HTMLResponse("<html><script>only()</script><nav>menu</nav></html>")),
        Route("/job.pdf", lambda _: Response(b"%PDF-1.7", media_type="application/pdf")),
        Route("/gone", lambda _: PlainTextResponse("gone", status_code=404)),
        Route("/to", lambda r: RedirectResponse(r.query_params["url"], status_code=302)),
        Route("/loop", lambda _: RedirectResponse("/loop", status_code=302)),
        Route("/big", big), Route("/trickle", trickle),
    ])


@pytest.fixture(scope="module")
def state() -> dict:
    return {"sent": 0, "stopped": False}


@pytest.fixture(scope="module")
def site(state):
    with serve(job_app(state)) as url:
        yield url


def fetch(url: str, settings: OptimiserSettings = ALLOWED) -> str:
    return asyncio.run(fetch_job(url, settings))


def refused(url: str, settings: OptimiserSettings = DEFAULT) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, settings)
    return info.value


def test_an_html_job_page_becomes_text_with_headings_and_bullets_and_no_script_or_chrome(site):
    text = fetch(f"{site}/job")
    assert "# Senior Backend Engineer" in text.splitlines()
    assert "- 5+ years of Python" in text.splitlines() and "- Kafka and PostgreSQL" in text.splitlines()
    for chrome in ("tracking-script-text", "color:red", "All jobs", "footer-text", "Careers"):
        assert chrome not in text
    job = parse_job(text)
    assert (job.title, job.company) == ("Senior Backend Engineer", "Acme & Co")


def test_a_json_job_takes_the_job_schema_path(site):
    job = parse_job(fetch(f"{site}/job.json"))
    assert (job.title, job.skills) == ("Data Engineer", ["Spark", "SQL"])


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:{port}/job", "loopback"),
    ("http://localhost:{port}/job", "loopback"),  # refused by what the name resolves to
    ("http://[::1]:{port}/job", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/job", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://metadata.google.internal/computeMetadata/v1/", "internal host name"),
])
def test_internal_addresses_are_refused_before_any_connection(site, url, reason):
    started = time.monotonic()
    error = refused(url.format(port=site.rsplit(":", 1)[1]))
    assert (error.status, error.code) == (400, "url_not_allowed")
    assert reason in error.message
    assert time.monotonic() - started < 1  # refused at the check: no connection attempt, no timeout


def test_every_ipv6_form_that_carries_an_internal_ipv4_is_refused():
    for address in ("::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "fe80::1", "ff02::1"):
        assert deny_reason(ipaddress.ip_address(address)), address
    assert deny_reason(ipaddress.ip_address("93.184.216.34")) is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.com/job",
                                 "not a url", "http:///path-only"])
def test_non_http_urls_are_invalid(url):
    error = refused(url, ALLOWED)
    assert (error.status, error.code) == (400, "invalid_url")


@pytest.mark.parametrize("target", ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                                    "http://[::1]/"])
def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(site, target):
    # only 127.0.0.1 is allowed, and each hop is re-checked against the same rules
    error = refused(f"{site}/to?url={target}", ALLOWED)
    assert (error.status, error.code) == (400, "url_not_allowed")


def test_redirects_are_followed_and_capped(site):
    assert "Senior Backend Engineer" in fetch(f"{site}/to?url=/job")
    error = refused(f"{site}/loop", ALLOWED)
    assert (error.status, error.code) == (502, "job_fetch_failed")
    assert "redirected more than 5 times" in error.message


def test_an_oversized_page_is_cut_off_without_downloading_it(site, state):
    error = refused(f"{site}/big", ALLOWED)
    assert (error.status, error.code) == (413, "job_too_large")
    wait_for(lambda: state["stopped"], timeout=10, what="the server to see the client go")
    assert state["sent"] < BIG_TOTAL // 4, state["sent"]


def test_a_slow_server_times_out_at_the_deadline(site):
    started = time.monotonic()
    error = refused(f"{site}/trickle", ALLOWED.model_copy(update={"fetch_timeout_s": 0.5}))
    assert (error.status, error.code) == (504, "job_fetch_timeout")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("path, status, code", [
    ("/job.pdf", 415, "unsupported_media_type"),
    ("/scripts-only", 422, "empty_job"),
    ("/gone", 502, "job_fetch_failed"),
])
def test_pages_that_are_not_a_job(site, path, status, code):
    error = refused(f"{site}{path}", ALLOWED)
    assert (error.status, error.code) == (status, code)


def test_an_unreachable_host_is_a_fetch_failure():
    error = refused("http://127.0.0.1:9/", ALLOWED)  # discard port: nothing listens
    assert (error.status, error.code) == (502, "job_fetch_failed")
