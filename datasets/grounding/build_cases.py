"""Build the grounding acceptance set: tailored resumes, good and bad, from four fictional originals.

    python datasets/grounding/build_cases.py

Deterministic: the same originals give byte-identical files (no randomness, no timestamps). Each case
is one edit (or a few) an optimiser could make to an original in `originals/`, written to
`tailored/<id>.json` or `.md`, and one line of `cases.jsonl`:
{"id", "original", "tailored", "passed", "kinds", "approved_skills", "note"}; paths are relative
to this folder, `kinds` are the violation kinds of optimiser/tools/grounding.py the case must raise
(at least these; [] for a good case).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORIGINALS = {"cc": "career-changer.resume.json", "ng": "new-grad.resume.json",
             "se": "senior-engineer.resume.json", "jd": "john-doe.cv.md"}
CASES: list[dict] = []


def case(cid: str, kinds: list[str], note: str, approved: list[str] | None = None):
    """Register an edit of original `cid[:2]`: a function dict -> None (JSON) or str -> str (Markdown)."""
    def register(edit: Callable) -> Callable:
        CASES.append({"id": cid, "kinds": kinds, "note": note, "approved": approved or [], "edit": edit})
        return edit
    return register


# --- good tailorings: same facts, other order, words or emphasis ----------------------------------

@case("cc-good-reorder", [], "work, skills and highlights reordered")
def _(d):
    d["work"].reverse()
    d["skills"].reverse()
    for w in d["work"]:
        w["highlights"].reverse()


@case("cc-good-summary", [], "summary rewritten from existing facts (eight years, SQL, Python, Tableau)")
def _(d):
    d["basics"]["summary"] = ("Data analyst with SQL, Python and Tableau, after eight years running "
                              "high-volume restaurants; grew annual revenue 28% as a General Manager.")


@case("cc-good-approved-skill", [], "adds Power BI, which the user approved", approved=["Power BI"])
def _(d):
    d["skills"][1]["keywords"].append("Power BI")


@case("cc-good-drop-highlight", [], "one highlight left out; every section and entry kept")
def _(d):
    del d["work"][1]["highlights"][2]


@case("ng-good-reorder", [], "skills keywords and projects reordered")
def _(d):
    for group in d["skills"]:
        group["keywords"].reverse()
    d["projects"].reverse()


@case("ng-good-emphasise", [], "summary emphasises Python, TypeScript and React the resume already shows")
def _(d):
    d["basics"]["summary"] = ("Computer science graduate who builds production web services in Python, "
                              "TypeScript and React; two summer internships and a capstone project "
                              "deployed for 400+ campus users.")


@case("ng-good-rephrase", [], "highlights rephrased with the same facts and numbers")
def _(d):
    d["work"][0]["highlights"][1] = "Parallelized integration fixtures, cutting local test-suite runtime by 35%"
    d["work"][0]["highlights"][0] = ("Built a React and TypeScript service-health dashboard that three "
                                     "on-call teams adopted")


@case("se-good-summary", [], "summary rewritten from existing facts (14 years, employers, skills)")
def _(d):
    d["basics"]["summary"] = ("Staff engineer with 14 years on distributed storage and streaming systems at "
                              "Confluent, Dropbox and Rackspace. Go, Rust and Kafka; consensus protocols and "
                              "multi-region replication.")


@case("se-good-label-held-title", [], "headline set to a position she held")
def _(d):
    d["basics"]["label"] = "Staff Software Engineer"


@case("se-good-metric-moved", [], "a metric from a highlight restated in the summary")
def _(d):
    d["basics"]["summary"] += " Offloaded 80% of broker disk usage to object stores with tiered storage."


@case("se-good-reorder-rephrase", [], "work reordered oldest first, one highlight rephrased")
def _(d):
    d["work"].reverse()
    d["work"][2]["highlights"][2] = "Reworked the replication fetch path, cutting p99 produce latency 40%"


@case("jd-good-reorder", [], "Markdown: skill lines and highlights reordered")
def _(md):
    md = md.replace("- **Tools**: Git, Docker, Jenkins\n", "").replace(
        "- **Programming Languages**", "- **Tools**: Git, Docker, Jenkins\n- **Programming Languages**")
    return md.replace("- Ensured code quality through rigorous testing and code reviews.\n"
                      "- Automated deployment processes using Docker and Jenkins.\n",
                      "- Automated deployment processes using Docker and Jenkins.\n"
                      "- Ensured code quality through rigorous testing and code reviews.\n")


@case("jd-good-summary", [], "Markdown: summary rewritten from existing facts, incl. the 50% achievement")
def _(md):
    return md.replace("Experienced Software Engineer with a strong background in Python, JavaScript, and RESTful APIs.",
                      "Senior Software Engineer building RESTful APIs in Python and JavaScript with Django "
                      "and React; implemented a CI/CD pipeline that reduced deployment times by 50%.")


@case("jd-good-emphasise", [], "Markdown: Docker and Jenkins emphasised in a rephrased bullet")
def _(md):
    return md.replace("- Automated deployment processes using Docker and Jenkins.",
                      "- Automated deployments end to end with Docker and Jenkins.")


# --- fabrications, several per kind --------------------------------------------------------------

@case("cc-bad-employer", ["employer"], "an invented employer added to work")
def _(d):
    d["work"].insert(1, {"name": "Starbucks", "position": "Data Analyst", "startDate": "2024-08-01",
                         "highlights": ["Built SQL dashboards for store operations"]})


@case("ng-bad-employer", ["employer"], "internship employer renamed to a famous one")
def _(d):
    d["work"][0]["name"] = "Google"


@case("se-bad-employer", ["employer"], "an invented earlier employer")
def _(d):
    d["work"].append({"name": "Netflix", "position": "Software Engineer", "startDate": "2011-08-01",
                      "endDate": "2015-05-01", "highlights": ["Built replication tooling in Java"]})


@case("jd-bad-employer", ["employer"], "Markdown: current employer replaced")
def _(md):
    return md.replace("**Tech Innovations Inc., San Francisco, CA**", "**Stripe, San Francisco, CA**")


@case("cc-bad-title", ["title"], "General Manager inflated to Director of Operations")
def _(d):
    d["work"][1]["position"] = "Director of Operations"


@case("ng-bad-title", ["title"], "headline claims a senior title never held")
def _(d):
    d["basics"]["label"] = "Senior Software Engineer"


@case("se-bad-title", ["title"], "Dropbox position inflated to Principal Engineer")
def _(d):
    d["work"][1]["position"] = "Principal Engineer"


@case("jd-bad-title", ["title"], "Markdown: Software Engineer becomes Lead Software Engineer")
def _(md):
    return md.replace("### Software Engineer\n", "### Lead Software Engineer\n")


@case("cc-bad-date", ["date"], "General Manager start moved a year earlier")
def _(d):
    d["work"][1]["startDate"] = "2017-03-01"


@case("ng-bad-date", ["date"], "internship stretched to December")
def _(d):
    d["work"][0]["endDate"] = "2024-12-01"


@case("se-bad-date", ["date"], "a start year in the summary the resume never states")
def _(d):
    d["basics"]["summary"] += " Building storage systems since 2004."


@case("jd-bad-date", ["date"], "Markdown: earlier role moved back a year")
def _(md):
    return md.replace("*June 2017 - December 2019*", "*June 2016 - December 2019*")


@case("cc-bad-degree", ["degree"], "associate degree upgraded to a bachelor's")
def _(d):
    d["education"][0]["studyType"] = "Bachelor of Science"


@case("ng-bad-degree", ["degree"], "a master's claimed in the summary")
def _(d):
    d["basics"]["summary"] += " Currently completing an MSc in Machine Learning."


@case("se-bad-degree", ["degree"], "an invented MBA entry")
def _(d):
    d["education"].append({"institution": "Stanford University", "studyType": "MBA", "area": "Business"})


@case("jd-bad-degree", ["degree"], "Markdown: Bachelor of Science becomes Master of Science")
def _(md):
    return md.replace("**Bachelor of Science in Computer Science**", "**Master of Science in Computer Science**")


@case("cc-bad-metric", ["number"], "revenue growth inflated from 28% to 45%")
def _(d):
    d["work"][1]["highlights"][0] = d["work"][1]["highlights"][0].replace("28%", "45%")


@case("ng-bad-metric", ["number"], "400+ campus users become 4,000+")
def _(d):
    d["basics"]["summary"] = d["basics"]["summary"].replace("400+", "4,000+")


@case("se-bad-metric", ["number"], "an invented cost saving added to a highlight")
def _(d):
    d["work"][1]["highlights"].append("Saved $2M per year in storage spend")


@case("jd-bad-metric", ["number"], "Markdown: 30% performance gain becomes 60%")
def _(md):
    return md.replace("a 30% increase in performance", "a 60% increase in performance")


@case("cc-bad-certificate", ["certificate"], "an invented certificate entry")
def _(d):
    d["certificates"].append({"name": "Microsoft Certified: Power BI Data Analyst Associate",
                              "date": "2025-02-01", "issuer": "Microsoft"})


@case("ng-bad-certificate", ["certificate"], "an AWS certification claimed in the summary")
def _(d):
    d["basics"]["summary"] += " AWS Certified Cloud Practitioner."


@case("se-bad-certificate", ["certificate"], "CKA claimed in the summary")
def _(d):
    d["basics"]["summary"] += " Holds the CKA."


@case("jd-bad-certificate", ["certificate"], "Markdown: an invented PMP certification among achievements")
def _(md):
    return md.replace("## Key Achievements\n", "## Key Achievements\n- Earned the PMP certification.\n")


@case("cc-bad-skill", ["skill"], "Spark added to a highlight; the resume never shows it")
def _(d):
    d["work"][0]["highlights"].append("Processed point-of-sale data with Spark")


@case("ng-bad-skill", ["skill"], "Kubernetes added to the skills section")
def _(d):
    d["skills"][2]["keywords"].append("Kubernetes")


@case("se-bad-skill", ["skill"], "Scala added; Kafka is approved but Scala is not", approved=["Kafka"])
def _(d):
    d["skills"][1]["keywords"].append("Scala")


@case("jd-bad-skill", ["skill"], "Markdown: Kubernetes added to the tools line")
def _(md):
    return md.replace("- **Tools**: Git, Docker, Jenkins", "- **Tools**: Git, Docker, Jenkins, Kubernetes")


@case("cc-bad-name", ["person"], "first name changed")
def _(d):
    d["basics"]["name"] = "Dan Reyes"


@case("ng-bad-name", ["person"], "surname changed")
def _(d):
    d["basics"]["name"] = "Maya Okonkwo-Smith"


@case("se-bad-name", ["person"], "a different person's name")
def _(d):
    d["basics"]["name"] = "Dr. Elena Vasquez"


@case("jd-bad-name", ["person"], "Markdown: name heading changed")
def _(md):
    return md.replace("# John Doe\n", "# Jonathan Doe\n", 1)


@case("cc-bad-dropped-volunteer", ["section_dropped"], "volunteer section removed")
def _(d):
    d["volunteer"] = []


@case("cc-bad-dropped-role", ["section_dropped"], "the oldest role (Café Lumen) removed")
def _(d):
    del d["work"][2]


@case("ng-bad-dropped-projects", ["section_dropped"], "projects section removed")
def _(d):
    del d["projects"]


@case("se-bad-dropped-certificates", ["section_dropped"], "certificates section removed")
def _(d):
    del d["certificates"]


@case("se-bad-dropped-publications", ["section_dropped"], "publications section emptied")
def _(d):
    d["publications"] = []


@case("jd-bad-dropped-education", ["section_dropped"], "Markdown: education section removed")
def _(md):
    start = md.index("## Education")
    return md[:start] + md[md.index("## Key Achievements"):]


# --- several at once, as the local model tends to write them (FACTS.md) ---------------------------

@case("jd-bad-llm-rewrite", ["title", "date"],
      "Markdown: 'Senior Software Engineer, June 2017' rewritten as 'Senior Backend Engineer, January 2019'")
def _(md):
    return md.replace("### Software Engineer\n", "### Senior Backend Engineer\n").replace(
        "*June 2017 - December 2019*", "*January 2019 - December 2023*")


@case("ng-bad-padded", ["employer", "number", "skill"], "an invented internship with a metric and a new skill")
def _(d):
    d["work"].insert(0, {"name": "Meta", "position": "Software Engineering Intern", "startDate": "2024-06-01",
                         "endDate": "2024-09-01", "highlights": ["Scaled a GraphQL API to 2 million requests per day"]})


def build() -> list[dict]:
    (HERE / "tailored").mkdir(exist_ok=True)
    rows = []
    for c in CASES:
        original = ORIGINALS[c["id"][:2]]
        source = (HERE / "originals" / original).read_text(encoding="utf-8")
        if original.endswith(".json"):
            data = copy.deepcopy(json.loads(source))
            c["edit"](data)
            name, text = f"{c['id']}.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            name, text = f"{c['id']}.md", c["edit"](source)
        assert text != source, c["id"]
        (HERE / "tailored" / name).write_text(text, encoding="utf-8")
        rows.append({"id": c["id"], "original": f"originals/{original}", "tailored": f"tailored/{name}",
                     "passed": not c["kinds"], "kinds": c["kinds"], "approved_skills": c["approved"],
                     "note": c["note"]})
    with open(HERE / "cases.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return rows


if __name__ == "__main__":
    print(f"{len(build())} cases written to {HERE / 'cases.jsonl'}")
