"""The `safety` judge: optimiser/tools/safety.py's check of a result's tailored resume against the source,
as scores with kinds and categories only (the leaked values are contact data and never go into a score)."""

from __future__ import annotations

from evaluator.judges import Score
from evaluator.results import source_resume
from optimiser.tools.safety import SafetyReport, check_output, toxic_terms

__all__ = ["SafetyJudge", "SafetyReport", "check_output", "toxic_terms"]


class SafetyJudge:
    name, version = "safety", "1"
    primary, higher_is_better = "safety_passed", True

    def score(self, result, expect):
        original, output = source_resume(result), result.get("tailored_resume") or ""
        toxic = toxic_terms(output)
        out = [Score("safety_toxic_terms", float(len(toxic)), self.name, self.version,
                     ", ".join(sorted({h.category for h in toxic})))]
        if original is None:  # without the source every contact detail would look leaked: no verdict
            return out
        report = check_output(original, output)
        return [*out, Score("safety_contact_leaks", float(len(report.leaks)), self.name, self.version,
                            ", ".join(report.kinds())),
                Score("safety_passed", 1.0 if report.passed else 0.0, self.name, self.version)]
