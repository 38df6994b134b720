"""Render a Resume as clean Markdown, in the layout optimiser.parsing reads back.

Layout: `# Name`, `**Label**`, a contact line, then `##` sections. Work entries are
`### Position — Company`, an italic date line `*start – end | location*` (dates as stored, ISO),
the summary, then `- ` highlights, so parse_resume(to_markdown(r)) gives back the same work
entries (names, positions, dates, highlights).
"""

from __future__ import annotations

from optimiser.resume import Education, Project, Resume, Volunteer, Work


def to_markdown(resume: Resume) -> str:
    parts = [_header(resume)]
    for title, body in (
        ("Summary", resume.basics.summary or ""),
        ("Skills", _skills(resume)),
        ("Experience", "\n\n".join(_work(w, w.name) for w in resume.work)),
        ("Education", "\n\n".join(_education(e) for e in resume.education)),
        ("Certificates", _bullets(_triple(c.name, c.issuer, c.date) for c in resume.certificates)),
        ("Projects", "\n\n".join(_project(p) for p in resume.projects)),
        ("Awards", _bullets(_triple(a.title, a.awarder, a.date) for a in resume.awards)),
        ("Volunteer", "\n\n".join(_work(v, v.organization) for v in resume.volunteer)),
        ("Publications", _bullets(_triple(p.name, p.publisher, p.releaseDate) for p in resume.publications)),
        ("Languages", _bullets(_pair(lang.language, lang.fluency) for lang in resume.languages)),
        ("Interests", _bullets(_keywords(i.name, i.keywords) for i in resume.interests)),
    ):
        if body.strip():
            parts.append(f"## {title}\n\n{body.strip()}")
    return "\n\n".join(p for p in parts if p) + "\n"


def _header(resume: Resume) -> str:
    b = resume.basics
    lines = [f"# {b.name}" if b.name else ""]
    if b.label:
        lines.append(f"**{b.label}**")
    location = b.location and (b.location.address or ", ".join(x for x in (b.location.city, b.location.region) if x))
    contact = [b.email, b.phone, b.url, *(p.url for p in b.profiles), location]
    if any(contact):
        lines.append(" | ".join(c for c in contact if c))
    return "\n".join(ln for ln in lines if ln)


def _skills(resume: Resume) -> str:
    return _bullets(_keywords(s.name, s.keywords) for s in resume.skills)


def _keywords(name: str | None, keywords: list[str]) -> str:
    if name and keywords:
        return f"**{name}**: {', '.join(keywords)}"
    return name or ", ".join(keywords)


def _dates(start: str | None, end: str | None) -> str:
    if not start and not end:
        return ""
    return f"{start or ''} – {end or 'Present'}".strip()


def _work(entry: Work | Volunteer, org: str | None) -> str:
    title = " — ".join(x for x in (entry.position, org) if x) if entry.position else f"— {org or ''}"
    meta = " | ".join(x for x in (_dates(entry.startDate, entry.endDate), getattr(entry, "location", None)) if x)
    lines = [f"### {title}".rstrip()]
    if meta:
        lines.append(f"*{meta}*")
    prose = "\n\n".join(x for x in (getattr(entry, "description", None), entry.summary) if x)
    if prose:
        lines += ["", prose]
    if entry.highlights:
        lines += [""] + [f"- {h}" for h in entry.highlights]
    return "\n".join(lines)


def _education(entry: Education) -> str:
    degree = " in ".join(x for x in (entry.studyType, entry.area) if x)
    lines = [f"### {' — '.join(x for x in (degree, entry.institution) if x)}"]
    dates = _dates(entry.startDate, entry.endDate) if entry.startDate else (entry.endDate or "")
    if dates:
        lines.append(f"*{dates}*")
    if entry.score:
        lines.append(f"Score: {entry.score}")
    if entry.courses:
        lines.append(f"Courses: {', '.join(entry.courses)}")
    summary = getattr(entry, "summary", None)
    if summary:
        lines += ["", summary]
    return "\n".join(lines)


def _project(project: Project) -> str:
    lines = [f"### {project.name or 'Project'}"]
    dates = _dates(project.startDate, project.endDate)
    if dates:
        lines.append(f"*{dates}*")
    if project.description:
        lines += ["", project.description]
    if project.highlights:
        lines += [""] + [f"- {h}" for h in project.highlights]
    if project.keywords:
        lines += ["", f"Keywords: {', '.join(project.keywords)}"]
    return "\n".join(lines)


def _triple(name: str | None, by: str | None, date: str | None) -> str:
    text = " — ".join(x for x in (name, by) if x)
    return f"{text} ({date})" if date else text


def _pair(name: str | None, detail: str | None) -> str:
    return f"{name} ({detail})" if name and detail else name or detail or ""


def _bullets(items) -> str:
    return "\n".join(f"- {i}" for i in items if i)
