import pytest

from optimiser.parsing import parse_job
from optimiser.resume import Resume
from optimiser.tools.matching import match, most_recent_position, title_similarity
from optimiser.tools.skills import Requirement, job_requirements


def _resume(skills=(), summary=None, highlights=(), label=None, position="Engineer") -> Resume:
    return Resume.model_validate({
        "basics": {"name": "Ann Lee", "label": label, "summary": summary},
        "skills": [{"name": "Tools", "keywords": list(skills)}],
        "work": [{"name": "Acme", "position": position, "startDate": "2020", "highlights": list(highlights)}],
    })


KAFKA = [Requirement(skill="Kafka", kind="hard", must_have=True)]


def test_skill_in_skills_section_or_summary_counts_fully():
    assert match(_resume(skills=["Kafka"]), KAFKA).score == 100.0
    assert match(_resume(summary="Streaming engineer (Apache Kafka)."), KAFKA).score == 100.0


def test_skill_only_in_experience_counts_sixty_percent():
    report = match(_resume(highlights=["Ran Kafka clusters"]), KAFKA)
    assert report.score == 60.0
    assert report.experience_only == ["Kafka"] and report.matched == ["Kafka"]


def test_absent_skill_counts_zero_and_is_missing():
    report = match(_resume(skills=["Redis"]), KAFKA)
    assert (report.score, report.missing, report.matched) == (0.0, ["Kafka"], [])


def test_must_have_weighs_twice():
    reqs = [Requirement(skill="Kafka", kind="hard", must_have=True),
            Requirement(skill="Redis", kind="hard", must_have=False)]
    assert match(_resume(skills=["Kafka"]), reqs).breakdown["hard"] == 66.7
    assert match(_resume(skills=["Redis"]), reqs).breakdown["hard"] == 33.3


def test_parts_without_requirements_are_left_out_of_the_score():
    report = match(_resume(skills=["Kafka"]), KAFKA)
    assert report.weights == {"hard": 1.0, "soft": 0.0, "title": 0.0, "education": 0.0, "keywords": 0.0}
    reqs = KAFKA + [Requirement(skill="Mentoring", kind="soft", must_have=False)]
    report = match(_resume(skills=["Kafka"]), reqs, job_title="Engineer")
    assert report.weights == {"hard": 0.65, "soft": 0.15, "title": 0.2, "education": 0.0, "keywords": 0.0}
    assert report.score == pytest.approx(0.65 * 100 + 0.15 * 0 + 0.2 * 100, abs=0.05)


def test_title_similarity_uses_label_or_most_recent_role():
    assert title_similarity("Senior Backend Engineer", _resume(label="Senior Backend Engineer")) == 100.0
    assert round(title_similarity("Sr. Backend Engineer", _resume(position="Software Engineer")), 1) == 33.3
    assert title_similarity("Product Manager", _resume(position="Engineer")) == 0.0


def test_most_recent_role_is_the_latest_start(example_resume):
    latest = max((w for w in example_resume.work), key=lambda w: w.startDate or "")
    assert most_recent_position(example_resume) == latest.position


def test_score_is_deterministic_and_rounded(example_resume, job_text):
    job = parse_job(job_text)
    reqs = job_requirements(job)
    first, second = match(example_resume, reqs, job.title), match(example_resume, reqs, job.title)
    assert first == second
    assert 0.0 <= first.score <= 100.0 and first.score == round(first.score, 1)
    assert sorted(first.matched + first.missing) == sorted(r.skill for r in reqs)


def test_engineers_outscore_non_engineers_on_the_backend_job(backend_job_text, load_example):
    job = parse_job(backend_job_text)
    reqs = job_requirements(job)
    score = {p: match(load_example(p), reqs, job.title).score
             for p in ("senior-engineer.resume.json", "john-doe.cv.md", "career-changer.resume.json")}
    assert score["senior-engineer.resume.json"] > score["career-changer.resume.json"]
    assert score["john-doe.cv.md"] > score["career-changer.resume.json"]


def test_explicit_keyword_outside_the_taxonomy_is_matched_literally():
    reqs = [Requirement(skill="Quantum Widgets", kind="hard", must_have=True)]
    assert match(_resume(skills=["quantum widgets"]), reqs).score == 100.0
    assert match(_resume(highlights=["Built Quantum Widgets"]), reqs).score == 60.0


def test_education_part_compares_degree_levels():
    from optimiser.resume import Education

    masters = _resume(skills=["Kafka"])
    masters.education = [Education(institution="U", studyType="Master of Science", area="CS")]
    assert match(masters, KAFKA, job_text="BSc in Computer Science required").breakdown["education"] == 100
    assert match(masters, KAFKA, job_text="PhD in machine learning").breakdown["education"] == 75.0
    none = _resume(skills=["Kafka"])
    assert match(none, KAFKA, job_text="Bachelor's degree").breakdown["education"] == 0
    assert match(none, KAFKA, job_text="Bachelor's degree or equivalent experience").breakdown["education"] == 50
    report = match(none, KAFKA, job_text="No degree required. Kafka streaming.")
    assert report.weights["education"] == 0.0  # the job asks for no degree: the part is left out


def test_keyword_part_counts_the_jobs_frequent_words_in_the_resume():
    job = "Kafka pipelines. We build streaming pipelines and observability dashboards for pipelines."
    report = match(_resume(skills=["Kafka"], summary="I build streaming pipelines."), KAFKA, job_text=job)
    assert report.missing_keywords == ["observability", "dashboards"]
    assert report.breakdown["keywords"] == pytest.approx(100 * 4 / 6, abs=0.05)  # kafka pipelines build streaming
