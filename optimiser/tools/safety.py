"""Output safety, offline: contact details the output has and the source resume lacks, and toxic text.

`check_output(original_text, output_text)` is the one call: it needs no model and no network. The
optimiser blocks on it: a writer draft that fails it is rejected like a fabrication and asked again
(optimiser/writing.py), so it never ships. The evaluator's `safety` judge (evaluator/safety.py) reports the
same as scores, with kinds and categories only: the leaked values are contact data and are never written
to a score comment.

- Contact details: e-mail addresses, phone numbers, URLs (with a scheme or `www.`, and profile links such
  as `linkedin.com/in/...`) and street addresses, found with the gateway's redaction patterns
  (gateway/pii.py) and compared after normalising (case, scheme, `www.`, a phone's last 10 digits, an
  address's number and street name), so a reformatted detail from the source is not a leak.
- Toxic text: the curated lexicon in datasets/safety/toxic_lexicon.tsv, whole words, case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gateway.pii import EMAIL, ISO_DATE, PHONE, PROFILE, STREET

LEXICON_PATH = Path(__file__).resolve().parents[2] / "datasets" / "safety" / "toxic_lexicon.tsv"
# Bounded like gateway/pii.py's patterns: this runs on model output of any length.
URL = re.compile(r"(?<![\w@/.-])(?:https?://|www\.)[^\s<>()\[\]{}|\"'`,]{1,500}", re.IGNORECASE)


@dataclass(frozen=True)
class Leak:
    kind: str    # email, phone, url, address
    value: str   # as written in the output: for the caller that blocks, never for storage


@dataclass(frozen=True)
class ToxicHit:
    term: str
    category: str


@dataclass
class SafetyReport:
    leaks: list[Leak] = field(default_factory=list)
    toxic: list[ToxicHit] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.leaks and not self.toxic

    def kinds(self) -> list[str]:
        return sorted({leak.kind for leak in self.leaks})

    def categories(self) -> list[str]:
        return sorted({hit.category for hit in self.toxic})


def check_output(original_text: str, output_text: str) -> SafetyReport:
    known = contacts(original_text)
    leaks = [Leak(kind, raw) for kind, key, raw in _contact_items(output_text) if key not in known[kind]]
    unique = list({(leak.kind, leak.value): leak for leak in leaks}.values())
    return SafetyReport(leaks=unique, toxic=toxic_terms(output_text))


def contacts(text: str) -> dict[str, set[str]]:
    """Normalised contact details of a text, by kind."""
    found: dict[str, set[str]] = {"email": set(), "phone": set(), "url": set(), "address": set()}
    for kind, key, _ in _contact_items(text):
        found[kind].add(key)
    return found


def _contact_items(text: str):
    for m in EMAIL.finditer(text):
        yield "email", m.group(0).lower(), m.group(0)
    for m in (*URL.finditer(text), *PROFILE.finditer(text)):
        yield "url", _url_key(m.group(0)), m.group(0)
    for m in PHONE.finditer(text):
        key = _phone_key(m.group(1))
        if key:
            yield "phone", key, m.group(1)
    for m in STREET.finditer(text):
        yield "address", _address_key(m.group(0)), m.group(0)


def _url_key(url: str) -> str:
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower())
    return url.rstrip("/.,;:!?")


def _phone_key(text: str) -> str | None:
    """A phone's last 10 digits; None for what is not a phone (a date range, a short number)."""
    if ISO_DATE.search(text) and not text.startswith("+"):
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) < 9 and not (text.startswith("+") and len(digits) >= 7):
        return None
    return digits[-10:]


def _address_key(address: str) -> str:
    """House number and the first word of the street name: "88 Harrison St" is "88 Harrison Street"."""
    parts = address.lower().split()
    return " ".join(parts[:2])


def toxic_terms(text: str) -> list[ToxicHit]:
    hits = []
    for term, category, pattern in _lexicon():
        if pattern.search(text):
            hits.append(ToxicHit(term, category))
    return hits


@lru_cache(maxsize=1)
def _lexicon() -> list[tuple[str, str, re.Pattern]]:
    out = []
    for line in LEXICON_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        term, category, _source = line.split("\t")
        words = r"\s+".join(re.escape(w) for w in term.split())
        out.append((term, category, re.compile(rf"(?<![\w-]){words}(?![\w-])", re.IGNORECASE)))
    return out
