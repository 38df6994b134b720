"""Entry-level heuristics of the CV parser: work, volunteer and education entries, and text helpers.

Each function turns a section's lines into JSON Resume dicts. Text that matches no rule is kept
(an entry's summary, a keyword, a name) so a parse never loses what the candidate wrote.
"""

from __future__ import annotations

import re

from optimiser.dates import parse_range

BULLET = re.compile(r"^\s*(?:[-*+•▪◦‣–]|\d{1,2}[.)])\s+")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EMPHASIS = re.compile(r"(?<![\w*_])[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}(?![\w*_])")
_DEGREE = re.compile(r"\b(?:Bachelor|Master|Doctor|Doctorate|Associate|Diploma|Ph\.?\s?D\.?|MBA|"
                     r"B\.?\s?Sc?\.?|M\.?\s?Sc?\.?|B\.?A\.?|M\.?A\.?|B\.?Eng|M\.?Eng|BS|MS|BA|MA|A\.A\.S\.?)(?!\w)")
_INSTITUTION = re.compile(r"\b(?:University|College|Institute|School|Academy|Polytechnic|Université|Universidad)\b",
                          re.I)
# "Data Analyst at Shopify (2019-2021)": a whole role on one line.
_ONE_LINER = re.compile(r"^(?P<head>.+?\s(?:at|@|—|–|\|)\s.+?)\s*[(\[,|]\s*"
                        r"(?P<dates>[^()\[\]]*\d{4}[^()\[\]]*)[)\]]?\s*$")
# Role lines and headings are short; longer lines are prose. The bound also keeps the nested
# quantifiers of _ONE_LINER and the date-tail patterns from backtracking for seconds on a long line.
MAX_ROLE_LINE = 200
DATE_TAIL = 80
_SEPARATORS = (" — ", " – ", " | ", " @ ", " at ", " - ")


def clean(text: str) -> str:
    """Text without Markdown heading marker, bullet marker or emphasis."""
    text = re.sub(r"^\s*#{1,6}\s+", "", text)
    return _EMPHASIS.sub("", strip_bullet(text)).strip()


def strip_bullet(line: str) -> str:
    return BULLET.sub("", line, count=1).strip()


def paragraphs(lines: list[str]) -> str:
    """Lines joined as prose: wrapped lines rejoined, bullets kept one per line."""
    out: list[str] = []
    for line in lines + [""]:
        s = line.strip()
        if not s:
            out.append("\n\n")
        elif BULLET.match(s):
            out.append("\n" + "- " + clean(s))
        else:
            out.append(" " + clean(s))
    text = "".join(out)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r" *\n *", "\n", text)).strip()


def split_items(text: str) -> list[str]:
    """Comma/semicolon-separated items, not splitting inside parentheses."""
    items, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch in ",;" and depth <= 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    return [i.strip().rstrip(".") for i in items if i.strip().rstrip(".")]


# --- work, volunteer and education entries ------------------------------------------------------

def entry_blocks(lines: list[str]) -> list[list[str]]:
    """Split a section into entries: at `###` headings, one-liners, or a bold line after bullets."""
    blocks: list[list[str]] = []
    for line in lines:
        s = line.strip()
        heading = HEADING.match(s)
        if heading and blocks and len(blocks[-1]) == 1 and HEADING.match(blocks[-1][0]):
            blocks[-1].append(f"**{heading.group(2)}**")  # "### Title" then "### Company"
        elif heading or is_one_liner(s) or _bold_after_bullets(s, blocks):
            blocks.append([s])
        elif s or blocks:
            if not blocks:
                blocks.append([])
            blocks[-1].append(s)
    return [b for b in blocks if any(b)]


def is_one_liner(line: str) -> bool:
    line = strip_bullet(line)
    return len(line) <= MAX_ROLE_LINE and bool(_ONE_LINER.match(line))


def _bold_after_bullets(s: str, blocks: list[list[str]]) -> bool:
    return bool(re.fullmatch(r"(\*\*|__).+(\*\*|__)", s)) and bool(blocks) and any(BULLET.match(x) for x in blocks[-1])


def _split_heading(text: str) -> tuple[str, str | None, tuple | None]:
    """(left, right, dates) of "Position — Company (2019-2021)"."""
    dates = None
    tail = max(0, len(text) - DATE_TAIL)
    m = re.search(r"\s*[(\[]([^()\[\]]*\d{4}[^()\[\]]*)[)\]]\s*$", text[tail:])
    if m and parse_range(m.group(1)):
        dates, text = parse_range(m.group(1)), text[:tail + m.start()]
    text = re.sub(r"^[—–]\s+", " — ", text)  # "— Company": a role without a title
    for sep in _SEPARATORS:
        if sep in text:
            left, right = text.split(sep, 1)
            return left.strip(), right.strip(), dates
    return text.strip(), None, dates


def date_line(line: str) -> tuple | None:
    """The dates of a line that is (almost) only dates, e.g. "*June 2017 - Present | Remote*"."""
    found = parse_range(clean(line))
    if not found:
        return None
    leftover = re.sub(r"^(?:graduated|expected|completed|class of|dates?)\s*:?\s*", "",
                      found[3].strip(" |·,-–—()"), flags=re.I)
    # A date line may carry a short location ("| Mountain View, CA"); more words means prose
    # that merely mentions a year.
    return (*found[:3], leftover) if len(leftover.split()) <= 5 else None


