"""`POST /v1/optimise` with a resume file (multipart/form-data) over real loopback HTTP: the platform
in-process, the simulator as the model. An upload is read before the flow starts, so a file that
cannot be read is refused with its status and JSON code before any model call."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.config import GatewayConfig
from gateway.local_model import free_port
from optimiser.client import PlatformClient, PlatformError
from optimiser.docx_text import docx_text
from optimiser.settings import OptimiserSettings
from resumeopt.platform import create_platform_app
from tests.conftest import new_gw_settings
from tests.optimiser.docs import docx, pdf, zip_bomb_member
from tests.optimiser.test_uploads import CV_LINES, DOCX_BODY, PNG
from tests.support import serve

JOB = (Path(__file__).resolve().parents[2] / "datasets" / "samples" / "job.txt").read_text()
MAX_UPLOAD = 256 * 1024
SIMULATED = GatewayConfig.model_validate({"default_alias": "local-smol", "models": [
    {"alias": "local-smol", "deployments": [{"name": "sim", "provider": "simulator", "model": "sim", "simulator": {
        "reply": "A backend engineer with Python.", "completion_tokens": 8}}]}]})


@pytest.fixture(scope="module")
def platform(data_dir):
    """One platform for the module: every test reads only the answers to its own requests (the platform
    keeps no state between optimisations that any of them checks), and starting and stopping a platform
    per test (~0.9 s: its store, its job worker) was most of this module's time."""
    port = free_port()
    settings = OptimiserSettings(gateway_url=f"http://127.0.0.1:{port}", max_upload_bytes=MAX_UPLOAD)
    with serve(create_platform_app(new_gw_settings(data_dir), SIMULATED, settings), port=port) as url:
        yield url


def _upload(url: str, data: bytes, filename: str, content_type: str = "application/octet-stream") -> httpx.Response:
    return httpx.post(f"{url}/v1/optimise", files={"resume": (filename, data, content_type)},
                      data={"job": JOB}, timeout=60)


def test_pdf_and_docx_uploads_give_the_json_bodys_response(platform):
    client = PlatformClient(platform)
    from_json = client.optimise("\n".join(CV_LINES), JOB)
    from_pdf = client.optimise(pdf(CV_LINES[:8], CV_LINES[8:]), JOB, filename="cv.pdf")
    events: list[dict] = []
    from_docx = client.optimise(docx(DOCX_BODY), JOB, filename="cv.docx", progress=events.append)
    assert set(from_pdf) == set(from_docx) == set(from_json)
    for result in (from_pdf, from_docx):
        resume = result["tailored_resume_json"]
        assert resume["basics"]["name"].lower() == "jane smith"
        assert resume["work"][0]["name"] == "Acme Corp" and resume["education"][0]["institution"] == "State University"
        assert {"Python", "Go"} <= {s["name"] for s in resume["skills"]}
        assert result["grounding"]["passed"]
    assert from_pdf["tailored_resume_json"]["work"] == from_json["tailored_resume_json"]["work"]
    assert events[0]["stage"] == "accepted" and any(e["stage"] == "parsed" for e in events)


@pytest.mark.parametrize(("data", "filename", "status", "code"), [
    (pdf(image_page=True), "scan.pdf", 422, "no_text_layer"),
    (pdf(CV_LINES)[:300], "cv.pdf", 422, "unreadable_file"),
    (docx(DOCX_BODY)[:-200], "cv.docx", 422, "unreadable_file"),
    (zip_bomb_member(docx(DOCX_BODY)), "cv.docx", 413, "file_too_large"),
    (PNG, "cv.png", 415, "unsupported_media_type"),
    (b"x" * (MAX_UPLOAD + 1), "cv.txt", 413, "file_too_large"),
    (b"", "cv.txt", 422, "empty_resume"),
], ids=["scanned-pdf", "corrupt-pdf", "truncated-docx", "zip-bomb", "png", "too-large", "empty"])
def test_unreadable_uploads_are_json_errors_with_a_stable_code(platform, data, filename, status, code):
    resp = _upload(platform, data, filename)
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code


