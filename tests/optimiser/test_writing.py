"""The writer's rewrites: a summary that fails the grounding check goes back to the writer with the rejected
claims listed, and only the writer is asked again; the writer is handed only the resume analyst's grounded
strengths. Over real loopback HTTP through the real gateway (the platform in-process), with the simulator as
the model: its scripted replies answer the writer's first prompt with a fabrication and, where configured, a
prompt carrying the writer's feedback with a grounded summary."""

from __future__ import annotations

from pathlib import Path

from gateway.config import GatewayConfig
from gateway.local_model import free_port
from optimiser.client import PlatformClient
from optimiser.flow import OptimiseInput, run_optimisation
from optimiser.parsing import parse_resume
from optimiser.prompts import load_prompt
from optimiser.settings import OptimiserSettings
from optimiser.writing import grounded_lines
from resumeopt.platform import create_platform_app
from tests.support import serve

SAMPLES = Path(__file__).resolve().parents[2] / "datasets" / "samples"
RESUME, JOB = (SAMPLES / "resume.md").read_text(), (SAMPLES / "job.txt").read_text()
GROUNDED = "A backend engineer with Python."
FABRICATED = "Backend engineer who led a team of 50 engineers at Google."  # "50": a number the resume lacks
WRITER_TASK = "Write a new professional summary"  # in the writer's task, so in each of its prompts
FEEDBACK = "These claims are not in the resume"  # the writer prompt's feedback text, only in a rewrite
ANALYST_TASK = "List the candidate's three strengths"


def _config(replies: list[dict]) -> GatewayConfig:
    return GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
        {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
            "reply": GROUNDED, "completion_tokens": 8, "replies": replies}}]}]})


def _optimise(gw_settings, replies: list[dict], retries: int = 2) -> tuple[dict, list[dict], list[dict]]:
    port = free_port()
    settings = OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}", writer_retries=retries)
    app = create_platform_app(gw_settings, _config(replies), settings)
    events: list[dict] = []
    with serve(app, port=port) as url:
        result = PlatformClient(url).optimise(RESUME, JOB, progress=events.append)
        app.state.writer.flush(10)
        rows = app.state.store.query(
            "SELECT agent, prompt_version, prompt, status FROM {db}.model_calls WHERE request_id = {r:String} "
            "ORDER BY ts", {"r": result["request_id"]})
    return result, rows, events


def test_the_prompts_feedback_is_what_the_simulator_is_scripted_on():
    writer = load_prompt("writer")
    assert WRITER_TASK in writer.task.description and FEEDBACK in writer.task.feedback
    assert "{claims}" in writer.task.feedback and "{feedback}" in writer.task.description


def test_a_fabricated_draft_is_rewritten_with_the_claims_listed_and_the_rewrite_ships(gw_settings):
    result, rows, events = _optimise(gw_settings, [{"when": FEEDBACK, "reply": GROUNDED},
                                                   {"when": WRITER_TASK, "reply": FABRICATED}])
    assert result["writer_attempts"] == 2
    assert result["degraded"] is False and result["grounding"]["passed"]
    assert "A backend engineer with Python." in result["tailored_resume"] and "Google" not in result["tailored_resume"]
    assert [(v["kind"], v["text"], v["attempt"]) for v in result["grounding"]["candidate_violations"]] == [
        ("number", "50", 1)]

    writers = [r for r in rows if r["agent"] == "writer"]
    assert len(writers) == 2 and all(r["status"] == "ok" for r in writers)
    assert {r["prompt_version"] for r in writers} == {load_prompt("writer").version}
    assert FEEDBACK not in writers[0]["prompt"]
    assert FEEDBACK in writers[1]["prompt"] and '"50" (number)' in writers[1]["prompt"]
    # only the writer was asked again; the reviewer read the draft that shipped
    assert sorted(r["agent"] for r in rows) == ["job_analyst", "resume_analyst", "reviewer", "writer", "writer"]
    assert rows[-1]["agent"] == "reviewer" and GROUNDED in rows[-1]["prompt"]

    rewrites = [e for e in events if e["stage"] == "rewrite"]
    assert rewrites == [{"stage": "rewrite", "attempt": 2, "violations": ["number"]}]
    finished = next(e for e in events if e["stage"] == "agents_finished")
    assert finished["writer_attempts"] == 2 and finished["skipped"] == [] and result["agents_skipped"] == []


