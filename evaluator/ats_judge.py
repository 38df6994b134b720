"""ATS judge: what the optimiser's own ATS checks said about the tailored resume's file.

Reads `result["ats"]["after"]` (optimiser/tools/ats.py's report on our DOCX rendering read back as an
upload: `score` 0-100, `issues` with a `severity`) and `ats.before` when present. A result without an
ATS report (an older optimiser, an offline result) gets no score: a missing check is not a passed one.
"""

from __future__ import annotations

from evaluator.judges import Score


class AtsJudge:
    name, version = "ats", "1"
    primary, higher_is_better = "ats_score", True

    def score(self, result, expect):
        ats = result.get("ats") or {}
        after = ats.get("after")
        if not isinstance(after, dict) or "score" not in after:
            return []
        issues = after.get("issues") or []
        codes = ", ".join(sorted({i.get("code", "?") for i in issues}))
        errors = sum(1 for i in issues if i.get("severity") == "error")
        out = [Score("ats_score", float(after["score"]), self.name, self.version, codes),
               Score("ats_issues", float(len(issues)), self.name, self.version),
               Score("ats_errors", float(errors), self.name, self.version)]
        before = ats.get("before")
        if isinstance(before, dict) and "score" in before:
            out.append(Score("ats_uplift", float(after["score"]) - float(before["score"]), self.name, self.version))
        return out
