"""List-like CV sections: skills, projects, certificates, awards, publications, languages, ...

Each parser turns a section's lines into JSON Resume dicts; an item that matches no pattern is
kept whole (as a name or description) rather than dropped.
"""

from __future__ import annotations

import re

from optimiser.cv_entries import (BULLET, DATE_TAIL, HEADING, apply_dates, clean, date_line, entry_blocks, paragraphs,
                                  parse_education, parse_volunteer, parse_work, split_items)
from optimiser.dates import parse_range


def _bullet_items(lines: list[str]) -> list[str]:
    return [clean(ln) for ln in lines if clean(ln) and not HEADING.match(ln.strip())]


def _label_and_rest(text: str) -> tuple[str, str | None, str | None]:
    """("Name", "Issuer", "2019") of "Name — Issuer (2019)"."""
    date = None
    tail = max(0, len(text) - DATE_TAIL)
    m = re.search(r"\s*\(([^()]*\d{4}[^()]*)\)\s*$", text[tail:])
    if m and parse_range(m.group(1)):
        date, text = parse_range(m.group(1))[0], text[:tail + m.start()]
    for sep in (" — ", " – ", " | "):
        if sep in text:
            name, rest = text.split(sep, 1)
            return name.strip(), rest.strip(), date
    return text.strip(), None, date


def _triples(lines: list[str], keys: tuple[str, str, str]) -> list[dict]:
    out = []
    for item in _bullet_items(lines):
        values = _label_and_rest(item)
        out.append({k: v for k, v in zip(keys, values) if v})
    return out


def parse_skills(lines: list[str]) -> list[dict]:
    skills: list[dict] = []
    group = None
    for line in lines:
        heading = HEADING.match(line.strip())
        text = clean(heading.group(2) if heading else line)
        if heading:
            group = {"name": text}
            skills.append(group)
        elif ":" in text:
            name, rest = text.split(":", 1)
            skills.append({"name": name.strip(), "keywords": split_items(rest)})
        elif text and group is not None:
            group.setdefault("keywords", []).extend(split_items(text))
        elif text:
            skills.extend({"name": item} for item in split_items(text))
    return skills


def parse_projects(lines: list[str]) -> list[dict]:
    projects = []
    for block in entry_blocks(lines):
        heading = HEADING.match(block[0])
        if not heading:
            projects.extend(_inline_projects(block))
            continue
        project: dict = {"name": clean(heading.group(2))}
        desc, highlights = [], []
        for line in block[1:]:
            label = re.match(r"(?:keywords|tech|technologies|stack|tools)\s*:\s*(.+)", clean(line), re.I)
            dates = None if "startDate" in project or BULLET.match(line) else date_line(line)
            if label:
                project["keywords"] = split_items(label.group(1))
            elif dates:
                apply_dates(project, dates)
            elif BULLET.match(line):
                highlights.append(clean(line))
            else:
                desc.append(line)
        project.update({k: v for k, v in (("description", paragraphs(desc)), ("highlights", highlights)) if v})
        projects.append(project)
    return projects


def _inline_projects(block: list[str]) -> list[dict]:
    out = []
    for item in _bullet_items(block):
        name, _, desc = item.partition(": ")
        out.append({"name": name, "description": desc} if desc else {"description": item})
    return out


def parse_languages(lines: list[str]) -> list[dict]:
    out = []
    for item in (i for text in _bullet_items(lines) for i in split_items(text)):
        m = re.fullmatch(r"(.+?)\s*(?:\((.+)\)|[:—–-]\s*(.+))", item)
        out.append({"language": m.group(1), "fluency": m.group(2) or m.group(3)} if m else {"language": item})
    return out


def parse_interests(lines: list[str]) -> list[dict]:
    out = []
    for item in _bullet_items(lines):
        name, _, rest = item.partition(":")
        out.append({"name": name.strip(), **({"keywords": split_items(rest)} if rest.strip() else {})})
    return out


def parse_references(lines: list[str]) -> list[dict]:
    out = []
    for item in _bullet_items(lines):
        name, sep, text = item.partition(": ")
        out.append({"name": name, "reference": text} if sep else {"reference": item})
    return out


LIST_SECTIONS = {
    "skills": parse_skills,
    "work": parse_work,
    "volunteer": parse_volunteer,
    "education": parse_education,
    "projects": parse_projects,
    "certificates": lambda lines: _triples(lines, ("name", "issuer", "date")),
    "awards": lambda lines: _triples(lines, ("title", "awarder", "date")),
    "publications": lambda lines: _triples(lines, ("name", "publisher", "releaseDate")),
    "languages": parse_languages,
    "interests": parse_interests,
    "references": parse_references,
}
