"""Build the judge-calibration pairs: for a resume and a job, a better and a worse tailoring.

    python datasets/calibration/build_pairs.py

Deterministic: the same inputs give byte-identical files. For each (resume, job) combination, the
better tailoring is the optimiser's deterministic tailoring (optimiser/tools/tailoring.py) with a summary
written by this team from the resume's own facts and aimed at the job; each worse one is that tailoring
with one realistic failure (FAILURES). Files go to `tailored/<combo>-<kind>.json` (JSON Resume) and one
line per pair to `pairs.jsonl`: {"id", "resume", "job", "a", "b", "label", "failure", "reason"}, paths
relative to datasets/, `label` naming the better side. Which side is better alternates, so a judge that
always prefers the first (or the second) tailoring shows no agreement beyond chance.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent
sys.path.insert(0, str(DATASETS.parent))

from optimiser.parsing import parse_job, parse_resume  # noqa: E402
from optimiser.tools.skills import job_requirements  # noqa: E402
from optimiser.tools.tailoring import deterministic_tailor  # noqa: E402

# combo id -> resume, job, and three summaries from the resume's facts: aimed at the job (good), at the
# resume's least relevant strengths (irrelevant emphasis), and at another kind of job (off-job).
COMBOS: dict[str, dict] = {
    "se-backend": {
        "resume": "resumes/senior-engineer.resume.json", "job": "jobs/backend-eng.txt",
        "good": "Staff engineer with 14 years building large-scale distributed storage and streaming systems in "
                "Python, Go and Java, running Kafka, Kubernetes and Prometheus in production. Led multi-region "
                "replication at Confluent and cut p99 produce latency 40% by reworking the replication fetch path.",
        "irrelevant": "Staff engineer who authored the internal design-review rubric now used org-wide, mentors "
                      "senior engineers and has spoken about consensus protocols, erasure coding theory and "
                      "consistency models, with a long-standing interest in the history of storage research and in "
                      "how engineering organisations make technical decisions.",
        "off_job": "Engineering leader who now wants to leave systems work behind and move into people management, "
                   "running hiring, career ladders and team rituals for a large organisation, and spending "
                   "far less of the week in the codebase than before.",
    },
    "ng-frontend": {
        "resume": "resumes/new-grad.resume.json", "job": "jobs/frontend-eng.txt",
        "good": "Computer science graduate who builds web interfaces in React, TypeScript and Next.js. Built a "
                "service-health dashboard in React and TypeScript adopted by three on-call teams, and a capstone "
                "project deployed for 400+ campus users.",
        "irrelevant": "Computer science graduate focused on distributed systems research and NLP evaluation, with a "
                      "research internship evaluating retrieval-augmented question answering and an onboarding "
                      "runbook written for the next intern cohort.",
        "off_job": "Computer science graduate looking for a research role in natural language processing, keen "
                   "to evaluate retrieval-augmented question answering on benchmark datasets, to build reproducible "
                   "evaluation harnesses in Python and to publish with a university research group.",
    },
    "ng-ml": {
        "resume": "resumes/new-grad.resume.json", "job": "jobs/ml-eng.txt",
        "good": "Computer science graduate focused on machine learning. As a research intern at the Allen "
                "Institute for AI, implemented a reproducible evaluation harness in Python for three benchmark "
                "datasets and reduced experiment turnaround from hours to minutes.",
        "irrelevant": "Computer science graduate who builds React and TypeScript dashboards, wrote the onboarding "
                      "runbook used by the next intern cohort and cut local test-suite runtime by parallelizing "
                      "integration fixtures, and who enjoys polishing internal developer tooling for on-call teams.",
        "off_job": "Computer science graduate looking for a frontend role building React and TypeScript "
                   "interfaces, with a service-health dashboard adopted by three on-call teams and a passion for "
                   "polished user experience.",
    },
    "cc-pm": {
        "resume": "resumes/career-changer.resume.json", "job": "jobs/product-manager.txt",
        "good": "Data analyst and former General Manager with eight years running high-volume restaurants. Uses "
                "SQL, Python, Tableau and Looker Studio to turn sales data into decisions, and brings P&L "
                "management, vendor negotiation and team training to product decisions.",
        "irrelevant": "Hospitality professional skilled in scheduling, team training and vendor negotiation for busy "
                      "restaurants, who hired and retained a team of 35 across front and back of house and "
                      "trained baristas who were later promoted.",
        "off_job": "Analyst looking to return to restaurant operations as a general manager, running front and back "
                   "of house, scheduling shifts, training staff and negotiating with vendors to hold food cost "
                   "flat and growing revenue at a regional restaurant group.",
    },
    "jd-backend": {
        "resume": "resumes/john-doe.cv.md", "job": "jobs/backend-eng.txt",
        "good": "Senior Software Engineer with a strong background in Python, Django, Flask and RESTful APIs, "
                "working with PostgreSQL and MySQL and automating deployments with Docker and Jenkins.",
        "irrelevant": "Software engineer experienced in HTML and CSS and in Agile processes such as sprint "
                      "planning and daily stand-ups, who mentors junior developers and conducts code reviews "
                      "for full-stack teams.",
        "off_job": "Software engineer looking for a frontend role building React interfaces with HTML, CSS and "
                   "JavaScript for consumer products.",
    },
    "jd-frontend": {
        "resume": "resumes/john-doe.cv.md", "job": "jobs/frontend-eng.txt",
        "good": "Senior Software Engineer who builds web applications with JavaScript, React, HTML and CSS, "
                "ensuring code quality through rigorous testing and code reviews.",
        "irrelevant": "Backend-focused engineer experienced with MySQL, PostgreSQL, Jenkins pipelines and Docker "
                      "deployment automation.",
        "off_job": "Software engineer looking for a backend role building Django and Flask REST APIs on "
                   "PostgreSQL and MySQL, with deployments automated through Docker and Jenkins.",
    },
}

FAILURES = {
    "fabricated_metric": "the worse one changes or invents a number in a highlight",
    "irrelevant_emphasis": "the worse one leads with true but irrelevant strengths and buries the job's",
    "dropped_section": "the worse one drops the education section",
    "keyword_stuffing": "the worse one stuffs the job's keywords, including skills the resume lacks",
    "off_job_summary": "the worse one's summary aims at another kind of job",
    "untailored": "the worse one is the original, not tailored to the job at all",
}


def _text(rel: str) -> str:
    return (DATASETS / rel).read_text(encoding="utf-8")


def good_tailoring(combo: dict) -> tuple[dict, list[str]]:
    """The better tailoring as JSON Resume, and the job's requirement skills."""
    original, job = parse_resume(_text(combo["resume"])), parse_job(_text(combo["job"]))
    reqs = job_requirements(job)
    tailored = deterministic_tailor(original, reqs).resume
    tailored.basics.summary = combo["good"]
    return tailored.model_dump(exclude_none=True), [r.skill for r in reqs]