def test_when_every_attempt_fabricates_the_deterministic_tailoring_ships_degraded(gw_settings):
    result, rows, events = _optimise(gw_settings, [{"when": WRITER_TASK, "reply": FABRICATED}], retries=2)
    assert result["writer_attempts"] == 3  # the first and two rewrites
    assert result["degraded"] is True and result["grounding"]["passed"]
    assert result["degraded_codes"] == ["grounding_failed:number"]
    assert "after 3 attempts" in result["degraded_reasons"][0] and "number: 50" in result["degraded_reasons"][0]
    assert "Google" not in result["tailored_resume"]
    assert [v["attempt"] for v in result["grounding"]["candidate_violations"]] == [1, 2, 3]
    assert sum(r["agent"] == "writer" for r in rows) == 3
    assert [e["attempt"] for e in events if e["stage"] == "rewrite"] == [2, 3]


def test_with_no_retries_a_fabricated_draft_degrades_at_once(gw_settings):
    result, rows, events = _optimise(gw_settings, [{"when": WRITER_TASK, "reply": FABRICATED}], retries=0)
    assert result["writer_attempts"] == 1 and result["degraded"] is True
    assert sum(r["agent"] == "writer" for r in rows) == 1
    assert not [e for e in events if e["stage"] == "rewrite"]


def test_only_grounded_strengths_reach_the_writer(gw_settings):
    strengths = "1. Python and Django web applications\n2. Led 40 engineers at Google since 2012\n- Docker"
    result, rows, _ = _optimise(gw_settings, [{"when": ANALYST_TASK, "reply": strengths}])
    (writer,) = [r for r in rows if r["agent"] == "writer"]
    assert "Python and Django web applications\nDocker" in writer["prompt"]
    assert "Led 40" not in writer["prompt"] and "2012" not in writer["prompt"]
    assert result["degraded"] is False


def test_grounded_lines_drop_what_the_resume_does_not_say():
    original = parse_resume(RESUME)
    answer = "Strengths:\n* Python, Django and Flask\n* Kubernetes at scale\n* Cut costs by 70%\n\n* Code reviews"
    assert grounded_lines(answer, original, original) == ["Python, Django and Flask", "Code reviews"]


def test_no_rewrite_or_review_starts_that_would_end_past_the_optimisation_deadline(gw_settings):
    port = free_port()
    app = create_platform_app(gw_settings, _config([{"when": WRITER_TASK, "reply": FABRICATED}]),
                              OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}"))
    # run in-process: the API would answer 504 at this deadline; the flow itself always finishes
    hurried = OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}", optimise_timeout_s=0.01, writer_retries=2)
    events: list[tuple[str, dict]] = []
    with serve(app, port=port):
        result = run_optimisation(hurried, OptimiseInput(resume=RESUME, job=JOB),
                                  lambda stage, data: events.append((stage, data)))
    assert result["writer_attempts"] == 1 and result["degraded"] is True
    assert result["degraded_codes"] == ["grounding_failed:number", "rewrite_out_of_time"]
    assert "rewrite" not in [stage for stage, _ in events]
    # the advisory agents are skipped, not waited for, and said so; the writer always runs
    assert result["agents_skipped"] == ["resume_analyst", "reviewer"] and result["review"] == ""
    assert dict(events)["agents_finished"]["skipped"] == ["resume_analyst", "reviewer"]


