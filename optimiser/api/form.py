"""`POST /v1/optimise` as `multipart/form-data`: a resume file (PDF, DOCX, text, JSON Resume) and a job.

The body is bounded twice: by the declared Content-Length before anything is read, and by counting
while it streams in (a chunked upload declares none), so an oversized upload is refused without
being read to the end. The resume file is read to text (optimiser/uploads.py) in a worker thread
before the flow starts: a file that cannot be read fails fast, before any model call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from gateway.errors import GatewayError
from optimiser.api.job_url import resolve_job
from optimiser.flow import OptimiseInput
from optimiser.parsing import ResumeParseError
from optimiser.settings import OptimiserSettings
from optimiser.uploads import resume_text

FORM_OVERHEAD = 64 * 1024  # boundaries, part headers and the small fields around the two inputs
FIELDS = ("resume", "job", "job_url", "resume_format", "job_format", "request_id", "prompt_label")


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_form(request: Request, settings: OptimiserSettings,
                    extra: tuple[str, ...] = ()) -> tuple[OptimiseInput, dict[str, str | None]]:
    """The input, and the text fields named in `extra` (a job's webhook and e-mail fields)."""
    limit = settings.max_upload_bytes + settings.max_job_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    parser = MultiPartParser(request.headers, _bounded(request.stream(), limit), max_files=2,
                             max_fields=len(FIELDS) + len(extra), max_part_size=limit)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise GatewayError(400, "invalid_request", f"Invalid multipart body: {exc.message}") from None
    try:
        return await _input(form, settings), {name: _text_field(form, name) for name in extra}
    finally:
        await form.close()


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        yield chunk


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, "file_too_large", f"Upload exceeds {limit} bytes", param="resume")


async def _input(form: FormData, settings: OptimiserSettings) -> OptimiseInput:
    resume, job = form.get("resume"), form.get("job")
    fmt = _text_field(form, "resume_format")
    try:
        if isinstance(resume, UploadFile):
            data = await resume.read(settings.max_upload_bytes + 1)
            text = await asyncio.to_thread(resume_text, data, settings, resume.content_type, resume.filename, fmt)
        elif isinstance(resume, str) and resume.strip():
            text = await asyncio.to_thread(resume_text, resume.encode(), settings, None, None, fmt)
        else:
            raise GatewayError(422, "invalid_request", "'resume' must be a file or non-empty text", param="resume")
    except ResumeParseError as exc:
        raise GatewayError(exc.status, exc.code, exc.message, param="resume") from None
    job_text = await _job_text(job, settings) if job is not None else None
    job_text = await resolve_job(job_text, _text_field(form, "job_url"), settings)  # or fetched from job_url
    source = await asyncio.to_thread(text.source)  # finds the headings in up to max_resume_bytes of text
    return OptimiseInput(resume=text.text, resume_format=text.fmt, job=job_text, source=source.model_dump(),
                         job_format=_text_field(form, "job_format"), prompt_label=_text_field(form, "prompt_label"),
                         **({"request_id": rid} if (rid := _text_field(form, "request_id")) else {}))


async def _job_text(job: UploadFile | str | None, settings: OptimiserSettings) -> str:
    """The job as text: a text field or a UTF-8 text file (`job_url` is the other way to give it)."""
    raw = await job.read(settings.max_job_bytes + 1) if isinstance(job, UploadFile) else (job or "").encode()
    if len(raw) > settings.max_job_bytes:
        raise GatewayError(413, "file_too_large", f"The job exceeds {settings.max_job_bytes} bytes", param="job")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GatewayError(415, "unsupported_media_type", "The job must be UTF-8 text", param="job") from None
    if not text.strip():
        raise GatewayError(422, "invalid_request", "'job' must be non-empty text or a text file", param="job")
    return text


def _text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise GatewayError(422, "invalid_request", f"'{name}' must be a text field", param=name)
    return value or None


REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["resume"],
            "description": "exactly one of `job` and `job_url`",
            "properties": {
                "resume": {"oneOf": [{"type": "string"}, {"type": "object"}],
                           "description": "Markdown, plain text or JSON Resume (text or an object)"},
                "job": {"oneOf": [{"type": "string"}, {"type": "object"}], "description": "text or JSON job"},
                "job_url": {"type": "string", "format": "uri", "description": "the job page; the platform fetches it"},
                "resume_format": {"type": "string", "enum": ["json", "markdown", "text"]},
                "job_format": {"type": "string", "enum": ["json", "text"]},
                "request_id": {"type": "string"},
                "prompt_label": {"type": "string", "description": "admin/engineer: run every prompt that has this "
                                 "label at it (production for the others); 422 unknown_prompt if none has it"},
                "prompts": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "admin/engineer: a version or label per prompt name, e.g. "
                                           "{\"writer\": \"1.0.0\"}"}}}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["resume"],
            "description": "exactly one of `job` and `job_url`",
            "properties": {
                "resume": {"type": "string", "format": "binary",
                           "description": "PDF, DOCX, Markdown/plain text (UTF-8) or JSON Resume; type from the bytes"},
                "job": {"type": "string", "description": "job description text, or a UTF-8 text file"},
                "job_url": {"type": "string", "format": "uri", "description": "the job page; the platform fetches it"},
                "resume_format": {"type": "string", "enum": ["pdf", "docx", "json", "markdown", "text"]},
                "job_format": {"type": "string", "enum": ["json", "text"]},
                "request_id": {"type": "string"},
                "prompt_label": {"type": "string", "description": "admin/engineer: run the prompts at this label"}}}},
    },
}
