import importlib.util
import json

import pytest

from optimiser.resume import Job
from optimiser.tools.skills import Taxonomy, extract_skills, job_requirements


def _found(text: str) -> list[tuple[str, str]]:
    return [(m.text, m.canonical) for m in extract_skills(text)]


def test_aliases_and_punctuated_names_with_spans():
    text = "We need Kubernetes (k8s), Node.js and CI/CD"
    mentions = extract_skills(text)
    assert [(m.canonical, m.start, m.end) for m in mentions] == [
        ("Kubernetes", 8, 18), ("Kubernetes", 20, 23), ("Node.js", 26, 33), ("CI/CD", 38, 43)]
    assert [text[m.start:m.end] for m in mentions] == ["Kubernetes", "k8s", "Node.js", "CI/CD"]
    assert {m.kind for m in mentions} == {"hard"}


def test_go_the_language_is_not_go_to_market():
    assert "Go" not in {c for _, c in _found("We go to market fast and go big.")}
    assert ("go to market", "Go-to-market") in _found("We go to market fast.")
    assert ("Go", "Go") in _found("Services written in Go and Python.")
    assert ("golang", "Go") in _found("Backend in golang.")


def test_ambiguous_short_names_need_case_and_whole_tokens():
    assert _found("Our R&D team briefs the C-suite") == []
    assert _found("Stats in R, systems in C and C++, tools in C#") == [
        ("R", "R"), ("C", "C"), ("C++", "C++"), ("C#", "C#")]
    assert _found("react quickly and excel at it") == []
    assert [c for _, c in _found("Built with React and Excel.")] == ["React", "Excel"]


def test_longest_match_wins():
    assert _found("APIs in Django REST Framework") == [("Django REST Framework", "Django REST Framework")]
    assert _found("streams on Apache Kafka") == [("Apache Kafka", "Kafka")]
    assert _found("Postgres and PostgreSQL") == [("Postgres", "PostgreSQL"), ("PostgreSQL", "PostgreSQL")]


def test_no_match_across_a_phrase_break():
    assert "AWS" not in {c for _, c in _found("Amazon, Web Services")}


def test_soft_skills_in_the_forms_people_write():
    assert _found("Mentored junior developers and collaborated with design.") == [
        ("Mentored", "Mentoring"), ("collaborated", "Collaboration")]
    assert {m.kind for m in extract_skills("strong problem-solving and communication")} == {"soft"}


def test_jd_terms_missing_from_onet_are_covered():
    text = "FastAPI, asyncio, Django REST Framework, microservices, Kafka, Redis, Docker, GCP, ML, RESTful APIs"
    assert [c for _, c in _found(text)] == [
        "FastAPI", "asyncio", "Django REST Framework", "Microservices", "Kafka", "Redis", "Docker",
        "GCP", "Machine learning", "REST APIs"]


def test_every_canonical_name_is_found_as_itself():
    taxonomy = Taxonomy.load()
    wrong = [name for name in taxonomy.kinds if taxonomy.canonical(name) != name]
    assert wrong == []
    assert len(taxonomy) > 800


def test_taxonomy_is_loaded_once():
    assert Taxonomy.load() is Taxonomy.load()


def test_committed_taxonomy_matches_its_build_script(datasets):
    spec = importlib.util.spec_from_file_location("build_taxonomy", datasets / "taxonomy" / "build_taxonomy.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    if not build.DEFAULT_ONET.exists():
        pytest.skip(f"O*NET source not present at {build.DEFAULT_ONET}")
    committed = json.loads((datasets / "taxonomy" / "skills.json").read_text(encoding="utf-8"))
    assert build.build(build.DEFAULT_ONET) == committed


def _requirements(text: str) -> dict[str, bool]:
    return {r.skill: r.must_have for r in job_requirements(Job(description=text))}


def test_backend_job_requirements(backend_job_text):
    reqs = _requirements(backend_job_text)
    assert reqs["Python"] and reqs["asyncio"] and reqs["Kubernetes"] and reqs["Redis"]
    assert reqs["CI/CD"] is False and reqs["Datadog"] is False  # "familiarity with ..."
    assert "Kafka" in reqs and "PostgreSQL" in reqs and "FastAPI" in reqs
    assert len(job_requirements(Job(description=backend_job_text))) == len(reqs)  # deduplicated


def test_must_have_and_nice_to_have_cues():
    reqs = _requirements("Requirements:\n- 5+ years with Go\n- Docker\n\nNice to have:\n- Kafka\n\n"
                         "You must know SQL. Terraform is a plus. We use Redis.")
    assert reqs == {"Go": True, "Docker": True, "Kafka": False, "SQL": True, "Terraform": False, "Redis": False}


def test_not_required_is_not_must_have():
    assert _requirements("Requirements: Python. Experience with SQL appreciated but not required.") == {
        "Python": True, "SQL": False}


def test_explicit_json_job_skills_are_must_have_and_canonical():
    reqs = job_requirements(Job(title="Web Developer", skills=["node", "k8s", "Figma", "Quantum Widgets"]))
    assert [(r.skill, r.must_have) for r in reqs] == [
        ("node", True), ("Kubernetes", True), ("Figma", True), ("Quantum Widgets", True)]
