"""The completion email for an async job: job id, status, match before/after and a link to the result.

Never the resume, the tailored text or an error message (which can quote the resume): an email leaves our
control for good, so it carries only what identifies the job, and the link leads back through the API's
authentication to everything else.

Sent through the SMTP relay in `RESUMEOPT_SMTP_*` with the standard library's smtplib; the connection is
TLS (STARTTLS or implicit) with the certificate verified unless the operator turns both off.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import quote

from optimiser.notify.settings import NotifySettings

# RFC 5321 §4.5.3.1: 64 octets of local part, 254 of path in practice (RFC 3696 errata 1690).
_MAX_ADDRESS = 254
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# One bare addr-spec in dot-atom form and a domain with a letter-only TLD: no display name, no comments,
# no quoted local part, no address literal, no list. Narrower than RFC 5322 on purpose: whatever passes is
# one address that cannot carry a header (no CR, LF or other control or space character can match).
_ADDRESS = re.compile(rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}"
                      rf"[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}})")
_STATUS_WORDS = {"succeeded": "is ready", "failed": "failed", "dead": "could not be completed"}


class EmailError(Exception):
    """Base of this module's errors; the message is safe to log (no password, no message body)."""


class InvalidEmailAddress(EmailError, ValueError):
    """Not exactly one plain email address (`name@example.com`)."""


class EmailNotConfigured(EmailError):
    """`send_completion_email` without `RESUMEOPT_SMTP_HOST`: check `email_enabled` first."""


class EmailDeliveryError(EmailError):
    """The relay could not be reached, refused TLS or login, or refused the message."""


def email_enabled(settings: NotifySettings) -> bool:
    return bool(settings.smtp_host)


def check_email_address(address: str) -> str:
    """`address` if it is exactly one plain address, else InvalidEmailAddress (call at job submission)."""
    if not isinstance(address, str) or len(address) > _MAX_ADDRESS or not (match := _ADDRESS.fullmatch(address)):
        raise InvalidEmailAddress("the notification address must be one plain email address, like "
                                  "name@example.com (no display name, list, spaces or line breaks)")
    if len(match["local"]) > 64:
        raise InvalidEmailAddress("the notification address's part before '@' is over 64 characters")
    return address


def send_completion_email(to: str, job: dict, settings: NotifySettings) -> None:
    """Email `to` that `job` finished. `job` keys read: `job_id` (or `id`), `status`, `match_before`,
    `match_after`, `degraded`; nothing else is looked at, so passing the whole job record is safe."""
    if not email_enabled(settings):
        raise EmailNotConfigured("completion emails are off: RESUMEOPT_SMTP_HOST is not set")
    message = completion_message(check_email_address(to), job, settings)
    _send(message, _envelope_sender(settings), to, settings)


def completion_message(to: str, job: dict, settings: NotifySettings) -> EmailMessage:
    job_id, status = _one_line(job.get("job_id") or job.get("id")), _one_line(job.get("status"))
    link = f"{settings.public_url}/v1/jobs/{quote(job_id, safe='')}/result"
    facts = _facts(job_id, status, job)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = f"Your resume optimisation {_STATUS_WORDS.get(status, status)} (job {job_id})"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("resumeopt", domain=_envelope_sender(settings).rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    message.set_content(_text(facts, link))
    message.add_alternative(_html(facts, link), subtype="html")
    return message


def _facts(job_id: str, status: str, job: dict) -> list[tuple[str, str]]:
    facts = [("Job", job_id), ("Status", status),
             ("Match before", _score(job.get("match_before"))), ("Match after", _score(job.get("match_after")))]
    if job.get("degraded"):
        facts.append(("Note", "the result is the deterministic tailoring: the model's rewrite did not pass "
                              "the checks"))
    return facts


def _text(facts: list[tuple[str, str]], link: str) -> str:
    lines = [f"{name}: {value}" for name, value in facts]
    return "Your resume optimisation job has finished.\n\n" + "\n".join(lines) + f"\n\nResult: {link}\n"


def _html(facts: list[tuple[str, str]], link: str) -> str:
    rows = "".join(f"<tr><th align=\"left\">{html.escape(n)}</th><td>{html.escape(v)}</td></tr>" for n, v in facts)
    href = html.escape(link, quote=True)
    return (f"<!doctype html><html><body><p>Your resume optimisation job has finished.</p><table>{rows}</table>"
            f"<p><a href=\"{href}\">View the result</a></p></body></html>\n")


def _score(value: object) -> str:
    return f"{value:.1f} / 100" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


def _one_line(value: object) -> str:
    """A job id or status for a header: printable, one line, bounded (a header cannot be injected)."""
    text = str(value or "unknown")
    if not text.isprintable() or len(text) > 200:
        raise EmailError("the job's id and status must be printable, one line, at most 200 characters")
    return text


def _envelope_sender(settings: NotifySettings) -> str:
    return check_email_address(parseaddr(settings.smtp_from)[1])


def _send(message: EmailMessage, sender: str, to: str, settings: NotifySettings) -> None:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with _connect(settings) as smtp:
            if settings.smtp_starttls:
                # Raises SMTPNotSupportedError when the relay does not offer it: never a plain-text fallback.
                smtp.starttls(context=_tls(settings))
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            smtp.send_message(message, from_addr=sender, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        raise EmailDeliveryError(f"the SMTP relay {where} refused the recipient: {code} {_reply(reply)}") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise EmailDeliveryError(f"the SMTP relay {where} refused the login: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        raise EmailDeliveryError(
            f"the SMTP relay {where} answered {exc.smtp_code} {_reply(exc.smtp_error)}") from None
    except ssl.SSLError as exc:
        raise EmailDeliveryError(f"TLS with the SMTP relay {where} failed: {exc.reason or exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise EmailDeliveryError(f"could not send through the SMTP relay {where}: "
                                 f"{type(exc).__name__}: {exc}") from None


def _connect(settings: NotifySettings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_s
    if settings.smtp_ssl:
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls(settings))
    return smtplib.SMTP(host, port, timeout=timeout)


def _tls(settings: NotifySettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)


def _reply(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]
