import json
from pathlib import Path

import pytest

from optimiser.parsing import JobParseError, ResumeParseError, parse_job, parse_resume, sniff_format
from optimiser.resume import Resume

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def test_markdown_cv_gives_structured_resume(john_doe):
    basics = john_doe.basics
    assert basics.name == "John Doe"
    assert basics.email == "john.doe@example.com"
    assert basics.phone == "(123) 456-7890"
    assert [p.network for p in basics.profiles] == ["LinkedIn"]
    assert basics.summary.startswith("Experienced Software Engineer")
    assert john_doe.skills[0].model_dump(exclude_none=True) == {
        "name": "Programming Languages", "keywords": ["Python", "JavaScript"]}


def test_markdown_cv_work_entries(john_doe):
    senior, junior = john_doe.work
    assert (senior.position, senior.name, senior.location) == (
        "Senior Software Engineer", "Tech Innovations Inc.", "San Francisco, CA")
    assert (senior.startDate, senior.endDate) == ("2020-01", None)  # "Present"
    assert (junior.startDate, junior.endDate) == ("2017-06", "2019-12")
    assert junior.highlights[-1] == "Mentored junior developers and conducted code reviews."
    assert len(senior.highlights) == 4


def test_markdown_cv_education_and_achievements_are_kept(john_doe):
    degree = john_doe.education[0]
    assert (degree.studyType, degree.area) == ("Bachelor of Science", "Computer Science")
    assert degree.institution == "University of California, Berkeley"
    assert degree.endDate == "2017-05"
    assert any("30% increase in performance" in a.title for a in john_doe.awards)


@pytest.mark.parametrize("name", ["career-changer", "new-grad", "senior-engineer", "sample"])
def test_json_resume_round_trips_without_loss(name):
    text = (DATASETS / "resumes" / f"{name}.resume.json").read_text(encoding="utf-8")
    assert parse_resume(text).model_dump(exclude_none=True) == json.loads(text)
    assert parse_resume(text, "json") == Resume.model_validate(json.loads(text))


@pytest.mark.parametrize(("text", "code"), [
    ('{"basics": {"name": "A"', "invalid_json"),
    ("[1, 2]", "invalid_resume"),
    ('{"work": "not a list"}', "invalid_resume"),
    ('{"basics": {"name": 42}}', "invalid_resume"),
    ("{}", "empty_resume"),
    ("   \n ", "empty_resume"),
])
def test_bad_resume_input_has_stable_error_code(text, code):
    with pytest.raises(ResumeParseError) as err:
        parse_resume(text)
    assert err.value.code == code


def test_unknown_format_is_refused():
    with pytest.raises(ResumeParseError) as err:
        parse_resume("# Jane", "docx")
    assert err.value.code == "unsupported_format"


def test_sniffing():
    assert sniff_format('  {"basics": {}}') == "json"
    assert sniff_format("# Jane Doe\n## Skills") == "markdown"
    assert sniff_format("JANE DOE\nEXPERIENCE\nEngineer at Acme (2019-2021)") == "text"


PLAIN_CV = """JANE SMITH
Backend Engineer
jane@example.com | +1 555 0100 | github.com/janesmith | Austin, TX

SUMMARY
Backend engineer with 6 years of Python and Go,
building APIs for fintech.

EXPERIENCE
Senior Engineer at Acme Corp (2019-2021)
• Cut API latency by 40% with Redis caching
Software Engineer
Beta LLC
Jan 2016 - Dec 2018
• Built billing in Django

EDUCATION
BSc Computer Science, State University, 2016

SKILLS
Python, Go, PostgreSQL

Side Quests
Ran a chess club for 3 years
"""


def test_plain_text_cv_headings_and_entries():
    resume = parse_resume(PLAIN_CV)
    assert (resume.basics.name, resume.basics.label) == ("JANE SMITH", "Backend Engineer")
    assert resume.basics.summary.startswith("Backend engineer with 6 years of Python and Go, building APIs")
    first, second = resume.work
    assert (first.position, first.name, first.startDate, first.endDate) == ("Senior Engineer", "Acme Corp", "2019", "2021")
    assert first.highlights == ["Cut API latency by 40% with Redis caching"]
    assert (second.position, second.name, second.startDate, second.endDate) == (
        "Software Engineer", "Beta LLC", "2016-01", "2018-12")
    edu = resume.education[0]
    assert (edu.studyType, edu.area, edu.institution, edu.endDate) == ("BSc", "Computer Science", "State University", "2016")
    assert [s.name for s in resume.skills] == ["Python", "Go", "PostgreSQL"]


def test_unrecognised_section_is_kept_not_dropped():
    resume = parse_resume(PLAIN_CV)
    assert "Side Quests:\nRan a chess club for 3 years" in resume.basics.summary


def test_unparseable_experience_is_kept_as_raw_text():
    resume = parse_resume("# Ann Lee\n\n## Experience\n\nI did a lot of consulting for small firms.\n")
    assert resume.work[0].summary == "I did a lot of consulting for small firms."


def test_one_liner_roles_in_markdown():
    resume = parse_resume("# Ann Lee\n\n## Work History\n- Data Analyst at Shopify (2019–2021)\n- Intern at IBM (2018)\n")
    assert [(w.position, w.name, w.startDate, w.endDate) for w in resume.work] == [
        ("Data Analyst", "Shopify", "2019", "2021"), ("Intern", "IBM", "2018", None)]


def test_all_text_has_prose_but_not_contact_details(john_doe):
    text = john_doe.all_text()
    assert "Automated deployment processes using Docker and Jenkins." in text
    assert "john.doe@example.com" not in text and "2017-06" not in text


@pytest.mark.parametrize(("name", "title"), [
    ("backend-eng", "Senior Backend Engineer"), ("frontend-eng", "Senior Frontend Engineer"),
    ("ml-eng", "Machine Learning Engineer"), ("product-manager", "Senior Product Manager"),
])
def test_job_title_is_sniffed_from_prose(name, title):
    job = parse_job((DATASETS / "jobs" / f"{name}.txt").read_text(encoding="utf-8"))
    assert job.title == title
    assert job.description.startswith("We are")


def test_job_title_from_first_line_or_label():
    assert parse_job("Staff Data Engineer\n\nWe build pipelines.").title == "Staff Data Engineer"
    job = parse_job("Job Title: Site Reliability Engineer\nCompany: Acme\nYou will run Kubernetes.")
    assert (job.title, job.company) == ("Site Reliability Engineer", "Acme")


def test_json_job_schema():
    job = parse_job(json.dumps({
        "title": "Web Developer", "company": "Microsoft", "description": "Build web apps.",
        "qualifications": ["3+ years of experience in web development"],
        "skills": [{"name": "Web Development", "keywords": ["HTML", "React"]}, {"name": "Docker"}],
    }))
    assert (job.title, job.company) == ("Web Developer", "Microsoft")
    assert job.skills == ["HTML", "React", "Docker"]
    assert "Requirements:\n- 3+ years of experience in web development" in job.description


@pytest.mark.parametrize(("text", "code"), [("", "empty_job"), ("{oops", "invalid_json"), ('"text"', "invalid_job")])
def test_bad_job_input_has_stable_error_code(text, code):
    with pytest.raises(JobParseError) as err:
        parse_job(text, "json" if text.startswith('"') else None)
    assert err.value.code == code
    assert isinstance(err.value, ResumeParseError)  # the API's one input-error handler catches it
