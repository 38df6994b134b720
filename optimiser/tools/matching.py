"""Match score: how well a resume shows what a job asks for, 0-100, deterministic.

Scoring intent:
- Each job skill earns credit by where the resume shows it. 1.0 when it is in the skills
  section, the summary or the headline (label): that is where ATS parsers and recruiters look
  first. 0.6 when it appears only inside experience text (highlights, role summaries,
  projects, ...): present, but easy to miss. 0 when absent.
- Must-have skills weigh 2x, others 1x. Hard and soft skills are scored separately as the
  weighted share of credit earned (0-100).
- Title similarity (0-100): share of the job title's words (stop words removed, "Sr" = "Senior")
  found in the resume's label or most recent position, the better of the two.
- Education (0-100, with the job's text): the degree level the job asks for (associate < bachelor
  < master < doctorate; "degree" alone means bachelor) against the resume's highest. Met: 100;
  below: the share of the level reached, at least 50 when the job accepts "or equivalent" experience.
  Left out when the job names no degree.
- Keywords (0-100, with the job's text): the job's 15 most frequent content words that are not
  stop words, as words in the resume. ATS keyword screens read words, not skills; `missing_keywords`
  lists the absent ones.
- score = weighted mean of the parts that apply, with weights hard 0.65, soft 0.15, title 0.20,
  education 0.10, keywords 0.10 (then normalised); a part with nothing to score (no soft skills
  asked, no job title given, no job text) is left out and the other weights are rescaled.
  `weights` in the report shows the weights used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from optimiser.dates import parse_date
from optimiser.resume import Education, Resume
from optimiser.tools.grounding import degree_levels
from optimiser.tools.skills import Requirement, Taxonomy

BASE_WEIGHTS = {"hard": 0.65, "soft": 0.15, "title": 0.20, "education": 0.10, "keywords": 0.10}
KEYWORDS = 15
# Degrees are named by grounding's patterns (one reading of "MSc", "Master's", ...); ranked here.
_RANK = {"associate": 1, "bachelor": 2, "master": 3, "mba": 3, "doctorate": 4}
_NO_DEGREE = re.compile(r"\bno degree\b|degree (?:is )?not required|without a degree", re.I)
_ANY_DEGREE = re.compile(r"\b(?:degree|undergraduate)\b", re.I)  # a degree with no level named: a bachelor's
_STOP = frozenset("""a about above across after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either etc few for from further had has have
having he her here hers him his how i if in into is it its itself just least less like looking make may me might more
most must my need needs new no nor not now of off often on once one only or other our ours out over own per plus
please role same she should so some such than that the their theirs them then there these they this those through
to too under until up us use using very via want was we well were what when where which while who whom why will with
within without work working would year years you your team teams strong ability experience skills knowledge
including required requirements preferred responsibilities responsible candidate join company job""".split())
PROMINENT_CREDIT, EXPERIENCE_CREDIT = 1.0, 0.6
MUST_HAVE_WEIGHT = 2.0
_TITLE_STOP = {"a", "an", "and", "the", "of", "for", "to", "in", "at", "with", "on", "&", "i", "ii", "iii"}
_TITLE_ABBREV = {"sr": "senior", "jr": "junior", "eng": "engineer", "engineering": "engineer",
                 "dev": "developer", "development": "developer", "mgr": "manager", "management": "manager",
                 "ml": "machine", "swe": "software"}


class MatchReport(BaseModel):
    score: float
    matched: list[str]
    missing: list[str]
    experience_only: list[str]
    breakdown: dict[str, float]
    weights: dict[str, float]
    missing_keywords: list[str] = []


class Evidence:
    """Where a resume shows each skill: skills section, summary/label, anywhere."""

    def __init__(self, resume: Resume, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        skills_texts = [t for s in resume.skills for t in [s.name or "", *s.keywords]]
        self.skills_section = _canonicals(skills_texts, taxonomy)
        headline = [resume.basics.label or "", resume.basics.summary or ""]
        self.prominent = self.skills_section | _canonicals(headline, taxonomy)
        self.text = resume.all_text()
        self.anywhere = taxonomy.canonical_set(self.text)
        self._prominent_text = "\n\n".join(skills_texts + headline)

    def credit(self, skill: str) -> float:
        if self.taxonomy.kind(skill) is None:  # an explicit job keyword the taxonomy lacks
            return _literal_credit(skill, self._prominent_text, self.text)
        if skill in self.prominent:
            return PROMINENT_CREDIT
        return EXPERIENCE_CREDIT if skill in self.anywhere else 0.0

    def shows(self, skill: str) -> bool:
        return self.credit(skill) > 0


def _canonicals(texts: Iterable[str], taxonomy: Taxonomy) -> set[str]:
    return {name for t in texts if t for name in taxonomy.canonical_set(t)}


def _literal_credit(term: str, prominent: str, anywhere: str) -> float:
    pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.I)
    if pattern.search(prominent):
        return PROMINENT_CREDIT
    return EXPERIENCE_CREDIT if pattern.search(anywhere) else 0.0


def match(resume: Resume, requirements: list[Requirement], job_title: str | None = None,
          taxonomy: Taxonomy | None = None, job_text: str | None = None) -> MatchReport:
    evidence = Evidence(resume, taxonomy or Taxonomy.load())
    credits = {r.skill: evidence.credit(r.skill) for r in requirements}
    parts = {kind: _coverage([r for r in requirements if r.kind == kind], credits) for kind in ("hard", "soft")}
    parts["title"] = title_similarity(job_title, resume) if job_title else None
    parts["education"] = education_fit(job_text, resume) if job_text else None
    wanted = job_keywords(job_text) if job_text else []
    resume_words = set(_words(evidence.text))
    missing_keywords = [w for w in wanted if w not in resume_words]
    parts["keywords"] = 100.0 * (len(wanted) - len(missing_keywords)) / len(wanted) if wanted else None
    weights = {k: (BASE_WEIGHTS[k] if v is not None else 0.0) for k, v in parts.items()}
    total = sum(weights.values())
    score = sum(weights[k] * (parts[k] or 0.0) for k in parts) / total if total else 0.0
    return MatchReport(
        score=round(score, 1),
        matched=[r.skill for r in requirements if credits[r.skill] > 0],
        missing=[r.skill for r in requirements if credits[r.skill] == 0],
        experience_only=[r.skill for r in requirements if credits[r.skill] == EXPERIENCE_CREDIT],
        breakdown={k: round(v or 0.0, 1) for k, v in parts.items()},
        weights={k: round(w / total, 3) if total else 0.0 for k, w in weights.items()},
        missing_keywords=missing_keywords,
    )


def required_degree(job_text: str) -> int:
    """The lowest degree a job names ("Bachelor's required, Master's preferred" asks for a bachelor's)."""
    if _NO_DEGREE.search(job_text):
        return 0
    levels = [_RANK[level] for level, _ in degree_levels(job_text)]
    return min(levels) if levels else (_RANK["bachelor"] if _ANY_DEGREE.search(job_text) else 0)


def held_degree(entry: Education) -> int:
    """An education entry's level, from its degree type ("Master", "MSc", "Bachelor of Arts", ...)."""
    text = f"{entry.studyType or ''} {entry.area or ''}"
    levels = [_RANK[level] for level, _ in degree_levels(text)]
    first = (entry.studyType or "").strip().lower().split(" ", 1)[0].rstrip("'s")  # a bare "Master"
    return max(levels + [_RANK.get(first, 0)])


def education_fit(job_text: str, resume: Resume) -> float | None:
    wanted = required_degree(job_text)
    if not wanted:
        return None
    have = max((held_degree(e) for e in resume.education), default=0)
    if have >= wanted:
        return 100.0
    share = 100.0 * have / wanted
    return max(share, 50.0) if re.search(r"or equivalent", job_text, re.I) else share


def job_keywords(job_text: str, n: int = KEYWORDS) -> list[str]:
    """The job's `n` most frequent content words (ties: first seen first)."""
    counts: dict[str, int] = {}
    for word in _words(job_text):
        if word not in _STOP and not word.isdigit():
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: -counts[w])[:n]  # sorted() is stable: first seen first among ties


