"""`resumeopt check-grounding`, `resumeopt ats check` and `resumeopt skills extract|eval`: the optimiser's
deterministic tools from a terminal. They run in this process, need no platform, model or store, and print
JSON with --json.

Exit codes of check-grounding: 0 grounded, 1 violations found; of ats check: 0 no error-level issue, 1 at
least one (the ATS may lose content); of both: 2 bad input (a file missing or not a resume), with
`{"error": {"code", "message"}}` on stderr; argparse's own usage errors are 2 as well.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_PASSED, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


class InputError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _read(path: str) -> str:
    try:
        # newline="": keep "\r\n" as written, so offsets index the file's own text
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError("file_not_found", f"No such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("unreadable_file", f"Cannot read {path}: {exc.__class__.__name__}") from None


def _load_resume(path: str):
    from optimiser.parsing import ResumeParseError, parse_resume

    try:
        return parse_resume(_read(path))
    except ResumeParseError as exc:
        raise InputError(exc.code, f"{path}: {exc.message}") from None


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def grounding_report(original: str, tailored: str, approved_skills: list[str] = ()) -> dict:
    """The report for two resume files, as check-grounding prints it; raises InputError."""
    from optimiser.tools.grounding import check_grounding

    report = check_grounding(_load_resume(original), _load_resume(tailored), approved_skills)
    return report.model_dump()


def cmd_check_grounding(args: argparse.Namespace) -> int:
    try:
        report = grounding_report(args.original, args.tailored, _split(args.approved_skills))
    except InputError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}}), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("grounded: every claim is in the original" if report["passed"] else
              f"NOT grounded: {len(report['violations'])} violation(s)")
        for v in report["violations"]:
            print(f"  {v['kind']:<16} {v['text']}  ({v['where']})")
    return EXIT_PASSED if report["passed"] else EXIT_VIOLATIONS


def ats_check(path: str) -> dict:
    """The ATS report of a resume file (PDF, DOCX, Markdown, text, JSON Resume), read as an upload is."""
    from optimiser.parsing import ResumeParseError, parse_resume
    from optimiser.settings import OptimiserSettings
    from optimiser.tools.ats import ats_report
    from optimiser.uploads import resume_text

    settings = OptimiserSettings()
    try:
        with open(path, "rb") as fh:
            data = fh.read(settings.max_upload_bytes + 1)
    except FileNotFoundError:
        raise InputError("file_not_found", f"No such file: {path}") from None
    except OSError as exc:
        raise InputError("unreadable_file", f"Cannot read {path}: {exc.__class__.__name__}") from None
    try:
        text = resume_text(data, settings, filename=path)
        return ats_report(parse_resume(text.text, text.fmt), text.source()).model_dump()
    except ResumeParseError as exc:
        raise InputError(exc.code, f"{path}: {exc.message}") from None


def cmd_ats_check(args: argparse.Namespace) -> int:
    try:
        report = ats_check(args.file)
    except InputError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}}), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        passed = sum(report["checks"].values())
        print(f"ATS score {report['score']}/100, {passed} of {len(report['checks'])} checks passed")
        for i in report["issues"]:
            print(f"  {i['severity']:<8} {i['code']:<20} {i['message']}")
    return EXIT_VIOLATIONS if any(i["severity"] == "error" for i in report["issues"]) else EXIT_PASSED


def skills_report(text: str) -> dict:
    from optimiser.tools.skills import extract_skills

    return {"skills": [m.model_dump(include={"text", "start", "end", "kind", "canonical"})
                       for m in extract_skills(text)]}


def cmd_skills_extract(args: argparse.Namespace) -> int:
    try:
        report = skills_report(_read(args.text_file))
    except InputError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}}), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for s in report["skills"]:
            print(f"{s['start']:>6}-{s['end']:<6} {s['kind']:<5} {s['text']}"
                  + (f"  -> {s['canonical']}" if s["canonical"] != s["text"] else ""))
    return 0


def cmd_skills_eval(args: argparse.Namespace) -> int:
    from evaluator.skill_f1 import run

    return run(args.data, args.entity, args.column)


def add_parsers(sub) -> None:
    cg = sub.add_parser("check-grounding", help="check a tailored resume against its original (exit 1 if not grounded)",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cg.add_argument("--original", required=True, help="the original resume: JSON Resume, Markdown or text")
    cg.add_argument("--tailored", required=True, help="the tailored resume, any of the same formats")
    cg.add_argument("--approved-skills", action="append", default=[], metavar="A,B",
                    help="skills the user approved adding (comma-separated, repeatable)")
    cg.add_argument("--json", action="store_true", help='print {"passed", "violations": [{"kind", "text", "where"}]}')
    cg.set_defaults(func=cmd_check_grounding)

    ats = sub.add_parser("ats", help="ATS checks").add_subparsers(required=True, metavar="SUBCOMMAND")
    ac = ats.add_parser("check", help="what an applicant tracking system may misread in a resume file (exit 1 on "
                        "an error-level issue)")
    ac.add_argument("--file", required=True, help="the resume: PDF, DOCX, Markdown, text or JSON Resume")
    ac.add_argument("--json", action="store_true", help='print {"score", "issues": [{"code", "severity", '
                    '"message"}], "checks": {code: passed}}')
    ac.set_defaults(func=cmd_ats_check)

    skills = sub.add_parser("skills", help="skill extraction").add_subparsers(required=True, metavar="SUBCOMMAND")
    ex = skills.add_parser("extract", help="find taxonomy skills in a text file, with character offsets")
    ex.add_argument("--text-file", required=True)
    ex.add_argument("--json", action="store_true", help='print {"skills": [{"text", "start", "end", "kind", "canonical"}]}')
    ex.set_defaults(func=cmd_skills_extract)
    ev = skills.add_parser("eval", help="span P/R/F1 of the extractor on a CoNLL BIO gold set (Green et al. 2022)")
    from evaluator.skill_f1 import add_arguments

    add_arguments(ev)
    ev.set_defaults(func=cmd_skills_eval)
