"""The canonical resume model (JSON Resume v1.2.1, https://jsonresume.org/schema) and the job model.

Every section allows extra keys (`extra="allow"`) because the schema sets `additionalProperties`
on every object, and scalar fields default to None so that
`Resume.model_validate(d).model_dump(exclude_none=True) == d` for any valid JSON Resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, model_serializer

from gateway.pii import name_terms

# Keys whose values are identifiers, contact details or dates, not prose: matching and the
# grounding checks on free text ignore them (dates and contact details have their own checks).
NON_TEXT_KEYS = frozenset({
    "url", "email", "phone", "image", "$schema", "startDate", "endDate", "date", "releaseDate",
    "postalCode", "countryCode", "username", "profiles", "meta",
})


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _drop_unset_empties(self, handler, info: SerializationInfo) -> dict[str, Any]:
        # With exclude_none, also drop empty defaults the input never had ([] / {}), so a JSON
        # Resume round-trips to an equal dict instead of growing empty sections.
        data = handler(self)
        if not info.exclude_none:
            return data
        return {k: v for k, v in data.items() if k in self.model_fields_set or v not in ([], {})}


class Location(_Section):
    address: str | None = None
    postalCode: str | None = None
    city: str | None = None
    countryCode: str | None = None
    region: str | None = None


class Profile(_Section):
    network: str | None = None
    username: str | None = None
    url: str | None = None


class Basics(_Section):
    name: str | None = None
    label: str | None = None
    image: str | None = None
    email: str | None = None
    phone: str | None = None
    url: str | None = None
    summary: str | None = None
    location: Location | None = None
    profiles: list[Profile] = Field(default_factory=list)


class Work(_Section):
    name: str | None = None
    location: str | None = None
    description: str | None = None
    position: str | None = None
    url: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    summary: str | None = None
    highlights: list[str] = Field(default_factory=list)


class Volunteer(_Section):
    organization: str | None = None
    position: str | None = None
    url: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    summary: str | None = None
    highlights: list[str] = Field(default_factory=list)


class Education(_Section):
    institution: str | None = None
    url: str | None = None
    area: str | None = None
    studyType: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    score: str | None = None
    courses: list[str] = Field(default_factory=list)


class Award(_Section):
    title: str | None = None
    date: str | None = None
    awarder: str | None = None
    summary: str | None = None


class Certificate(_Section):
    name: str | None = None
    date: str | None = None
    url: str | None = None
    issuer: str | None = None


class Publication(_Section):
    name: str | None = None
    publisher: str | None = None
    releaseDate: str | None = None
    url: str | None = None
    summary: str | None = None


class Skill(_Section):
    name: str | None = None
    level: str | None = None
    keywords: list[str] = Field(default_factory=list)


class Language(_Section):
    language: str | None = None
    fluency: str | None = None


class Interest(_Section):
    name: str | None = None
    keywords: list[str] = Field(default_factory=list)


class Reference(_Section):
    name: str | None = None
    reference: str | None = None


class Project(_Section):
    name: str | None = None
    description: str | None = None
    highlights: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    startDate: str | None = None
    endDate: str | None = None
    url: str | None = None
    roles: list[str] = Field(default_factory=list)
    entity: str | None = None
    type: str | None = None


class Meta(_Section):
    canonical: str | None = None
    version: str | None = None
    lastModified: str | None = None


class Resume(_Section):
    basics: Basics = Field(default_factory=Basics)
    work: list[Work] = Field(default_factory=list)
    volunteer: list[Volunteer] = Field(default_factory=list)
    education: list[Education] = Field(default_factory=list)
    awards: list[Award] = Field(default_factory=list)
    certificates: list[Certificate] = Field(default_factory=list)
    publications: list[Publication] = Field(default_factory=list)
    skills: list[Skill] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    interests: list[Interest] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    meta: Meta | None = None

    def text_items(self) -> list[tuple[str, str]]:
        """(path, text) of every human-readable string, e.g. ("work[0].highlights[1]", "...")."""
        return list(_strings(self.model_dump(exclude_none=True), ""))

    def text_fields(self) -> list[str]:
        """Every human-readable string (prose, names, titles, skills), in document order."""
        return [text for _, text in self.text_items()]

    def all_text(self) -> str:
        """All human-readable text, one field per paragraph.

        Fields are separated by blank lines, which the skill extractor treats as a phrase break,
        so a match never spans two fields (e.g. the end of one highlight and the next).
        """
        return "\n\n".join(self.text_fields())


def _strings(value: Any, path: str, key: str = "") -> Iterator[tuple[str, str]]:
    if key in NON_TEXT_KEYS or (key == "location" and isinstance(value, dict)):
        return
    if isinstance(value, str):
        if value.strip():
            yield path, value.strip()
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else k, k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]", key)


class Job(BaseModel):
    """A job description. `skills` holds explicit keywords when the job came as JSON (job schema)."""

    model_config = ConfigDict(extra="allow")

    title: str = ""
    company: str = ""
    description: str = ""
    skills: list[str] = Field(default_factory=list)


def personal_terms(resume: Resume) -> list[str]:
    """What identifies the person, as the resume declares it: names (theirs and their references'),
    contact details and profile handles. The gateway removes these from any prompt or completion it
    keeps; the pattern-based redaction there catches the same kinds of data when nobody declared them."""
    b = resume.basics
    terms = name_terms([b.name or ""] + [r.name or "" for r in resume.references])
    terms += [b.email or "", b.phone or "", b.url or ""]
    if b.location is not None:
        terms += [b.location.address or "", b.location.postalCode or ""]
    for profile in b.profiles:
        terms += [profile.username or "", profile.url or ""]
    return sorted({t.strip() for t in terms if len(t.strip()) >= 3}, key=len, reverse=True)