CHATTER = "I'm ready to help. Please go ahead and submit your resume facts, and I'll provide the answer."


def test_an_answer_that_is_not_a_summary_is_rejected_and_asked_again(gw_settings):
    # what the local model answered the production writer for a ci case (eval run): talk to the user
    result, rows, events = _optimise(gw_settings, [{"when": FEEDBACK, "reply": GROUNDED},
                                                   {"when": WRITER_TASK, "reply": CHATTER}])
    assert result["writer_attempts"] == 2 and result["degraded"] is False
    assert "ready to help" not in result["tailored_resume"] and GROUNDED in result["tailored_resume"]
    assert [(v["kind"], v["text"]) for v in result["grounding"]["candidate_violations"]] == [
        ("not_a_summary", "I'm ready")]
    assert [e["violations"] for e in events if e["stage"] == "rewrite"] == [["not_a_summary"]]


def test_a_writer_that_never_answers_with_a_summary_ships_degraded_with_its_own_code(gw_settings):
    result, _, _ = _optimise(gw_settings, [{"when": WRITER_TASK, "reply": CHATTER}], retries=1)
    assert result["degraded"] is True and result["degraded_codes"] == ["not_a_summary"]
    assert "something other than a summary after 2 attempts" in result["degraded_reasons"][0]
    assert "ready to help" not in result["tailored_resume"]


def test_chatter_is_told_from_summaries():
    from optimiser.writing import CHATTER as pattern

    for chatter in (CHATTER, "Sure! Here is a summary for the candidate.", "As an AI language model I cannot",
                    "Please provide the job description.", "Let me know if you want changes."):
        assert pattern.search(chatter), chatter
    for summary in ("Data analyst who builds reporting in SQL and Python for a regional retailer.",
                    "Backend engineer; I led the move to Docker at Baltic Freight Systems.",
                    "Systems engineer ready to run Linux services in production."):
        assert not pattern.search(summary), summary


LEAKY = "Backend engineer with Python; reach me at hire.me@example.net or www.jane-portfolio.example."
TOXIC = "A backend engineer with Python who is no idiot."


def test_a_draft_with_contact_details_the_resume_lacks_never_ships(gw_settings):
    result, _, events = _optimise(gw_settings, [{"when": FEEDBACK, "reply": GROUNDED},
                                                {"when": WRITER_TASK, "reply": LEAKY}])
    assert result["writer_attempts"] == 2 and result["degraded"] is False
    assert "hire.me@example.net" not in result["tailored_resume"] and GROUNDED in result["tailored_resume"]
    rejected = result["grounding"]["candidate_violations"]
    assert sorted((v["kind"], v["text"]) for v in rejected) == [
        ("contact_leak", "a web address not in the resume"), ("contact_leak", "an e-mail address not in the resume")]
    assert "example.net" not in str(rejected) + str(events)  # named by kind: the value is nobody's to keep


def test_a_writer_that_stays_unsafe_ships_the_deterministic_tailoring_with_its_own_code(gw_settings):
    result, _, _ = _optimise(gw_settings, [{"when": WRITER_TASK, "reply": TOXIC}], retries=1)
    assert result["degraded"] is True and result["degraded_codes"] == ["unsafe_output:toxic_text"]
    assert "unsafe after 2 attempts (toxic_text)" in result["degraded_reasons"][0]
    assert "idiot" not in result["tailored_resume"]


def test_the_resumes_own_contact_details_are_not_a_leak():
    from optimiser.writing import unsafe

    original = parse_resume(RESUME.replace("# John Doe\n", "# John Doe\njohn.doe@example.org | (415) 555-0100\n", 1),
                            "markdown")
    assert original.basics.email == "john.doe@example.org"
    assert unsafe(original, "Backend engineer with Python, JOHN.DOE@example.org, 415.555.0100.") == []
    assert [v.kind for v in unsafe(original, "Backend engineer, call +1 415 555 0199.")] == ["contact_leak"]