def apply_dates(entry: dict, dates: tuple, single_is_end: bool = False) -> None:
    start, end, present, _ = dates
    if single_is_end and end is None and not present:
        start, end = None, start
    if start:
        entry.setdefault("startDate", start)
    if end:
        entry.setdefault("endDate", end)


def _split_company(text: str) -> tuple[str, str | None]:
    for sep in (" | ", " — ", " – ", " · "):
        if sep in text:
            company, location = text.split(sep, 1)
            return company.strip(), location.strip()
    m = re.fullmatch(r"(.+?),\s*([A-Z][A-Za-z .'-]+,\s*[A-Z]{2,}|Remote)", text)
    return (m.group(1).strip(), m.group(2).strip()) if m else (text.strip(), None)


def _work_entry(block: list[str], org_key: str) -> dict:
    entry: dict = {}
    highlights, summary = [], []
    first = block[0]
    heading = HEADING.match(first)
    if heading or is_one_liner(first):
        position, org, dates = _split_heading(clean(heading.group(2) if heading else first))
        entry.update({k: v for k, v in (("position", position), (org_key, org)) if v})
        if dates:
            apply_dates(entry, dates)
        block = block[1:]
    for line in block:
        _work_line(line, entry, highlights, summary, org_key)
    if highlights:
        entry["highlights"] = highlights
    if paragraphs(summary):
        entry["summary"] = paragraphs(summary)
    return entry


def _work_line(line: str, entry: dict, highlights: list, summary: list, org_key: str) -> None:
    dates = None if "startDate" in entry or BULLET.match(line) else date_line(line)
    if dates:
        apply_dates(entry, dates)
        if dates[3] and "location" not in entry:
            entry["location"] = dates[3]
    elif BULLET.match(line):
        highlights.append(clean(line))
    elif re.fullmatch(r"(\*\*|__).+(\*\*|__)", line) and org_key not in entry:
        org, location = _split_company(clean(line))
        entry[org_key] = org
        if location:
            entry["location"] = location
    else:
        summary.append(line)


def parse_work(lines: list[str], org_key: str = "name") -> list[dict]:
    blocks = entry_blocks(lines)
    return [e for e in (_work_entry(b, org_key) for b in blocks) if e]


def parse_volunteer(lines: list[str]) -> list[dict]:
    return parse_work(lines, org_key="organization")


def split_degree(text: str) -> dict:
    m = _DEGREE.search(text)
    if not m:
        return {"area": text} if text else {}
    if " in " in text:
        study, area = text.split(" in ", 1)
        return {"studyType": study.strip(), "area": area.strip()}
    study = text[:m.end()].strip()
    area = text[m.end():].strip(" ,-–—:")
    return {"studyType": study, **({"area": area} if area else {})}


def _education_entry(block: list[str]) -> dict:
    entry: dict = {}
    extra: list[str] = []
    for i, line in enumerate(block):
        heading = HEADING.match(line)
        text = clean(heading.group(2) if heading else line)
        if heading or (i == 0 and _SEPARATORS[0] in text):
            left, right, dates = _split_heading(text)
            entry.update(split_degree(left))
            if right:
                entry["institution"] = right
            if dates:
                apply_dates(entry, dates, single_is_end=True)
        elif text:
            _education_line(text, line, entry, extra)
    if extra:
        entry["summary"] = "\n".join(extra)
    return entry


def _education_line(text: str, raw: str, entry: dict, extra: list[str]) -> None:
    label = re.match(r"(score|gpa|grade|courses|coursework|relevant coursework)\s*:\s*(.+)", text, re.I)
    dates = None if "endDate" in entry else date_line(text)
    if label and label.group(1).lower() in ("score", "gpa", "grade"):
        entry["score"] = label.group(2)
    elif label or BULLET.match(raw):
        entry.setdefault("courses", []).extend(split_items(label.group(2)) if label else [text])
    elif "," in text and (_DEGREE.search(text) or _INSTITUTION.search(text)) and not entry:
        _education_csv(text, entry)
    elif dates:
        apply_dates(entry, dates, single_is_end=True)
    elif _DEGREE.search(text) and "studyType" not in entry:
        entry.update(split_degree(text))
    elif "institution" not in entry:
        entry["institution"] = text
    else:
        extra.append(text)


def _education_csv(text: str, entry: dict) -> None:
    """"BSc Computer Science, State University, 2016"."""
    for part in (p.strip() for p in text.split(",")):
        dates = date_line(part)
        if dates:
            apply_dates(entry, dates, single_is_end=True)
        elif _DEGREE.search(part) and "studyType" not in entry:
            entry.update(split_degree(part))
        elif "institution" not in entry and (_INSTITUTION.search(part) or "studyType" in entry):
            entry["institution"] = part
        else:
            entry["institution"] = f"{entry['institution']}, {part}" if "institution" in entry else part


def parse_education(lines: list[str]) -> list[dict]:
    blocks: list[list[str]] = []
    for line in lines:
        s = line.strip()
        starts = HEADING.match(s) or (re.fullmatch(r"(\*\*|__).+(\*\*|__)", s) and blocks
                                      and any(_DEGREE.search(x) or HEADING.match(x) for x in blocks[-1]))
        if starts or (s and not blocks):
            blocks.append([s])
        elif s:
            blocks[-1].append(s)
        elif blocks and blocks[-1]:
            blocks.append([])  # a blank line ends a plain-text entry
    return [e for e in (_education_entry(b) for b in blocks if b) if e]
