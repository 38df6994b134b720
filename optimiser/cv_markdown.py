"""Heuristic Markdown/plain-text CV parser: structure (name, header, sections) and section routing.

Plain text is first promoted to Markdown (ALL-CAPS or known section names become `##` sections,
short Title-case lines become `###` entry headings, bullet glyphs become `- `), so both formats
go through one parser. A section that cannot be parsed keeps its raw text (in basics.summary or
an entry summary): content is never dropped and never invented.
"""

from __future__ import annotations

import re

from optimiser.cv_entries import BULLET, HEADING, clean, paragraphs, strip_bullet
from optimiser.cv_lists import LIST_SECTIONS

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|www\.)[^\s|,;()<>*]+"
                 r"|\b(?:[\w-]+\.)+(?:com|io|dev|org|net|me|ai|co|app)(?:/[^\s|,;()<>*]*)?")
PHONE = re.compile(r"(?<![\w/])\+?(?:\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]?\d{3,4}(?:[\s.-]?\d{3,4})?(?![\w/])")
_LABEL = re.compile(r"^(?:email|e-mail|phone|mobile|tel|telephone|linkedin|github|gitlab|website|"
                    r"web|portfolio|url|location|address)\s*:\s*", re.I)
_PROFILE_SITES = {"linkedin": "LinkedIn", "github": "GitHub", "gitlab": "GitLab", "twitter": "Twitter",
                  "x.com": "X", "stackoverflow": "Stack Overflow", "medium": "Medium"}



SECTION_NAMES = {
    "summary": ("summary", "professional summary", "profile", "professional profile", "about",
                "about me", "objective", "career objective", "overview", "career summary",
                "personal statement", "executive summary"),
    "skills": ("skills", "technical skills", "core skills", "key skills", "core competencies",
               "competencies", "technologies", "tech stack", "skills & tools", "tools",
               "areas of expertise", "expertise", "technical proficiencies"),
    "work": ("experience", "work experience", "professional experience", "work history",
             "employment", "employment history", "career history", "relevant experience"),
    "education": ("education", "academic background", "education & training", "academic qualifications"),
    "certificates": ("certifications", "certificates", "licenses & certifications",
                     "certifications & training", "licences & certifications"),
    "projects": ("projects", "personal projects", "selected projects", "side projects", "key projects"),
    "awards": ("awards", "achievements", "key achievements", "honors", "honours", "awards & honors",
               "accomplishments", "recognition"),
    "volunteer": ("volunteer", "volunteering", "volunteer experience"),
    "publications": ("publications", "papers"),
    "languages": ("languages",),
    "interests": ("interests", "hobbies", "hobbies & interests"),
    "references": ("references",),
    "contact": ("contact", "contact information", "contact details", "contact info"),
}
_EXACT = {name: kind for kind, names in SECTION_NAMES.items() for name in names}
# Looser fallback for long headings ("Relevant Work Experience"), checked in this order.
_KEYWORDS = (("experience", "work"), ("employment", "work"), ("skill", "skills"), ("education", "education"),
             ("certif", "certificates"), ("project", "projects"), ("summary", "summary"),
             ("award", "awards"), ("achievement", "awards"), ("volunteer", "volunteer"),
             ("publication", "publications"), ("language", "languages"), ("interest", "interests"),
             ("contact", "contact"))
_ENTRY_KINDS = {"work", "volunteer", "education", "projects"}
_SMALL_WORDS = {"of", "and", "in", "at", "for", "the", "to", "a", "an", "with", "on", "&", "-", "—", "–"}


def section_kind(title: str, loose: bool = True) -> str | None:
    norm = re.sub(r"\s+", " ", re.sub(r"[^a-z& ]", " ", clean(title).lower().replace(" and ", " & "))).strip()
    if norm in _EXACT:
        return _EXACT[norm]
    if loose and len(norm.split()) <= 4:
        return next((kind for word, kind in _KEYWORDS if word in norm), None)
    return None


