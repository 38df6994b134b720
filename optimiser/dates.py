"""Resume dates: find them in text, normalise them to JSON Resume's ISO 8601 subset, compare them.

JSON Resume dates are "YYYY", "YYYY-MM" or "YYYY-MM-DD"; CVs write "June 2017", "Jun. 2017",
"06/2017" or "2017". Parsing maps all of them to ISO so the grounding check can compare
"June 2017" with "2017-06-01".
"""

from __future__ import annotations

import re
from typing import NamedTuple

MONTHS = {name: i + 1 for i, names in enumerate([
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december"),
]) for name in names}

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_RE = re.compile(
    rf"(?P<iso>\b[12]\d{{3}}-[01]\d(?:-[0-3]\d)?\b)"
    rf"|\b(?P<mon>{_MONTH})\.?,?\s+(?P<y1>[12]\d{{3}})\b"
    rf"|\b(?P<mm>[01]?\d)/(?P<y2>[12]\d{{3}})\b"
    rf"|(?<![\w$£€.,])(?P<year>(?:19|20)\d{{2}})(?![\w%])"
    rf"|\b(?P<present>present|current|now|today|ongoing)\b",
    re.I,
)
_RANGE_SEP = re.compile(r"^\s*(?:-|–|—|to|until|till)\s*$", re.I)


class Date(NamedTuple):
    year: int
    month: int | None = None
    day: int | None = None


def parse_date(value: str | None) -> Date | None:
    """The first date in `value`, or None ("Present" is None too)."""
    if not value:
        return None
    for m in DATE_RE.finditer(value):
        date = _from_match(m)
        if date is not None:
            return date
    return None


def _from_match(m: re.Match) -> Date | None:
    if m.group("iso"):
        parts = [int(p) for p in m.group("iso").split("-")]
        return Date(*parts) if 1 <= parts[1] <= 12 else None
    if m.group("mon"):
        return Date(int(m.group("y1")), MONTHS[m.group("mon").lower()])
    if m.group("mm"):
        month = int(m.group("mm"))
        return Date(int(m.group("y2")), month) if 1 <= month <= 12 else None
    if m.group("year"):
        return Date(int(m.group("year")))
    return None


def to_iso(date: Date) -> str:
    parts = [f"{date.year:04d}"] + [f"{p:02d}" for p in (date.month, date.day) if p]
    return "-".join(parts)


def find_dates(text: str) -> list[tuple[int, int, Date]]:
    """(start, end, date) of every date in free text."""
    out = []
    for m in DATE_RE.finditer(text):
        date = _from_match(m)
        if date is not None:
            out.append((m.start(), m.end(), date))
    return out


def parse_range(text: str) -> tuple[str | None, str | None, bool, str] | None:
    """(start ISO, end ISO, is_present, leftover text) of a date or date range in `text`.

    None when `text` holds no date. A single date is returned as the start.
    """
    matches = list(DATE_RE.finditer(text))
    if not matches:
        return None
    first = matches[0]
    second = matches[1] if len(matches) > 1 else None
    if second is not None and not _RANGE_SEP.match(text[first.end():second.start()]):
        second = None
    start = _from_match(first)
    present = bool(first.group("present") or (second is not None and second.group("present")))
    end = _from_match(second) if second is not None else None
    span_end = (second or first).end()
    leftover = (text[:first.start()] + " " + text[span_end:]).strip()
    return (to_iso(start) if start else None, to_iso(end) if end else None, present, leftover)


def compatible(claimed: Date, known: Date) -> bool:
    """True if `claimed` says nothing `known` does not: equal, or less precise ("2017" vs "2017-06")."""
    if claimed.year != known.year:
        return False
    if claimed.month is None:
        return True
    if claimed.month != known.month:
        return False
    return claimed.day is None or claimed.day == known.day or known.day is None and claimed.day == 1
