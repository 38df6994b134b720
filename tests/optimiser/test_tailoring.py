from collections import Counter

from optimiser.parsing import parse_job
from optimiser.tools.grounding import check_grounding
from optimiser.tools.matching import match
from optimiser.tools.skills import job_requirements
from optimiser.tools.tailoring import RELEVANT_GROUP, deterministic_tailor


def test_tailoring_is_grounded_and_never_lowers_the_score(example_resume, job_text):
    job = parse_job(job_text)
    reqs = job_requirements(job)
    result = deterministic_tailor(example_resume, reqs)
    report = check_grounding(example_resume, result.resume)
    assert report.passed, report.violations
    assert match(result.resume, reqs, job.title).score >= match(example_resume, reqs, job.title).score


def test_tailoring_adds_no_text_of_its_own(example_resume, job_text):
    result = deterministic_tailor(example_resume, job_requirements(parse_job(job_text)))
    before = Counter(example_resume.text_fields())
    added = Counter(result.resume.text_fields()) - before
    surfaced = next((g.keywords for g in result.resume.skills if g.name == RELEVANT_GROUP), [])
    assert added == Counter([RELEVANT_GROUP] * bool(surfaced) + surfaced)
    assert before - Counter(result.resume.text_fields()) == Counter()  # nothing removed


def test_highlights_with_required_skills_come_first(john_doe, backend_job_text):
    result = deterministic_tailor(john_doe, job_requirements(parse_job(backend_job_text)))
    top = result.resume.work[0].highlights
    assert top[:2] == ["Developed and maintained multiple web applications using Python and JavaScript.",
                       "Automated deployment processes using Docker and Jenkins."]
    assert sorted(top) == sorted(john_doe.work[0].highlights)


def test_matching_skills_move_first_in_their_group(john_doe, backend_job_text):
    result = deterministic_tailor(john_doe, job_requirements(parse_job(backend_job_text)))
    tools = next(g for g in result.resume.skills if g.name == "Tools")
    assert tools.keywords == ["Docker", "Git", "Jenkins"]
    databases = next(g for g in result.resume.skills if g.name == "Databases")
    assert databases.keywords == ["PostgreSQL", "MySQL"]


def test_skill_shown_only_in_experience_is_surfaced(john_doe, backend_job_text):
    job = parse_job(backend_job_text)
    reqs = job_requirements(job)
    assert "CI/CD" in match(john_doe, reqs).experience_only
    result = deterministic_tailor(john_doe, reqs)
    assert result.resume.skills[0].name == RELEVANT_GROUP
    assert "CI/CD" in result.resume.skills[0].keywords
    assert "CI/CD" not in match(result.resume, reqs).experience_only
    assert any("CI/CD" in c for c in result.changes)


def test_missing_skills_become_suggestions_not_additions(john_doe, backend_job_text):
    result = deterministic_tailor(john_doe, job_requirements(parse_job(backend_job_text)))
    assert any(s.startswith("The job asks for Kafka") for s in result.suggestions)
    assert "Kafka" not in result.resume.all_text()


def test_original_is_not_modified(john_doe, backend_job_text):
    snapshot = john_doe.model_dump()
    deterministic_tailor(john_doe, job_requirements(parse_job(backend_job_text)))
    assert john_doe.model_dump() == snapshot


def test_tailoring_twice_does_not_duplicate_the_group(john_doe, backend_job_text):
    reqs = job_requirements(parse_job(backend_job_text))
    twice = deterministic_tailor(deterministic_tailor(john_doe, reqs).resume, reqs).resume
    assert [g.name for g in twice.skills].count(RELEVANT_GROUP) <= 1


def test_the_result_carries_a_diff_of_what_tailoring_changed(john_doe, backend_job_text):
    from optimiser.agents import prompt_set
    from optimiser.flow import OptimiseState, assemble
    from optimiser.parsing import parse_job
    from optimiser.render import to_markdown
    from optimiser.tools.skills import job_requirements

    job = parse_job(backend_job_text)
    reqs = job_requirements(job)
    state = OptimiseState(request_id="r-diff", original=john_doe, job=job, requirements=reqs,
                          baseline=deterministic_tailor(john_doe, reqs), crew_error="off")
    result = assemble(state, prompt_set("production"))
    diff = result["diff"].splitlines()
    assert diff[:2] == ["--- original.md", "+++ tailored.md"] and any(line.startswith("@@") for line in diff)
    before, after = to_markdown(john_doe).splitlines(), result["tailored_resume"].splitlines()
    assert [ln[1:] for ln in diff[2:] if ln.startswith("+")] and all(
        ln[1:] in after for ln in diff[2:] if ln.startswith("+"))
    assert all(ln[1:] in before for ln in diff[2:] if ln.startswith("-"))
