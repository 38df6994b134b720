"""The completion email through a real SMTP server on loopback (aiosmtpd): what arrives, what never
does (the resume), header injection, STARTTLS / implicit TLS with a verified certificate and AUTH, and
the errors a relay that is down or refusing gives."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr, ValidationError

from gateway.local_model import free_port
from optimiser.notify.email import (EmailDeliveryError, EmailError, EmailNotConfigured, InvalidEmailAddress,
                                    check_email_address, email_enabled, send_completion_email)
from optimiser.notify.settings import NotifySettings

RESUME_TEXT = "Jane Roe, 12 Elm Street, +1 555 0100, jane.roe@mail.example: Staff engineer at Initech"
JOB = {"job_id": "job_7f3a", "status": "succeeded", "match_before": 41.5, "match_after": 68.25,
       "degraded": False, "resume": RESUME_TEXT, "email": "jane.roe@mail.example",
       "result": {"tailored_resume": RESUME_TEXT, "diff": f"-{RESUME_TEXT}"}, "error": RESUME_TEXT}
TO = "jane.roe@mail.example"
USER, PASSWORD = "resumeopt", "s3cret-relay-password"


class Inbox:
    """aiosmtpd handler: keeps every message, or refuses recipients when `refuse_rcpt`."""

    def __init__(self, refuse_rcpt: bool = False):
        self.envelopes, self.refuse_rcpt = [], refuse_rcpt

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope, session.authenticated))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def settings(port: int, **changes) -> NotifySettings:
    base = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False, "smtp_timeout_s": 5,
            "smtp_from": "Resumeopt <noreply@resumeopt.example>", "public_url": "https://resumeopt.example/"}
    return NotifySettings(**{**base, **changes})


@pytest.fixture
def smtp():
    """A plain SMTP server on a free loopback port: (port, inbox)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def received(inbox: Inbox) -> tuple[object, EmailMessage, bytes]:
    (envelope, _), = inbox.envelopes
    return envelope, email.message_from_bytes(envelope.original_content, policy=default_policy), \
        envelope.original_content


def test_the_email_says_job_status_scores_and_link_and_nothing_of_the_resume(smtp):
    port, inbox = smtp
    send_completion_email(TO, JOB, settings(port))
    envelope, message, raw = received(inbox)
    assert (envelope.mail_from, envelope.rcpt_tos) == ("noreply@resumeopt.example", [TO])
    assert message["To"] == TO and message["From"] == "Resumeopt <noreply@resumeopt.example>"
    assert message["Subject"] == "Your resume optimisation is ready (job job_7f3a)"
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"].endswith("@resumeopt.example>")
    assert message.get_content_type() == "multipart/alternative"
    link = "https://resumeopt.example/v1/jobs/job_7f3a/result"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        for fact in ("job_7f3a", "succeeded", "41.5 / 100", "68.2 / 100", link):
            assert fact in part
    assert f'href="{link}"' in html
    for pii in ("Jane", "Roe", "Elm Street", "555", "Initech"):
        assert pii.encode() not in raw and pii not in text and pii not in html


def test_a_degraded_or_failed_job_says_so(smtp):
    port, inbox = smtp
    send_completion_email(TO, {"id": "job_9", "status": "dead", "degraded": True}, settings(port))
    _, message, _ = received(inbox)
    assert message["Subject"] == "Your resume optimisation could not be completed (job job_9)"
    text = message.get_body(("plain",)).get_content()
    assert "Match before: n/a" in text and "deterministic tailoring" in text


def test_values_are_escaped_in_the_html_part(smtp):
    port, inbox = smtp
    send_completion_email(TO, {"job_id": "<b>x</b>&", "status": "succeeded"}, settings(port))
    _, message, _ = received(inbox)
    html = message.get_body(("html",)).get_content()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;&amp;" in html
    assert "/v1/jobs/%3Cb%3Ex%3C%2Fb%3E%26/result" in html


@pytest.mark.parametrize("address", [
    "jane@example.com\r\nBcc: everyone@example.com", "jane@example.com\nBcc: x@example.com",
    "jane@example.com, other@example.com", "Jane <jane@example.com>", "jane@example.com ", "jane@localhost",
    "jane@@example.com", "jane", "", "jane@[127.0.0.1]", ".jane@example.com", "a" * 65 + "@example.com",
])
def test_anything_but_one_plain_address_is_refused_before_connecting(smtp, address):
    port, inbox = smtp
    with pytest.raises(InvalidEmailAddress):
        send_completion_email(address, JOB, settings(port))
    assert inbox.envelopes == []
    assert isinstance(InvalidEmailAddress("x"), ValueError)  # the API maps it to a 422


