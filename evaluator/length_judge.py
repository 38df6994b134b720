"""Length judge: how long the tailored resume is, against the original and against two pages.

Both are measured in the optimiser's Markdown layout (the original is rendered the same way), so the
ratio shows what tailoring added or removed rather than how the input was formatted.
"""

from __future__ import annotations

import re

from evaluator.judges import Score
from evaluator.results import as_markdown, source_resume

# A one-column resume page at 10-11 pt holds roughly 450-600 words; 500 is the usual rule of thumb
# (recruiters' guides ask for one page early in a career and at most two later), so past 1,000 words
# the resume is flagged as longer than two pages.
WORDS_PER_PAGE = 500
MAX_PAGES = 2
_WORD = re.compile(r"[A-Za-z0-9][\w'+#.-]*")


def words(text: str) -> int:
    """Words as a reader counts them: Markdown markup and separators are not words."""
    return len(_WORD.findall(text))


class LengthJudge:
    name, version = "length", "1"
    # closeness to the original's length: neither a dropped section nor padding
    primary, higher_is_better = "length_change", False

    def score(self, result, expect):
        tailored = words(result.get("tailored_resume") or "")
        pages = tailored / WORDS_PER_PAGE
        over = pages > MAX_PAGES
        out = [Score("length_words", float(tailored), self.name, self.version),
               Score("length_pages", round(pages, 2), self.name, self.version),
               Score("length_over_two_pages", 1.0 if over else 0.0, self.name, self.version,
                     f"{tailored} words ~ {pages:.1f} pages" if over else "")]
        original = source_resume(result)
        if original:
            before = words(as_markdown(original))
            ratio = tailored / before if before else 0.0
            out += [Score("length_ratio", round(ratio, 3), self.name, self.version, f"{before} -> {tailored} words"),
                    Score("length_change", round(abs(ratio - 1), 3), self.name, self.version)]
        return out
