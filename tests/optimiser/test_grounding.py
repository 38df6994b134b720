import pytest

from optimiser.resume import Certificate, Education, Work
from optimiser.tools.grounding import check_grounding, numbers_in


def _kinds(original, tailored, **kw) -> list[tuple[str, str]]:
    return [(v.kind, v.text) for v in check_grounding(original, tailored, **kw).violations]


def test_untouched_original_passes(example_resume):
    report = check_grounding(example_resume, example_resume)
    assert report.passed and report.violations == []


def test_reordered_original_passes(example_resume):
    tailored = example_resume.model_copy(deep=True)
    tailored.work.reverse()
    tailored.education.reverse()
    tailored.skills.reverse()
    for entry in tailored.work:
        entry.highlights.reverse()
    for group in tailored.skills:
        group.keywords.reverse()
    assert check_grounding(example_resume, tailored).passed


def test_invented_employer(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work.append(Work(name="Google", position="Software Engineer", startDate="2017-06"))
    assert ("employer", "Google") in _kinds(john_doe, tailored)


def test_changed_title(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[0].position = "Principal Engineer"
    assert _kinds(john_doe, tailored) == [("title", "Principal Engineer at Tech Innovations Inc.")]


def test_headline_claiming_a_title_never_held(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.label = "Senior Backend Engineer"
    assert _kinds(john_doe, tailored) == [("title", "Senior Backend Engineer")]
    tailored.basics.label = "Senior Software Engineer"  # a position the original holds
    assert check_grounding(john_doe, tailored).passed


def test_shifted_date(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[1].startDate = "2019-01"  # June 2017 -> January 2019
    assert _kinds(john_doe, tailored) == [("date", "2019-01 – 2019-12")]


def test_shifted_date_in_text(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[1].summary = "Joined in January 2019."
    assert _kinds(john_doe, tailored) == [("date", "January 2019")]
    tailored.work[1].summary = "Joined in June 2017."
    assert check_grounding(john_doe, tailored).passed


def test_still_there_claim_is_a_date_violation(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[1].endDate = None  # "2017 - Present"
    assert _kinds(john_doe, tailored) == [("date", "2017-06 – Present")]


def test_invented_metric(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[0].highlights[0] += " Cut page load time by 40%."
    assert _kinds(john_doe, tailored) == [("number", "40%")]


def test_metric_from_the_original_passes(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.summary += " Cut deployment times by 50%."  # stated under Key Achievements
    assert check_grounding(john_doe, tailored).passed


@pytest.mark.parametrize(("original", "claimed", "ok"), [
    ("served 50,000 users", "served 50000 users", True),
    ("served 50K users", "served 50k users", True),
    ("served 50K users", "served 50,000 users", False),
    ("a $2M budget", "a $3M budget", False),
    ("a six-engineer group", "a team of 6 engineers", True),
    ("a team of engineers", "a team of five engineers", False),
    ("a team of engineers", "a team of 3 engineers", False),
    ("grew revenue 28%", "grew revenue 28 percent", True),
])
def test_number_normalisation(john_doe, original, claimed, ok):
    source = john_doe.model_copy(deep=True)
    source.work[0].summary = original
    tailored = source.model_copy(deep=True)
    tailored.work[0].summary = claimed
    assert check_grounding(source, tailored).passed is ok


def test_numbers_in_skips_dates_and_identifiers():
    assert [k for k, _ in numbers_in("In June 2017 (2017-06-01) we ran k8s on EC2 at p99 3.9/4.0")] == ["3.9", "4"]


def test_invented_degree(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.education[0].studyType = "Master of Science"
    assert [k for k, _ in _kinds(john_doe, tailored)] == ["degree"]
    tailored.education.append(Education(institution="Stanford University", studyType="MBA"))
    assert ("degree", "MBA at Stanford University") in _kinds(john_doe, tailored)


def test_new_skill_unless_approved(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[0].highlights.append("Built event pipelines on Kafka")
    assert _kinds(john_doe, tailored) == [("skill", "Kafka")]
    assert check_grounding(john_doe, tailored, approved_skills=["Apache Kafka"]).passed


def test_skill_named_differently_is_not_new(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.summary += " Comfortable with Postgres."  # original lists PostgreSQL
    assert check_grounding(john_doe, tailored).passed


def test_renamed_person(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.name = "Jonathan Doe"
    assert _kinds(john_doe, tailored) == [("person", "Jonathan Doe")]


def test_dropped_work_entry(john_doe):
    tailored = john_doe.model_copy(deep=True)
    del tailored.work[1]
    assert _kinds(john_doe, tailored) == [("section_dropped", "Software Engineer at Innovative Solutions LLC")]


def test_dropped_education(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.education = []
    assert [k for k, _ in _kinds(john_doe, tailored)] == ["section_dropped"]


def test_invented_certificate(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.certificates.append(Certificate(name="CKA: Certified Kubernetes Administrator"))
    kinds = [k for k, _ in _kinds(john_doe, tailored)]
    assert "certificate" in kinds and "skill" in kinds  # Kubernetes is new as well


def test_violations_say_where(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.work[0].highlights[2] = "Led 12 engineers"
    [violation] = check_grounding(john_doe, tailored).violations
    assert violation.where == "work[0].highlights[2]"


def test_degree_claimed_in_text(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.summary += " Holds an MSc in Computer Science."
    assert _kinds(john_doe, tailored) == [("degree", "MSc")]
    tailored.basics.summary = john_doe.basics.summary + " Holds a B.S. in Computer Science."  # stated
    assert check_grounding(john_doe, tailored).passed


def test_certificate_claimed_in_text(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.summary += " PMP and AWS Certified Developer."
    assert sorted(_kinds(john_doe, tailored)) == [("certificate", "AWS Certified Developer"), ("certificate", "PMP"),
                                                  ("skill", "AWS")]  # AWS itself is new too


@pytest.mark.parametrize("section", ["skills", "awards"])
def test_dropped_whole_section(john_doe, section):
    tailored = john_doe.model_copy(deep=True)
    setattr(tailored, section, [])
    assert _kinds(john_doe, tailored) == [("section_dropped", section)]


def test_dropped_summary(john_doe):
    tailored = john_doe.model_copy(deep=True)
    tailored.basics.summary = None
    assert _kinds(john_doe, tailored) == [("section_dropped", "summary")]
