"""Job URLs over real loopback HTTP: what a page becomes, and every way a fetch is refused or bounded.
The positive tests allow-list 127.0.0.1 (RESUMEOPT_FETCH_ALLOW); the refusals run without it."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest

from optimiser.fetch import FetchError, fetch_job
from optimiser.netpolicy import deny_reason
from optimiser.parsing import parse_job
from optimiser.settings import OptimiserSettings
from tests.optimiser.conftest import BIG_TOTAL
from tests.support import wait_for

ALLOWED = OptimiserSettings(fetch_allow="127.0.0.1", fetch_max_bytes=256 * 1024, fetch_timeout_s=5)
DEFAULT = OptimiserSettings(fetch_max_bytes=256 * 1024, fetch_timeout_s=5)


def fetch(url: str, settings: OptimiserSettings = ALLOWED) -> str:
    return asyncio.run(fetch_job(url, settings))


def refused(url: str, settings: OptimiserSettings = DEFAULT) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, settings)
    return info.value


def test_an_html_job_page_becomes_text_with_headings_and_bullets_and_no_script_or_chrome(job_site):
    text = fetch(f"{job_site}/job")
    assert "# Senior Backend Engineer" in text.splitlines()
    assert "- 5+ years of Python" in text.splitlines() and "- Kafka and PostgreSQL" in text.splitlines()
    for chrome in ("tracking-script-text", "color:red", "All jobs", "footer-text", "Careers"):
        assert chrome not in text
    job = parse_job(text)
    assert (job.title, job.company) == ("Senior Backend Engineer", "Acme & Co")


def test_the_connection_goes_to_the_checked_address_under_the_url_s_host_name(job_site):
    # `localhost` allow-listed by name: resolved once, checked, connected to by address, named in Host
    port = job_site.rsplit(":", 1)[1]
    settings = ALLOWED.model_copy(update={"fetch_allow": ["localhost"]})
    assert fetch(f"http://localhost:{port}/host", settings) == f"Host: localhost:{port}"


def test_a_json_job_takes_the_job_schema_path(job_site):
    job = parse_job(fetch(f"{job_site}/job.json"))
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
def test_internal_addresses_are_refused_before_any_connection(job_site, url, reason):
    started = time.monotonic()
    error = refused(url.format(port=job_site.rsplit(":", 1)[1]))
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
def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(job_site, target):
    # only 127.0.0.1 is allowed, and each hop is re-checked against the same rules
    error = refused(f"{job_site}/to?url={target}", ALLOWED)
    assert (error.status, error.code) == (400, "url_not_allowed")


def test_redirects_are_followed_and_capped(job_site):
    assert "Senior Backend Engineer" in fetch(f"{job_site}/to?url=/job")
    error = refused(f"{job_site}/loop", ALLOWED)
    assert (error.status, error.code) == (502, "job_fetch_failed")
    assert "redirected more than 5 times" in error.message


def test_an_oversized_page_is_cut_off_without_downloading_it(job_site, job_site_state):
    error = refused(f"{job_site}/big", ALLOWED)
    assert (error.status, error.code) == (413, "job_too_large")
    wait_for(lambda: job_site_state["stopped"], timeout=10, what="the server to see the client go")
    assert job_site_state["sent"] < BIG_TOTAL // 4, job_site_state["sent"]


def test_a_slow_server_times_out_at_the_deadline(job_site):
    started = time.monotonic()
    error = refused(f"{job_site}/trickle", ALLOWED.model_copy(update={"fetch_timeout_s": 0.5}))
    assert (error.status, error.code) == (504, "job_fetch_timeout")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("path, status, code", [
    ("/job.pdf", 415, "unsupported_media_type"),
    ("/scripts-only", 422, "empty_job"),
    ("/gone", 502, "job_fetch_failed"),
])
def test_pages_that_are_not_a_job(job_site, path, status, code):
    error = refused(f"{job_site}{path}", ALLOWED)
    assert (error.status, error.code) == (status, code)


def test_an_unreachable_host_is_a_fetch_failure():
    error = refused("http://127.0.0.1:9/", ALLOWED)  # discard port: nothing listens
    assert (error.status, error.code) == (502, "job_fetch_failed")