def test_the_client_raises_the_platforms_code(platform):
    with pytest.raises(PlatformError) as err:
        PlatformClient(platform).optimise(PNG, JOB, filename="cv.png")
    assert (err.value.status, err.value.code) == (415, "unsupported_media_type")


def _raw(url: str, head: str, body_parts: list[bytes]) -> bytes:
    """Send a request head and some body, never the rest; return what the server answered."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        return sock.recv(65536)


def test_oversized_upload_is_refused_from_its_content_length_without_reading_it(platform):
    head = ("POST /v1/optimise HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\n"
            f"content-length: {50 * 1024 * 1024}\r\n\r\n")
    answer = _raw(platform, head, [b"--b\r\n"])  # 5 bytes of a declared 50 MB
    assert answer.startswith(b"HTTP/1.1 413") and b'"code":"file_too_large"' in answer


def test_oversized_chunked_upload_is_refused_while_it_streams(platform):
    head = ("POST /v1/optimise HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\n"
            "transfer-encoding: chunked\r\n\r\n")
    part = b"--b\r\ncontent-disposition: form-data; name=\"resume\"; filename=\"cv.txt\"\r\n\r\n"
    chunk = 64 * 1024
    body = [b"%x\r\n%s\r\n" % (len(part), part)] + [b"%x\r\n%s\r\n" % (chunk, b"a" * chunk)] * 10
    answer = _raw(platform, head, body)  # 640 KB: past the 256 KB file + 256 KB job + form limit; never finished
    assert answer.startswith(b"HTTP/1.1 413") and b'"code":"file_too_large"' in answer


def test_openapi_documents_the_json_and_the_multipart_body(platform):
    body = httpx.get(f"{platform}/openapi.json").json()["paths"]["/v1/optimise"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "multipart/form-data"}
    assert body["content"]["multipart/form-data"]["schema"]["properties"]["resume"]["format"] == "binary"


def test_cli_uploads_a_pdf_resume_to_a_running_platform(platform, tmp_path):
    resume, job = tmp_path / "cv.pdf", tmp_path / "job.txt"
    resume.write_bytes(pdf(CV_LINES))
    job.write_text(JOB)
    env = {**os.environ, "RESUMEOPT_PLATFORM_URL": platform, "RESUMEOPT_API_KEY": "unused-auth-is-off",
           "RESUMEOPT_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-m", "resumeopt.cli", "optimise", "--resume", str(resume),
                          "--job", str(job), "--json"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["tailored_resume_json"]["work"][0]["name"] == "Acme Corp"


def test_the_result_carries_ats_reports_of_the_upload_and_of_our_docx(platform):
    from tests.optimiser.docs import para, table
    from tests.optimiser.test_ats import CONTACT, resume_body

    flawed = docx(resume_body(contact=False, education=table([["BSc Computer Science", "State University"]])),
                  header=para(CONTACT))
    result = PlatformClient(platform).optimise(flawed, JOB, filename="cv.docx")
    before, after = result["ats"]["before"], result["ats"]["after"]
    assert {i["code"] for i in before["issues"]} == {"table", "contact_in_header", "header_footer_text"}
    assert before["score"] < 100 and before["checks"]["table"] is False
    assert after["score"] == 100 and after["issues"] == [] and all(after["checks"].values())
    rendered = docx_text(base64.b64decode(result["tailored_resume_docx_b64"]))[0]
    assert rendered.startswith("# Jane Smith") and "jane@example.com" in rendered


def test_a_json_bodys_ats_report_comes_from_its_text_not_from_the_client(platform):
    forged = {"kind": "docx", "bytes": 9_000_000, "layout": {"tables": 3}, "headings": []}
    resp = httpx.post(f"{platform}/v1/optimise", json={"resume": "\n".join(CV_LINES), "job": JOB, "source": forged},
                      timeout=60)
    before = resp.json()["ats"]["before"]
    assert "table" not in before["checks"] and before["checks"]["file_too_large"] is True
    assert before["checks"]["nonstandard_heading"] is True  # SUMMARY, EXPERIENCE, ... read from the text
