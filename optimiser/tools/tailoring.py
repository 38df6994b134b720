"""Deterministic tailoring: make what the job asks for easy to find, without adding a fact.

It only reorders and surfaces what the resume already says:
(a) highlights that mention the job's skills move to the top of each role (must-haves count 2x);
(b) skills groups, and keywords within a group, that the job asks for move first;
(c) job skills the resume shows only in experience text are listed in a skills group named
    "Relevant to this role", so a reader (or ATS) sees them where it looks first;
(d) job skills the resume never shows become suggestions for the user, never additions.
The result passes check_grounding against the original, and its match score is never lower.
"""

from __future__ import annotations

from pydantic import BaseModel

from optimiser.resume import Resume, Skill
from optimiser.tools.matching import Evidence
from optimiser.tools.skills import Requirement, Taxonomy

RELEVANT_GROUP = "Relevant to this role"


class TailorResult(BaseModel):
    resume: Resume
    changes: list[str]
    suggestions: list[str]


def deterministic_tailor(resume: Resume, requirements: list[Requirement],
                         taxonomy: Taxonomy | None = None) -> TailorResult:
    taxonomy = taxonomy or Taxonomy.load()
    tailored = resume.model_copy(deep=True)
    weights = {r.skill: 2 if r.must_have else 1 for r in requirements}
    evidence = Evidence(resume, taxonomy)
    changes = [
        *_reorder_highlights(tailored, weights, taxonomy),
        *_reorder_skills(tailored, weights, taxonomy),
        *_surface_skills(tailored, requirements, evidence),
    ]
    return TailorResult(resume=tailored, changes=changes, suggestions=_suggestions(requirements, evidence))


def _relevance(text: str, weights: dict[str, int], taxonomy: Taxonomy) -> tuple[int, list[str]]:
    """(weight, skills) of the job's skills a text mentions."""
    found = [s for s in dict.fromkeys(m.canonical for m in taxonomy.extract(text)) if s in weights]
    found += [s for s in weights if taxonomy.kind(s) is None and s.casefold() in text.casefold()]
    return sum(weights[s] for s in found), found


def _reorder_highlights(resume: Resume, weights: dict[str, int], taxonomy: Taxonomy) -> list[str]:
    changes = []
    for entry in resume.work:
        scored = [(_relevance(h, weights, taxonomy), h) for h in entry.highlights]
        ordered = [h for _, h in sorted(scored, key=lambda s: -s[0][0])]  # stable: ties keep order
        if ordered != entry.highlights:
            skills = list(dict.fromkeys(s for (w, found), _ in scored if w for s in found))
            entry.highlights = ordered
            where = f"{entry.position or 'the role'} at {entry.name or 'this employer'}".rstrip(".")
            changes.append(f"Moved highlights mentioning {_names(skills)} to the top of {where}.")
    return changes


def _reorder_skills(resume: Resume, weights: dict[str, int], taxonomy: Taxonomy) -> list[str]:
    changes = []
    for group in resume.skills:
        ordered = sorted(group.keywords, key=lambda k: -_relevance(k, weights, taxonomy)[0])
        if ordered != group.keywords:
            group.keywords = ordered
            changes.append(f"Put the job's skills first in the skills group {group.name or '(unnamed)'}.")
    score = {id(g): _relevance("\n\n".join([g.name or "", *g.keywords]), weights, taxonomy)[0] for g in resume.skills}
    ordered_groups = sorted(resume.skills, key=lambda g: -score[id(g)])
    if [id(g) for g in ordered_groups] != [id(g) for g in resume.skills]:
        resume.skills = ordered_groups
        changes.append("Moved the skills groups that match the job to the top of the skills section.")
    return changes


def _surface_skills(resume: Resume, requirements: list[Requirement], evidence: Evidence) -> list[str]:
    wanted = sorted(requirements, key=lambda r: not r.must_have)  # must-haves first, stable
    surfaced = [r.skill for r in wanted if r.skill in evidence.anywhere and r.skill not in evidence.skills_section]
    if not surfaced:
        return []
    group = next((g for g in resume.skills if g.name == RELEVANT_GROUP), None)
    if group is None:
        group = Skill(name=RELEVANT_GROUP)
        resume.skills.insert(0, group)
    group.keywords += [s for s in surfaced if s not in group.keywords]
    return [f"Listed {_names(surfaced)} under \"{RELEVANT_GROUP}\": your experience already shows "
            f"{'it' if len(surfaced) == 1 else 'them'}, but your skills section did not."]


def _suggestions(requirements: list[Requirement], evidence: Evidence) -> list[str]:
    out = []
    for r in sorted(requirements, key=lambda r: not r.must_have):
        if not evidence.shows(r.skill):
            need = " (a must-have)" if r.must_have else ""
            out.append(f"The job asks for {r.skill}{need}. If you have used it, add where: "
                       "in a role's highlights, a project, or your skills section.")
    return out


def _names(skills: list[str]) -> str:
    if len(skills) <= 1:
        return "".join(skills) or "the job's skills"
    return ", ".join(skills[:-1]) + " and " + skills[-1]
