"""Skills taxonomy and extractor: find hard and soft skills in resume and job text.

The taxonomy (datasets/taxonomy/skills.json, built by datasets/taxonomy/build_taxonomy.py from
O*NET Technology Skills plus a curated table) is compiled once into two dicts keyed by token
n-grams, so extraction is one pass over the tokens with a few dict lookups per token rather than
one regex per skill (~1,500 skills).

Matching rules: longest match wins; matching is case-insensitive except for the taxonomy's
"exact" forms (short or common-word names such as "Go", "R", "React"), which must match
case-sensitively and as whole tokens ("Go-to-market" and "R&D" are not Go or R). No match spans
a phrase break (a comma, a sentence end, a blank line), so "Apache, Kafka" is not "Apache Kafka".
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from optimiser.resume import Job

DEFAULT_TAXONOMY = Path(__file__).resolve().parents[2] / "datasets" / "taxonomy" / "skills.json"

Kind = Literal["hard", "soft"]

# Words with their "++"/"#" suffix (C++, C#), a dot inside a word (Node.js, ASP.NET), a leading
# dot (.NET), and "/" and "&" which are part of names (CI/CD, A/B, P&L). Hyphens are separators,
# so "problem-solving" and "problem solving" are the same phrase.
_TOKEN = re.compile(r"[^\W_]+(?:\+\+|#)?|(?<=[^\W_])\.(?=[^\W_])|(?<![^\W_.])\.(?=[A-Za-z])|[/&]")
_BREAK = re.compile(r"[,;:()\[\]{}!?|\"•·*—–]|\.|\n\s*\n|\s-\s")
# Characters that, touching an exact form, make it part of a longer word ("R&D", "C-suite").
_GLUE_BEFORE = set("-&._+#@")
_GLUE_AFTER = set("-&+#@_")


class SkillMention(BaseModel):
    text: str
    canonical: str
    start: int
    end: int
    kind: Kind


class Requirement(BaseModel):
    skill: str
    kind: Kind
    must_have: bool

    @property
    def canonical(self) -> str:
        return self.skill


class _Token:
    __slots__ = ("text", "folded", "start", "end", "chunk")

    def __init__(self, text: str, start: int, end: int, chunk: int):
        self.text, self.folded, self.start, self.end, self.chunk = text, text.casefold(), start, end, chunk


def tokenize(text: str) -> list[_Token]:
    """Tokens with offsets; `chunk` changes at every phrase break between two tokens."""
    tokens: list[_Token] = []
    chunk, prev_end = 0, 0
    for m in _TOKEN.finditer(text):
        if tokens and _BREAK.search(text, prev_end, m.start()):
            chunk += 1
        tokens.append(_Token(m.group(), m.start(), m.end(), chunk))
        prev_end = m.end()
    return tokens


def surface_key(surface: str) -> tuple[str, ...] | None:
    """Token key of a surface form, or None if it spans a phrase break (it could never match)."""
    tokens = tokenize(surface)
    if not tokens or tokens[0].chunk != tokens[-1].chunk:
        return None
    return tuple(t.text for t in tokens)


def _whole_token(text: str, start: int, end: int) -> bool:
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in _GLUE_BEFORE):
        return False
    if end < len(text):
        nxt = text[end]
        if nxt.isalnum() or nxt in _GLUE_AFTER:
            return False
        if nxt == "." and end + 1 < len(text) and text[end + 1].isalnum():
            return False
    return True


class Taxonomy:
    """Skills with their surface forms, compiled for n-gram lookup."""

    def __init__(self, skills: list[dict]):
        self.kinds: dict[str, Kind] = {}
        self._folded: dict[tuple[str, ...], str] = {}
        self._exact: dict[tuple[str, ...], str] = {}
        self._reach: dict[str, int] = {}  # first folded token -> longest pattern starting with it
        for skill in skills:
            self._add(skill)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        return _load(str(Path(path) if path else DEFAULT_TAXONOMY))

    def _add(self, skill: dict) -> None:
        name, exact = skill["name"], set(skill.get("exact", []))
        self.kinds[name] = skill["kind"]
        forms = [(f, False) for f in [name, *skill.get("aliases", [])] if f not in exact]
        for surface, is_exact in forms + [(f, True) for f in exact]:
            tokens = surface_key(surface)
            if tokens is None:
                continue
            table = self._exact if is_exact else self._folded
            table.setdefault(tokens if is_exact else tuple(t.casefold() for t in tokens), name)
            first = tokens[0].casefold()
            self._reach[first] = max(self._reach.get(first, 0), len(tokens))

    def __len__(self) -> int:
        return len(self.kinds)

    def kind(self, name: str) -> Kind | None:
        return self.kinds.get(name)

    def extract(self, text: str) -> list[SkillMention]:
        tokens, found, i = tokenize(text), [], 0
        while i < len(tokens):
            hit = self._longest(text, tokens, i)
            if hit is None:
                i += 1
                continue
            n, name = hit
            start, end = tokens[i].start, tokens[i + n - 1].end
            found.append(SkillMention(text=text[start:end], canonical=name, start=start, end=end,
                                      kind=self.kinds[name]))
            i += n
        return found

    def _longest(self, text: str, tokens: list[_Token], i: int) -> tuple[int, str] | None:
        first = tokens[i]
        reach = min(self._reach.get(first.folded, 0), len(tokens) - i)
        for n in range(reach, 0, -1):
            window = tokens[i:i + n]
            if window[-1].chunk != first.chunk:
                continue
            name = self._folded.get(tuple(t.folded for t in window))
            if name is None:
                name = self._exact.get(tuple(t.text for t in window))
                if name is not None and not _whole_token(text, first.start, window[-1].end):
                    name = None
            if name is not None:
                return n, name
        return None

    def canonical(self, term: str) -> str | None:
        """The canonical skill a whole term names ("k8s" -> "Kubernetes"), or None."""
        term = term.strip()
        mentions = self.extract(term)
        if len(mentions) == 1 and mentions[0].text == term:
            return mentions[0].canonical
        folded = term.casefold()
        return next((n for n in self.kinds if n.casefold() == folded), None)

    def canonical_set(self, text: str) -> set[str]:
        return {m.canonical for m in self.extract(text)}


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Taxonomy:
    with open(path, encoding="utf-8") as fh:
        return Taxonomy(json.load(fh)["skills"])


def extract_skills(text: str, taxonomy: Taxonomy | None = None) -> list[SkillMention]:
    return (taxonomy or Taxonomy.load()).extract(text)


# --- job requirements -------------------------------------------------------------------------

_NICE_CUE = re.compile(
    r"\b(nice[- ]to[- ]have|bonus|preferred|preferably|plus|familiarity|familiar with|ideally|"
    r"desirable|appreciated|not required|optional|would be great|exposure to)\b", re.I)
_MUST_CUE = re.compile(
    r"\b(required|requires?|requirements?|must|you have|you bring|you(?:'ll| will) need|essential|"
    r"mandatory|minimum|at least|\d+\+?\s*(?:years?|yrs))\b", re.I)
_MUST_HEAD = re.compile(r"requirement|qualification|must|what you (?:bring|have|need)|you have|"
                        r"you bring|who you are|about you|skills|experience", re.I)
# A header is a Markdown heading, a bold line, or a capitalised line start ending in ':'
# ("Requirements: 4+ years ..."); a plain short line is not, since JDs are often hard-wrapped.
_HEADER = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+(?P<md>[^\n]{2,60}?)[ \t]*$"
                     r"|\*\*(?P<bold>[^*\n]{2,48})\*\*[ \t]*:?[ \t]*$"
                     r"|(?:\*\*)?(?P<head>[A-Z][A-Za-z' /&-]{2,48}?)(?:\*\*)?[ \t]*:)", re.M)
_CLAUSE_BREAK = re.compile(r"(?<=[.;!?])\s+|\n\s*\n|\n(?=[ \t]*[-*•][ \t])")


def _section_mode(head: str) -> str:
    if _NICE_CUE.search(head):
        return "nice"
    return "must" if _MUST_HEAD.search(head) else "neutral"


def _sections(text: str) -> list[tuple[int, str]]:
    """(start offset, mode) of each section."""
    sections = [(0, "neutral")]
    for m in _HEADER.finditer(text):
        head = m.group("md") or m.group("bold") or m.group("head")
        if len(head.split()) <= 6:
            sections.append((m.end(), _section_mode(head)))
    return sections


def _clauses(text: str) -> list[tuple[int, bool]]:
    """(start offset, must_have) of each clause, in order."""
    sections = _sections(text)
    bounds = sorted({0, *(s for s, _ in sections), *(m.end() for m in _CLAUSE_BREAK.finditer(text))})
    section_starts = [s for s, _ in sections]
    out = []
    for start, end in zip(bounds, bounds[1:] + [len(text)]):
        clause = text[start:end]
        section_mode = sections[bisect.bisect_right(section_starts, start) - 1][1]
        if _NICE_CUE.search(clause):
            must = False
        elif _MUST_CUE.search(clause):
            must = True
        else:
            must = section_mode == "must"
        out.append((start, must))
    return out


def job_requirements(job: Job, taxonomy: Taxonomy | None = None) -> list[Requirement]:
    """Skills the job asks for, deduplicated by canonical name, with a must-have guess.

    A skill is must-have if any sentence or clause naming it says so ("required", "must",
    "you have", "4+ years", or it sits under a Requirements header), unless that clause is
    hedged ("nice to have", "bonus", "preferred", "plus", "familiarity"). Explicit JSON job
    skills count as must-have.
    """
    taxonomy = taxonomy or Taxonomy.load()
    found: dict[str, Requirement] = {}
    text = job.description or ""
    clauses = _clauses(text)
    starts = [s for s, _ in clauses]
    for m in taxonomy.extract(text):
        must = clauses[bisect.bisect_right(starts, m.start) - 1][1] if clauses else False
        _merge(found, Requirement(skill=m.canonical, kind=m.kind, must_have=must))
    for term in job.skills:
        name = taxonomy.canonical(term) or term.strip()
        if name:
            _merge(found, Requirement(skill=name, kind=taxonomy.kind(name) or "hard", must_have=True))
    return list(found.values())


def _merge(found: dict[str, Requirement], req: Requirement) -> None:
    old = found.get(req.skill)
    if old is None:
        found[req.skill] = req
    elif req.must_have and not old.must_have:
        found[req.skill] = req
