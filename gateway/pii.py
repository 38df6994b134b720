"""Personal data out of what the platform keeps, and secrets out of everything it writes.

`redact` removes e-mail addresses, phone numbers, street addresses, links to personal profiles and any
term the caller declares (the names a resume gives: the optimiser sends them per request). It runs on
prompts and completions kept under the `redacted` logging mode, in the store writer's thread, off the
request path. `scrub` removes credentials (API keys, bearer tokens, JWTs, cloud keys) and runs on every
upstream error message and, through `SecretFilter`, on every log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Every quantifier is bounded and every pattern starts at a boundary: redaction runs on client text, and
# an unbounded `[\w.]+@` is quadratic on a long run without an `@` (a prompt of "a" * 4M took hours).
EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# A candidate phone number; kept only with at least 9 digits (or a leading +), so that date ranges
# such as 2019-2021 and 2015-06-01 (8 digits) and metrics survive.
PHONE = re.compile(r"(?<![\w/])(\+?\(?\d[\d \t().-]{6,24}\d)(?![\w/])")
ISO_DATE = re.compile(r"\b\d{4}-\d{1,2}(?:-\d{1,2})?\b")
_STREET = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Square|Sq|"
           r"Terrace|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Gardens|Row|Strasse|Straße|Mews")
STREET = re.compile(rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w'.-]{{0,30}}\s+){{1,4}}(?:{_STREET})\b\.?"
                    r"(?:,?\s+(?:Apt|Apartment|Suite|Unit|Flat)\.?\s*#?\w+)?")
POSTCODE = re.compile(r"\b(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})\b")
PROFILE = re.compile(
    r"(?<![\w-])(?:https?://)?(?:www\.)?(?:linkedin\.com/(?:in|pub)|github\.com|gitlab\.com|twitter\.com|x\.com|"
    r"facebook\.com|instagram\.com|medium\.com|stackoverflow\.com/users|behance\.net|dribbble\.com|"
    r"keybase\.io)/@?[\w./%-]{1,200}", re.IGNORECASE)

SECRETS = [
    re.compile(r"\bro_[0-9a-f]{12}_[A-Za-z0-9_-]{43}(?![\w-])"),            # our virtual keys
    re.compile(r"\bro-admin-[A-Za-z0-9_-]{20,}"),                            # the bootstrap admin key
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"),                 # OpenAI / Anthropic
    re.compile(r"\beyJ[\w-]{8,4096}\.[\w-]{8,8192}\.[\w-]{8,4096}"),          # JWTs
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),                            # AWS access key ids
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![\w-])"),                         # Google API keys
    re.compile(r"(?i)\b(?:bearer|basic)\s+[\w.~+/=-]{8,}"),                # Authorization header values
    # name=value, "name": "value" and 'name': 'value' (a printed Python dict)
    re.compile(r"(?i)(?<![a-z0-9])(api[_-]?key|secret|password|token)(\s*[=:]\s*|[\"']\s*:\s*[\"'])[^\s\"',}]{6,}"),
]


def _phone(m: re.Match) -> str:
    text = m.group(1)
    if ISO_DATE.search(text) and not text.startswith("+"):
        return text  # 2015-06-01 - 2019-03-15 is a date range, not a number to call
    digits = sum(ch.isdigit() for ch in text)
    return "[PHONE]" if digits >= 9 or (text.startswith("+") and digits >= 7) else text


def redact(text: str, terms: Iterable[str] = ()) -> str:
    if not text:
        return text
    out = scrub(text)
    out = EMAIL.sub("[EMAIL]", out)
    out = PROFILE.sub("[PROFILE]", out)
    out = STREET.sub("[ADDRESS]", out)
    out = POSTCODE.sub("[POSTCODE]", out)
    out = PHONE.sub(_phone, out)
    for term in sorted({t.strip() for t in terms if t and len(t.strip()) >= 2}, key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", "[NAME]", out, flags=re.IGNORECASE)
    return out


def name_terms(names: Iterable[str]) -> list[str]:
    """A declared name and its parts (a resume says "Jane Q. Doe"; a model may write "Jane" or "Doe")."""
    out: list[str] = []
    for name in names:
        name = (name or "").strip()
        if not name:
            continue
        out.append(name)
        out += [part.strip(".,") for part in re.split(r"[\s-]+", name) if len(part.strip(".,")) >= 3]
    return out


def scrub(text: str) -> str:
    for pattern in SECRETS:
        text = pattern.sub(_secret, text)
    return text


def _secret(m: re.Match) -> str:
    if m.lastindex and m.lastindex >= 2:  # key=value form: keep the name, drop the value
        return f"{m.group(1)}{m.group(2)}[SECRET]"
    return "[SECRET]"


_installed = False
# Client libraries that log whole request bodies (prompts, resumes) at DEBUG: held at INFO whatever the
# root level, so that turning on debug logging never writes a prompt to a log.
BODY_LOGGERS = ("openai", "httpx", "httpcore", "LiteLLM", "litellm", "aiohttp.client", "urllib3")


def install_log_scrubber() -> None:
    """Every log record, from any logger to any handler, has credentials scrubbed when it is created
    (a record factory: handler or logger filters miss handlers that libraries add later)."""
    global _installed
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            return record
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
