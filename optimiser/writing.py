"""The writer's loop: draft a summary, check that it is grounded and safe, and when it is not, ask the writer
again with the rejected claims listed (the writer prompt's `feedback` text), at most `retries` more times.

A draft is rejected when it is not a summary at all (`not_a_summary`), when it states what the resume does
not support (the grounding check's kinds), or when it is unsafe (optimiser/tools/safety.py): contact
details the resume lacks (`contact_leak`, named by kind only: the value may be someone's real address) or
words from the toxic lexicon (`toxic_text`, named by category).

Only the writer is asked again: the analysts' answers do not change, and each rewrite is one model call.
Which draft ships is the flow's decision (flow.assemble): the last one, if it passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from pydantic import BaseModel

from optimiser.resume import Resume
from optimiser.tools.grounding import Violation, check_grounding
from optimiser.tools.safety import check_output

MAX_SUMMARY_CHARS = 700
MAX_CLAIMS = 5  # listed in the feedback: the local model's context is small, and five make the point
# What a small model answers instead of a summary: talk to the user ("I'm ready to help. Please go ahead and
# submit your resume facts..." shipped as a production summary before this check: found by `eval run`),
# offers, refusals. A draft saying one of these is rejected like a fabrication (kind `not_a_summary`).
CHATTER = re.compile(
    r"\b(?:I'?m ready|I am ready|I'?ll (?:provide|help|write|need)|I will (?:provide|help|write)|I can(?:not|'t)? help|"
    r"I'?m sorry|(?:please|kindly) (?:go ahead|provide|share|submit|send|paste)|as an ai\b|language model|"
    r"here(?:'s| is) (?:the|your|a) |let me know|your resume|resume facts|sure[,!]|certainly[,!])", re.I)


UNSAFE_KINDS = {"contact_leak", "toxic_text"}
CONTACT_KINDS = {"email": "an e-mail address", "phone": "a phone number", "url": "a web address",
                 "address": "a street address"}


class Draft(BaseModel):
    summary: str                 # the writer's answer as a summary (summary_from); "" if unusable
    violations: list[Violation]  # of the tailored resume with this summary, against the original

    @property
    def passed(self) -> bool:
        return bool(self.summary) and not self.violations


def summary_from(text: str) -> str:
    """The writer's answer as a summary: no headings, no quotes, at most three sentences."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(r"^[#*\s]*[A-Z][A-Za-z ]{2,30}:\s*$", ln)]
    body = " ".join(re.sub(r"^(new |professional )?summary:\s*", "", ln, flags=re.I) for ln in lines)
    body = body.strip().strip('"').strip()
    sentences = re.split(r"(?<=[.!?])\s+", body)
    return " ".join(sentences[:3])[:MAX_SUMMARY_CHARS].strip()


def with_summary(resume: Resume, summary: str) -> Resume:
    candidate = resume.model_copy(deep=True)
    candidate.basics.summary = summary
    return candidate


def check_draft(answer: str, original: Resume, tailored: Resume) -> Draft:
    summary = summary_from(answer)
    if not summary:
        return Draft(summary="", violations=[])
    if said := CHATTER.search(summary):
        return Draft(summary=summary, violations=[Violation(kind="not_a_summary", text=said.group(0), where="summary")])
    grounding = check_grounding(original, with_summary(tailored, summary)).violations
    return Draft(summary=summary, violations=unsafe(original, summary) + grounding)


def unsafe(original: Resume, summary: str) -> list[Violation]:
    """The draft's safety failures against everything the resume says (its contact details included)."""
    report = check_output(original.model_dump_json(), summary)
    return ([Violation(kind="contact_leak", text=f"{CONTACT_KINDS.get(k, k)} not in the resume", where="summary")
             for k in report.kinds()]
            + [Violation(kind="toxic_text", text=f"{c} language", where="summary") for c in report.categories()])


def grounded_lines(answer: str, original: Resume, tailored: Resume) -> list[str]:
    """The lines of an agent's answer that pass the grounding check on their own. The writer copies what
    it is handed (FACTS.md): a strength the resume analyst made up or took from the job would come back."""
    lines = (re.sub(r"^\s*(?:[-*•]|\d{1,2}[.)])\s*", "", ln).strip() for ln in answer.splitlines())
    return [ln for ln in lines if ln and check_draft(ln, original, tailored).passed]


def claims(violations: list[Violation]) -> str:
    return "; ".join(f'"{v.text}" ({v.kind})' for v in violations[:MAX_CLAIMS])


def drafts(write: Callable[[str], str], original: Resume, tailored: Resume, feedback: str, retries: int,
           before_rewrite: Callable[[int, list[str]], bool]) -> Iterator[Draft]:
    """The writer's drafts: the first, then one per rewrite while a draft fails grounding and retries are
    left. `write(feedback_text)` asks the writer; `before_rewrite(attempt, violation kinds)` runs before each
    rewrite and may refuse it (no time left). An empty answer is not rewritten: it has no claims to correct."""
    draft = check_draft(write(""), original, tailored)
    yield draft
    for attempt in range(2, retries + 2):
        if draft.passed or not draft.summary or not before_rewrite(attempt, sorted({v.kind for v in draft.violations})):
            return
        draft = check_draft(write(feedback.format(claims=claims(draft.violations))), original, tailored)
        yield draft