def fabricated_metric(d: dict, combo: dict, skills: list[str]) -> None:
    for work in d["work"]:
        for i, line in enumerate(work.get("highlights", [])):
            m = re.search(r"\d+", line)
            if m:
                n = int(m.group())  # a plausible inflation: 40% -> 50%, 3 teams -> 8, never past 99 of 100
                inflated = str(min(n + max(5, n // 4), 99) if n < 100 else n * 2)
                work["highlights"][i] = line[:m.start()] + inflated + line[m.end():]
                return
    first = d["work"][0]["highlights"]
    first[0] = first[0].rstrip(".") + ", cutting release time by 60%."


def irrelevant_emphasis(d: dict, combo: dict, skills: list[str]) -> None:
    d["basics"]["summary"] = combo["irrelevant"]
    d["skills"].reverse()
    for work in d["work"]:
        work.get("highlights", []).reverse()


def dropped_section(d: dict, combo: dict, skills: list[str]) -> None:
    d.pop("education", None)


def keyword_stuffing(d: dict, combo: dict, skills: list[str]) -> None:
    listed = ", ".join(skills)
    d["basics"]["summary"] = f"{combo['good']} Keywords: {listed}, {listed}."
    d["skills"].insert(0, {"name": "Keywords", "keywords": skills})


def off_job_summary(d: dict, combo: dict, skills: list[str]) -> None:
    d["basics"]["summary"] = combo["off_job"]


EDITS = {"fabricated_metric": fabricated_metric, "irrelevant_emphasis": irrelevant_emphasis,
         "dropped_section": dropped_section, "keyword_stuffing": keyword_stuffing,
         "off_job_summary": off_job_summary}


def _write(rel: str, data: dict) -> str:
    (DATASETS / rel).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return rel


def build() -> list[dict]:
    (HERE / "tailored").mkdir(exist_ok=True)
    pairs = []
    for c, (cid, combo) in enumerate(COMBOS.items()):
        good, skills = good_tailoring(combo)
        good_path = _write(f"calibration/tailored/{cid}-good.json", good)
        for k, (kind, reason) in enumerate(FAILURES.items()):
            if kind == "untailored":
                worse_path = combo["resume"]
            else:
                worse = json.loads(json.dumps(good))
                EDITS[kind](worse, combo, skills)
                worse_path = _write(f"calibration/tailored/{cid}-{kind}.json", worse)
            good_first = (c + k) % 2 == 0
            a, b = (good_path, worse_path) if good_first else (worse_path, good_path)
            pairs.append({"id": f"{cid}-{kind}", "resume": combo["resume"], "job": combo["job"], "a": a, "b": b,
                          "label": "a" if good_first else "b", "failure": kind, "reason": reason})
    return pairs


if __name__ == "__main__":
    rows = build()
    with open(HERE / "pairs.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    print(f"{len(rows)} pairs, {sum(r['label'] == 'a' for r in rows)} with the better tailoring as a")
