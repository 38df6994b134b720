"""Grounding check: every fact in a tailored resume must be traceable to the original.

One small check per kind of fact; each returns its violations. Kinds:
- person: basics.name (or email/phone) changed
- employer: a work/volunteer organisation the original does not have
- title: a position not held at that employer in the original, or a headline (basics.label)
  that is neither the original label nor one of its positions
- date: an entry's dates differ from the original entry's, or a date/year in any text is
  not in the original ("2017" may stand for "2017-06"; "June 2019" may not stand for "2019")
- degree: an education institution, degree or field the original does not have, or a degree
  named in free text ("MSc", "Master's", "PhD") at a level the original never states
- number: a number or metric in the text that the original never states ("40%", "$2M", "3
  engineers"); "50,000" equals "50000", "50K" equals only "50K"/"50k"; number words two-ninety
  count as their digits
- skill: a taxonomy skill the original never mentions anywhere, unless approved
- certificate / award: a certificate or award the original does not list, or a certification
  named in free text ("AWS Certified ...", "PMP") that the original's text never contains
- section_dropped: a section with content in the original (work, education, skills, summary, ...)
  is missing or empty, or a work or education entry of the original is missing

Free-text employers and titles ("previously at Google") are not checked: only structured
entries and the headline are.

Reordering the original, or leaving it untouched, always passes (every check compares sets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

from pydantic import BaseModel

from optimiser.dates import Date, compatible, find_dates, parse_date
from optimiser.resume import Resume
from optimiser.tools.skills import Taxonomy

_NUMBER = re.compile(
    r"(?<![\w.])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?:\s?(?P<suffix>%|percent\b|bn\b|million\b|billion\b|thousand\b|[kKmMbBxX]\b))?(?![\w])")
_SUFFIX = {"%": "%", "percent": "%", "k": "k", "thousand": "k", "m": "m", "million": "m",
           "b": "b", "bn": "b", "billion": "b", "x": "x"}
_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
# "one" is left out: it is far more often a pronoun ("one of the") than a count.
_NUMBER_WORDS = {w: str(i + 2) for i, w in enumerate(_WORDS)} | {
    w: str(10 * (i + 3)) for i, w in enumerate(["thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.I)


class Violation(BaseModel):
    kind: str
    text: str
    where: str


class GroundingReport(BaseModel):
    passed: bool
    violations: list[Violation]


def check_grounding(original: Resume, tailored: Resume, approved_skills: Iterable[str] = (),
                    taxonomy: Taxonomy | None = None) -> GroundingReport:
    taxonomy = taxonomy or Taxonomy.load()
    violations = [
        *check_person(original, tailored),
        *check_employers_and_titles(original, tailored),
        *check_entry_dates(original, tailored),
        *check_degrees(original, tailored),
        *check_credentials(original, tailored),
        *check_text_degrees(original, tailored),
        *check_text_certificates(original, tailored),
        *check_dropped_sections(original, tailored),
        *check_dropped(original, tailored),
        *check_text_dates(original, tailored),
        *check_numbers(original, tailored),
        *check_skills(original, tailored, approved_skills, taxonomy),
    ]
    return GroundingReport(passed=not violations, violations=violations)


def norm(text: str | None) -> str:
    return " ".join(re.sub(r"[^\w&+#]+", " ", (text or "").casefold()).split())


def _corpus(resume: Resume) -> str:
    """Every string of the original, contact details and URLs included: evidence, not prose."""
    return "\n\n".join(_all_strings(resume.model_dump(exclude_none=True)))


def _all_strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_strings(v)


# --- identity and structure ---------------------------------------------------------------------

def check_person(original: Resume, tailored: Resume) -> list[Violation]:
    out = []
    if norm(tailored.basics.name) != norm(original.basics.name):
        out.append(Violation(kind="person", text=tailored.basics.name or "(name removed)", where="basics.name"))
    for field in ("email", "phone"):
        value = getattr(tailored.basics, field)
        if value and value != getattr(original.basics, field):
            out.append(Violation(kind="person", text=value, where=f"basics.{field}"))
    return out


def _roles(resume: Resume) -> Iterator[tuple[str, int, str | None, str | None, str | None, str | None]]:
    """(section, index, organisation, position, startDate, endDate) of work and volunteer entries."""
    for i, w in enumerate(resume.work):
        yield "work", i, w.name, w.position, w.startDate, w.endDate
    for i, v in enumerate(resume.volunteer):
        yield "volunteer", i, v.organization, v.position, v.startDate, v.endDate


def check_employers_and_titles(original: Resume, tailored: Resume) -> list[Violation]:
    held: dict[str, set[str]] = {}
    for _, _, org, position, _, _ in _roles(original):
        held.setdefault(norm(org), set()).add(norm(position))
    out = []
    for section, i, org, position, _, _ in _roles(tailored):
        if norm(org) not in held:
            out.append(Violation(kind="employer", text=org or "(no organisation)", where=f"{section}[{i}].name"))
        elif position and norm(position) not in held[norm(org)]:
            out.append(Violation(kind="title", text=f"{position} at {org}", where=f"{section}[{i}].position"))
    label = tailored.basics.label
    allowed = {norm(original.basics.label)} | {p for positions in held.values() for p in positions}
    if label and norm(label) not in allowed:
        out.append(Violation(kind="title", text=label, where="basics.label"))
    return out


def _same_dates(claimed: tuple[str | None, str | None], known: tuple[str | None, str | None]) -> bool:
    for c, k in zip(claimed, known):
        c_date, k_date = parse_date(c), parse_date(k)
        if (c_date is None) != (k_date is None):  # an end date added or removed changes "Present"
            return False
        if c_date is not None and not compatible(c_date, k_date):
            return False
    return True


def check_entry_dates(original: Resume, tailored: Resume) -> list[Violation]:
    known: dict[tuple, list[tuple]] = {}
    for key, dates, _ in _dated_entries(original):
        known.setdefault(key, []).append(dates)
    pool = _date_pool(original)
    out = []
    for key, dates, where in _dated_entries(tailored):
        if key in known:
            ok = any(_same_dates(dates, k) for k in known[key])
        else:  # an unknown entry is flagged by its own check; its dates must still exist somewhere
            ok = all(_date_known(parse_date(d), pool) for d in dates if parse_date(d))
        if not ok:
            out.append(Violation(kind="date", text=f"{dates[0] or '?'} – {dates[1] or 'Present'}", where=where))
    return out


def _dated_entries(resume: Resume) -> Iterator[tuple[tuple, tuple[str | None, str | None], str]]:
    for section, i, org, position, start, end in _roles(resume):
        yield (section, norm(org), norm(position)), (start, end), f"{section}[{i}]"
    for i, e in enumerate(resume.education):
        key = ("education", norm(e.institution), norm(e.studyType), norm(e.area))
        yield key, (e.startDate, e.endDate), f"education[{i}]"


def check_degrees(original: Resume, tailored: Resume) -> list[Violation]:
    known = [(norm(e.institution), norm(e.studyType), norm(e.area)) for e in original.education]
    out = []
    for i, e in enumerate(tailored.education):
        inst, study, area = norm(e.institution), norm(e.studyType), norm(e.area)
        same_school = [k for k in known if k[0] == inst]
        degree_ok = any((not study or study == k[1]) and (not area or area == k[2]) for k in same_school)
        if not same_school or not degree_ok:
            parts = (e.studyType, e.area and f"in {e.area}", e.institution and f"at {e.institution}")
            text = " ".join(x for x in parts if x)
            out.append(Violation(kind="degree", text=text, where=f"education[{i}]"))
    return out


def check_credentials(original: Resume, tailored: Resume) -> list[Violation]:
    certs = {norm(c.name) for c in original.certificates}
    awards = {norm(a.title) for a in original.awards}
    out = [Violation(kind="certificate", text=c.name or "", where=f"certificates[{i}]")
           for i, c in enumerate(tailored.certificates) if norm(c.name) not in certs]
    out += [Violation(kind="award", text=a.title or "", where=f"awards[{i}]")
            for i, a in enumerate(tailored.awards) if norm(a.title) not in awards]
    return out


# Sections whose loss a reader would notice; "meta" and "$schema" are bookkeeping, not content.
_SECTIONS = ("work", "volunteer", "education", "awards", "certificates", "publications", "skills",
             "languages", "interests", "references", "projects")


def _emptied(original: Resume, tailored: Resume) -> list[str]:
    gone = [s for s in _SECTIONS if getattr(original, s) and not getattr(tailored, s)]
    if (original.basics.summary or "").strip() and not (tailored.basics.summary or "").strip():
        gone.insert(0, "summary")
    return gone


def check_dropped_sections(original: Resume, tailored: Resume) -> list[Violation]:
    return [Violation(kind="section_dropped", text=section, where=section) for section in _emptied(original, tailored)]


def check_dropped(original: Resume, tailored: Resume) -> list[Violation]:
    """Missing work and education entries; a section dropped whole is reported once, as a section."""
    gone = set(_emptied(original, tailored))
    roles = [((norm(w.name),), norm(w.position), f"{w.position or ''} at {w.name or ''}".strip())
             for w in original.work]
    kept_roles = [((norm(w.name),), norm(w.position)) for w in tailored.work]
    schools = [((norm(e.institution),), (norm(e.studyType), norm(e.area)),
                " ".join(x for x in (e.studyType, e.area, e.institution) if x)) for e in original.education]
    kept_schools = [((norm(e.institution),), (norm(e.studyType), norm(e.area))) for e in tailored.education]
    out = [] if "work" in gone else _missing(roles, kept_roles, "work")
    return out + ([] if "education" in gone else _missing(schools, kept_schools, "education"))


def _missing(entries: list[tuple], kept: list[tuple], section: str) -> list[Violation]:
    """Original entries with no counterpart, grouped by organisation.

    An entry kept under a changed title is the title/degree check's business, so a group only
    reports as many drops as it has fewer entries than the original.
    """
    out = []
    for group in dict.fromkeys(e[0] for e in entries):
        mine = [(i, e) for i, e in enumerate(entries) if e[0] == group]
        theirs = [k[1] for k in kept if k[0] == group]
        deficit = len(mine) - len(theirs)
        unmatched = [(i, e) for i, e in mine if e[1] not in theirs]
        for i, e in unmatched[:max(deficit, 0)]:
            out.append(Violation(kind="section_dropped", text=e[2], where=f"{section}[{i}]"))
    return out


# --- free text ------------------------------------------------------------------------------------

def _date_pool(resume: Resume) -> list[Date]:
    structured = [parse_date(v) for _, _, v in _structured_dates(resume)]
    return [d for d in structured if d] + [d for _, _, d in find_dates(_corpus(resume))]


def _structured_dates(resume: Resume) -> Iterator[tuple[str, str, str]]:
    for section in ("work", "volunteer", "education", "projects", "awards", "certificates", "publications"):
        for i, entry in enumerate(getattr(resume, section)):
            for field in ("startDate", "endDate", "date", "releaseDate"):
                value = getattr(entry, field, None)
                if value:
                    yield section, f"{section}[{i}].{field}", value


def _date_known(date: Date, pool: list[Date]) -> bool:
    return any(compatible(date, known) for known in pool)


def check_text_dates(original: Resume, tailored: Resume) -> list[Violation]:
    pool = _date_pool(original)
    out = []
    for _, where, value in _structured_dates(tailored):
        date = parse_date(value)
        if date and not _date_known(date, pool) and not where.startswith(("work", "volunteer", "education")):
            out.append(Violation(kind="date", text=value, where=where))
    for where, text in tailored.text_items():
        for start, end, date in find_dates(text):
            if not _date_known(date, pool):
                out.append(Violation(kind="date", text=text[start:end], where=where))
    return out


def numbers_in(text: str) -> list[tuple[str, str]]:
    """(normalised key, surface) of each number in text; dates and bare years are skipped."""
    for start, end, _ in find_dates(text):
        text = text[:start] + " " * (end - start) + text[end:]
    found = []
    for m in _NUMBER.finditer(text):
        digits = m.group("int").replace(",", "")
        if not m.group("frac") and not m.group("suffix") and len(digits) == 4 and digits[:2] in ("19", "20"):
            continue  # a year: check_text_dates owns it
        value = Decimal(f"{digits}.{m.group('frac') or 0}").normalize()
        suffix = _SUFFIX.get((m.group("suffix") or "").lower(), "")
        found.append((f"{value:f}{suffix}", m.group().strip()))
    found += [(_NUMBER_WORDS[w.lower()], w) for w in _NUMBER_WORD.findall(text)]
    return found


# Degree levels named in free text. Levels, not fields: "BSc" and "Bachelor of Science" are one
# claim; the structured education entries carry the field and are checked by check_degrees.
_DEGREES = [
    ("doctorate", r"ph\.?\s?d\.?|doctorate|doctoral|doctor of \w+|d\.?phil"),
    ("mba", r"mba|master of business administration"),
    ("master", r"master'?s(?: degree)?|master(?: degree| of \w+)|msc|m\.sc\.?|m\.s\.|m\.a\.|meng|m\.eng\.?|mphil"),
    ("bachelor", r"bachelor'?s?(?: degree| of \w+)?|bsc|b\.sc\.?|b\.s\.|b\.a\.|beng|b\.eng\.?"),
    ("associate", r"associate'?s? degree|associate of \w+"),
]
_DEGREE = re.compile("|".join(f"(?P<{key}>(?<![\\w.])(?:{rx})(?![\\w]))" for key, rx in _DEGREES), re.I)


def degree_levels(text: str) -> list[tuple[str, str]]:
    """(level, surface) of each degree named in text."""
    return [(m.lastgroup, m.group()) for m in _DEGREE.finditer(text)]


def check_text_degrees(original: Resume, tailored: Resume) -> list[Violation]:
    known = {level for level, _ in degree_levels(_corpus(original))}
    return [Violation(kind="degree", text=surface, where=where)
            for where, text in tailored.text_items() if not where.startswith("education")
            for level, surface in degree_levels(text) if level not in known]


# A capitalised run around "Certified"/"Certification"/"Certificate" ("AWS Certified Solutions
# Architect"), or a well-known credential acronym: the claim must appear in the original's text.
_CERT_PHRASE = re.compile(r"(?:\b[A-Z][\w+-]*\s+){0,4}\b(?:Certified|Certification|Certificate)\b"
                          r"(?:\s+(?:in\s+)?[A-Z][\w+-]*)*")
_CERT_ACRONYM = re.compile(r"\b(?:PMP|CAPM|CISSP|CISM|CISA|CCNA|CCNP|CCIE|CKA|CKAD|CKS|CPA|CFA|CSM|PSM|"
                           r"ITIL|PRINCE2|OSCP|CEH|RHCE|RHCSA|MCSE|Security\+|Network\+|A\+)(?![\w+])")


def check_text_certificates(original: Resume, tailored: Resume) -> list[Violation]:
    corpus = f" {norm(_corpus(original))} "
    out, seen = [], set()
    for where, text in tailored.text_items():
        if where.startswith("certificates"):
            continue  # structured entries: check_credentials
        for m in [*_CERT_PHRASE.finditer(text), *_CERT_ACRONYM.finditer(text)]:
            claim = norm(m.group())
            if claim and f" {claim} " not in corpus and claim not in seen:
                seen.add(claim)
                out.append(Violation(kind="certificate", text=m.group().strip(), where=where))
    return out


def check_numbers(original: Resume, tailored: Resume) -> list[Violation]:
    known = {key for key, _ in numbers_in(_corpus(original))}
    out, seen = [], set()
    for where, text in tailored.text_items():
        for key, surface in numbers_in(text):
            if key not in known and (key, where) not in seen:
                seen.add((key, where))
                out.append(Violation(kind="number", text=surface, where=where))
    return out


def check_skills(original: Resume, tailored: Resume, approved: Iterable[str], taxonomy: Taxonomy) -> list[Violation]:
    allowed = taxonomy.canonical_set(_corpus(original))
    allowed |= {taxonomy.canonical(a) or a for a in approved}
    out, seen = [], set()
    for where, text in tailored.text_items():
        for m in taxonomy.extract(text):
            if m.canonical not in allowed and m.canonical not in seen:
                seen.add(m.canonical)
                out.append(Violation(kind="skill", text=m.text, where=where))
    return out