def parse_cv(text: str, markdown: bool) -> dict:
    """A JSON Resume dict from a Markdown or plain-text CV."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not markdown:
        lines = promote_text(lines)
    name, header, sections = split_sections(lines)
    resume: dict = {"basics": {}}
    if name:
        resume["basics"]["name"] = name
    parse_header(header, resume["basics"], name is None)
    for kind, title, body in sections:
        _route(resume, kind, title, body)
    return _prune(resume)


def _route(resume: dict, kind: str | None, title: str, body: list[str]) -> None:
    basics = resume["basics"]
    if kind == "summary":
        _append_summary(basics, paragraphs(body))
    elif kind == "contact":
        leftover = parse_contact(body, basics)
        _append_summary(basics, "\n".join(leftover))
    elif kind in LIST_SECTIONS:
        items = LIST_SECTIONS[kind](body)
        resume.setdefault(kind, []).extend(items)
    else:  # unknown section: keep it verbatim rather than drop it
        raw = paragraphs(body)
        if raw:
            _append_summary(basics, f"{clean(title)}:\n{raw}")


def _append_summary(basics: dict, text: str) -> None:
    if text:
        basics["summary"] = f"{basics['summary']}\n\n{text}" if basics.get("summary") else text


def _prune(resume: dict) -> dict:
    return {k: v for k, v in resume.items() if v or k == "basics"}


def split_sections(lines: list[str]) -> tuple[str | None, list[str], list[tuple[str | None, str, list[str]]]]:
    """(name, header lines, [(kind, title, lines)]) of a Markdown CV."""
    name, header, sections = None, [], []
    for line in lines:
        title, level = _heading(line)
        if title is not None and level == 1 and name is None and not sections and not section_kind(title):
            name = clean(title)
            continue
        if title is not None and _is_section(title, level, bool(sections)):
            sections.append((section_kind(title, loose=level <= 2), clean(title), []))
            continue
        (sections[-1][2] if sections else header).append(line)
    return name, header, sections


def _heading(line: str) -> tuple[str | None, int]:
    m = HEADING.match(line.strip())
    if m:
        return m.group(2), len(m.group(1))
    bold = re.fullmatch(r"\s*(?:\*\*|__)([^*_]{2,50})(?:\*\*|__):?\s*", line)
    if bold and section_kind(bold.group(1), loose=False):
        return bold.group(1), 2
    return None, 0


def _is_section(title: str, level: int, in_section: bool) -> bool:
    if level <= 2:
        return True  # every level-1/2 heading after the name opens a section, known or not
    return section_kind(title, loose=False) is not None or (not in_section and level == 3
                                                            and section_kind(title) is not None)


def promote_text(lines: list[str]) -> list[str]:
    """Plain text to Markdown: name, section headings, entry headings and bullets.

    ALL-CAPS or known section names open a section. Another short Title-case line is an entry
    heading inside work/education-like sections, a section heading after a blank line elsewhere,
    and plain text in the header (a label such as "Backend Engineer").
    """
    out: list[str] = []
    kind: str | None = None
    for line in lines:
        s = line.strip()
        after_blank = not out or not out[-1]
        if not s:
            out.append("")
        elif not out or not any(out):
            out.append(("# " if _name_like(s) else "") + s)
        elif _heading_shape(s) and (section_kind(s.rstrip(":"), loose=False) or s.isupper()):
            kind = section_kind(s.rstrip(":")) or "other"
            out.append("## " + s.rstrip(":"))
        elif _heading_shape(s) and _title_case(s) and not re.search(r"[\d,]", s) and kind:
            heading = "### " if kind in _ENTRY_KINDS else "## " if after_blank else ""
            kind = kind if heading != "## " else section_kind(s) or "other"
            out.append(heading + s)
        else:
            out.append(BULLET.sub("- ", s, count=1) if BULLET.match(s) else s)
    return out


def _name_like(s: str) -> bool:
    words = s.split()
    return 2 <= len(words) <= 4 and all(re.fullmatch(r"[^\W\d_][\w.'-]*", w) for w in words) \
        and section_kind(s, loose=False) is None


def _heading_shape(s: str) -> bool:
    return len(s) <= 50 and len(s.split()) <= 6 and not re.search(r"[.,;!?]$|@|https?:", s) \
        and not BULLET.match(s)


def _title_case(s: str) -> bool:
    words = [w for w in re.split(r"\s+", strip_bullet(s)) if re.search(r"[^\W\d_]", w)]
    return bool(words) and all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in words)


# --- header and contact ------------------------------------------------------------------------

def parse_contact(lines: list[str], basics: dict) -> list[str]:
    """Fill email, phone, url and profiles; return the leftover text pieces."""
    leftover = []
    for raw in lines:
        line = clean(raw)
        label = _LABEL.match(line)
        line = _LABEL.sub("", line)
        for email in EMAIL.findall(line):
            basics.setdefault("email", email)
        line = EMAIL.sub(" ", line)
        for url in URL.findall(line):
            _add_url(basics, url.rstrip(".,"))
        line = URL.sub(" ", line)
        for phone in PHONE.findall(line):
            if len(re.sub(r"\D", "", phone)) >= 7:  # fewer digits: a year range or a number
                basics.setdefault("phone", phone.strip())
                line = line.replace(phone, " ")
        for piece in re.split(r"\s*[|·•]\s*", line):
            piece = piece.strip(" ,;")
            if piece and label and label.group(0).lower().startswith(("location", "address")):
                basics.setdefault("location", {"address": piece})
            elif piece:
                leftover.append(piece)
    return leftover


def _add_url(basics: dict, url: str) -> None:
    site = next((name for key, name in _PROFILE_SITES.items() if key in url.lower()), None)
    if site is None and "url" not in basics:
        basics["url"] = url
        return
    if site is None:  # a second personal link (a blog, Mastodon): kept as a profile
        basics.setdefault("profiles", []).append({"url": url})
        return
    username = url.rstrip("/").rsplit("/", 1)[-1]
    basics.setdefault("profiles", []).append({"network": site, "username": username, "url": url})


def parse_header(lines: list[str], basics: dict, need_name: bool) -> None:
    """Name (if not found yet), label, contact details, location; other header text -> summary.

    The first short line without contact details is the label ("**Staff Engineer**"); the short
    leftovers of a contact line ("a@b.com | San Francisco, CA") are the location.
    """
    rest = []
    for line in (ln for ln in lines if ln.strip()):
        text = clean(line)
        on_contact_line = bool(EMAIL.search(text) or URL.search(text) or _LABEL.match(text) or _phone(text))
        for piece in parse_contact([line], basics):
            short = len(piece.split()) <= 8 and not piece.endswith(".")
            if need_name and "name" not in basics and not on_contact_line and len(piece.split()) <= 4:
                basics["name"] = piece
            elif short and not on_contact_line and "label" not in basics:
                basics["label"] = piece
            elif short and on_contact_line and "location" not in basics:
                basics["location"] = {"address": piece}
            else:
                rest.append(piece)
    if rest:
        basics["summary"] = " ".join(rest)


def _phone(text: str) -> bool:
    return any(len(re.sub(r"\D", "", p)) >= 7 for p in PHONE.findall(text))