def test_plain_addresses_pass():
    for address in ("jane@example.com", "jane.roe+jobs@mail.example.co.uk", "j_r-1@sub-domain.example.org"):
        assert check_email_address(address) == address


def test_a_job_id_with_a_line_break_cannot_inject_a_header(smtp):
    port, inbox = smtp
    with pytest.raises(EmailError, match="one line"):
        send_completion_email(TO, {"job_id": "job_1\r\nBcc: x@example.com", "status": "succeeded"}, settings(port))
    assert inbox.envelopes == []


def test_a_relay_that_is_down_is_a_clear_error():
    port = free_port()
    with pytest.raises(EmailDeliveryError, match=rf"127\.0\.0\.1:{port}.*ConnectionRefusedError"):
        send_completion_email(TO, JOB, settings(port))


def test_a_refused_recipient_is_a_clear_error():
    inbox, port = Inbox(refuse_rcpt=True), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with pytest.raises(EmailDeliveryError, match="refused the recipient: 550 5.1.1 no such mailbox"):
            send_completion_email(TO, JOB, settings(port))
    finally:
        controller.stop()


def test_a_relay_without_starttls_is_an_error_not_a_plain_text_fallback(smtp):
    port, inbox = smtp
    with pytest.raises(EmailDeliveryError, match="STARTTLS"):
        send_completion_email(TO, JOB, settings(port, smtp_starttls=True))
    assert inbox.envelopes == []


# --- TLS and AUTH -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "resumeopt test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("relay-tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(params=["starttls", "ssl"])
def tls_relay(request, certificate):
    """A relay that needs TLS and AUTH: STARTTLS on a submission-style port, or implicit TLS.
    Yields (port, inbox, settings that trust its certificate and log in)."""
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    if request.param == "starttls":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                                authenticator=authenticator, auth_require_tls=True)
        mode = {"smtp_starttls": True}
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context,
                                authenticator=authenticator, auth_require_tls=False)
        mode = {"smtp_starttls": False, "smtp_ssl": True}
    controller.start()
    try:
        yield port, inbox, settings(port, smtp_ca_file=cert, smtp_user=USER, smtp_password=SecretStr(PASSWORD),
                                    **mode)
    finally:
        controller.stop()


def test_tls_with_a_verified_certificate_and_login_delivers(tls_relay):
    _, inbox, relay_settings = tls_relay
    send_completion_email(TO, JOB, relay_settings)
    (envelope, authenticated), = inbox.envelopes
    assert authenticated and envelope.rcpt_tos == [TO]


def test_a_certificate_the_platform_does_not_trust_is_refused(tls_relay):
    _, inbox, relay_settings = tls_relay
    untrusted = relay_settings.model_copy(update={"smtp_ca_file": None})
    with pytest.raises(EmailDeliveryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        send_completion_email(TO, JOB, untrusted)
    assert inbox.envelopes == []


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(tls_relay):
    _, inbox, relay_settings = tls_relay
    wrong = relay_settings.model_copy(update={"smtp_password": SecretStr("not-the-password")})
    with pytest.raises(EmailDeliveryError, match="refused the login: 535") as info:
        send_completion_email(TO, JOB, wrong)
    assert "not-the-password" not in str(info.value) and inbox.envelopes == []


# --- settings ---------------------------------------------------------------------------------------

def test_email_is_off_without_a_relay():
    off = NotifySettings(smtp_host="")
    assert not email_enabled(off)
    with pytest.raises(EmailNotConfigured):
        send_completion_email(TO, JOB, off)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"smtp_ssl": True, "smtp_starttls": True}, "exclude each other"),
    ({"smtp_user": USER, "smtp_starttls": False}, "in clear"),
    ({"smtp_from": ""}, "smtp_from must be an email address"),
    ({"smtp_from": "a@example.com\r\nBcc: x@example.com"}, "one line"),
    ({"public_url": ""}, "public_url is required"),
    ({"public_url": "resumeopt.example"}, "http"),
])
def test_inconsistent_smtp_settings_fail_at_start(changes, reason):
    with pytest.raises(ValidationError, match=reason):
        settings(2525, **changes)