def _words(text: str) -> list[str]:
    return [w.strip(".-") for w in re.findall(r"[a-z][a-z0-9+#.-]{2,}", text.lower()) if len(w.strip(".-")) >= 3]


def _coverage(requirements: list[Requirement], credits: dict[str, float]) -> float | None:
    if not requirements:
        return None
    weight = {r.skill: MUST_HAVE_WEIGHT if r.must_have else 1.0 for r in requirements}
    earned = sum(weight[s] * credits[s] for s in weight)
    return 100.0 * earned / sum(weight.values())


def title_similarity(job_title: str, resume: Resume) -> float:
    wanted = _title_words(job_title)
    if not wanted:
        return 0.0
    candidates = [resume.basics.label or "", most_recent_position(resume)]
    best = max(len(wanted & _title_words(c)) for c in candidates)
    return 100.0 * best / len(wanted)


def _title_words(title: str) -> set[str]:
    words = re.findall(r"[a-z0-9+#]+", title.lower())
    return {_TITLE_ABBREV.get(w, w) for w in words if w not in _TITLE_STOP}


def most_recent_position(resume: Resume) -> str:
    if not resume.work:
        return ""
    # Latest start date first; entries without a date keep their order after dated ones.
    dated = [(parse_date(w.startDate), -i, w) for i, w in enumerate(resume.work)]
    best = max(dated, key=lambda t: (t[0] is not None, t[0] or (0,), t[1]))
    return best[2].position or ""
