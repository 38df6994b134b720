"""Writes long-career.resume.md: a fictional senior resume with 24 roles (~1,500 words, three times the others), the "very long
resume" edge case. Deterministic: run it again and the file is the same.

    python datasets/golden/files/build_long.py
"""

from pathlib import Path

EMPLOYERS = ["Harbour Analytics", "Fernleaf Software", "Quarry Data", "Blue Heron Systems", "Millbrook Labs",
             "Northwind Logistics", "Cobalt Ridge", "Saltmarsh Networks", "Oakfield Health Tech", "Tidewater Retail"]
TITLES = ["Software Engineer", "Senior Software Engineer", "Backend Engineer", "Platform Engineer",
          "Technical Lead", "Staff Engineer"]
SKILLS = ["Python", "Java", "Go", "PostgreSQL", "Kafka", "Docker", "Kubernetes", "Terraform", "Redis", "gRPC",
          "Django", "FastAPI", "Spark", "Airflow", "Linux", "Git"]
DUTIES = ["Designed and ran {a} services backed by {b} for internal teams.",
          "Moved the team's deployments to {a} and wrote the runbooks for on-call engineers.",
          "Reviewed code, mentored two engineers and kept the {a} test suite reliable.",
          "Replaced a nightly batch job with a {a} pipeline feeding {b}.",
          "Profiled slow {b} queries and added indexes and caching with {a}.",
          "Wrote the team's guide to {a} and ran workshops for new starters."]


def build() -> str:
    lines = ["# Morgan Ellery", "", "## Summary",
             "Backend engineer with a long career across logistics, health and retail software, "
             "most of it in Python and PostgreSQL.", "", "## Skills", "- " + ", ".join(SKILLS), "",
             "## Work History", ""]
    year = 2025
    for i in range(24):
        start = year - 1
        employer, title = EMPLOYERS[i % len(EMPLOYERS)], TITLES[(len(TITLES) - 1 - i) % len(TITLES)]
        lines += [f"### {title}", f"**{employer}, Bristol**",
                  f"*{'January' if i % 2 else 'July'} {start} - {'Present' if i == 0 else ('June' if i % 2 else 'December') + f' {year}'}*"]
        for k in range(4):
            a, b = SKILLS[(i + k) % len(SKILLS)], SKILLS[(i * 3 + k + 5) % len(SKILLS)]
            lines.append("- " + DUTIES[(i + k) % len(DUTIES)].format(a=a, b=b))
        lines.append("")
        year = start
    lines += ["## Education", "BSc Computer Science, University of Bristol, 2000", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    out = Path(__file__).with_name("long-career.resume.md")
    out.write_text(build(), encoding="utf-8")
    print(f"{out}: {len(out.read_text().split())} words")
