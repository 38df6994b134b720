"""Text of a PDF, extracted by pdfminer.six in a child process with hard bounds.

pdfminer parses hostile input in pure Python and cannot be interrupted: a crafted page (a deep
object graph, a Flate stream that inflates to gigabytes) can hold a thread for minutes or exhaust
memory. So the parent hands the bytes to a short-lived `python -I` child with an address-space and
CPU limit, and kills it at a wall-clock deadline. The cost is a process start (~0.1 s here), small next
to an optimisation. This file is also the child's script: it imports nothing of ours at the top,
because the child runs it by path in isolated mode.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

CHILD_MEMORY_BYTES = 1024 * 1024 * 1024  # address space: pdfminer needs ~100 MB for a 20-page resume
# At most this many children at once (each may use CHILD_MEMORY_BYTES): more uploads wait for a slot,
# no longer than the read timeout, then get 503 `overloaded`.
_CHILDREN = threading.BoundedSemaphore(4)


def pdf_text(data: bytes, max_pages: int, timeout_s: float) -> tuple[str, dict]:
    """The text of the PDF's pages ("\\n"-separated lines) and its layout (`images`, `columns`: what an
    ATS may misread), or a ResumeParseError: `unreadable_file` (corrupt, encrypted, too slow),
    `too_many_pages`, `no_text_layer`."""
    from optimiser.parsing import ResumeParseError

    if not _CHILDREN.acquire(timeout=timeout_s):
        raise ResumeParseError("overloaded", "Too many PDFs are being read; retry shortly.", 503)
    try:
        done = subprocess.run([sys.executable, "-I", str(Path(__file__)), str(max_pages), str(timeout_s)],
                              input=data, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ResumeParseError("unreadable_file", f"The PDF could not be read within {timeout_s:.0f}s.") from None
    finally:
        _CHILDREN.release()
    try:
        answer = json.loads(done.stdout)
    except ValueError:  # killed by its limits, or crashed before answering
        answer = {"error": "unreadable_file", "message": "The PDF could not be read (it may be corrupt)."}
    if "error" in answer:
        raise ResumeParseError(answer["error"], answer["message"])
    # "(cid:N)" is pdfminer's stand-in for a glyph the font maps to no character: not resume text.
    text = re.sub(r"\(cid:\d+\)", "", answer["text"]).replace("\f", "\n")
    if not text.strip():
        raise ResumeParseError("no_text_layer", "The PDF has no extractable text (a scanned image?); "
                               "upload a PDF with a text layer, a DOCX or plain text.")
    return text, answer["layout"]


def _child(max_pages: int, cpu_s: int) -> dict:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    import io
    import logging

    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfpage import PDFPage

    logging.disable(logging.WARNING)  # pdfminer warns on every odd object; stderr is not read
    pdf = io.BytesIO(sys.stdin.buffer.read())
    try:
        pages = sum(1 for _ in PDFPage.get_pages(pdf, maxpages=max_pages + 1, check_extractable=False))
        if pages > max_pages:
            return {"error": "too_many_pages", "message": f"The PDF has more than {max_pages} pages."}
        pdf.seek(0)
        return _read(pdf, max_pages)
    except (PDFPasswordIncorrect, PDFEncryptionError):
        return {"error": "unreadable_file", "message": "The PDF is encrypted; upload an unprotected copy."}
    except Exception:  # noqa: BLE001 - pdfminer raises many types on malformed input; all mean "corrupt"
        return {"error": "unreadable_file", "message": "The PDF could not be read (it may be corrupt)."}


def _read(pdf, max_pages: int) -> dict:
    """pdfminer's `extract_text`, in one pass with a look at each page's layout on the way."""
    import io

    from pdfminer.converter import TextConverter
    from pdfminer.layout import LAParams
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    layout = {"images": 0, "columns": 1}

    class Converter(TextConverter):
        def render_image(self, name, stream):  # each image drawn (TextConverter keeps none)
            layout["images"] += 1

        def receive_layout(self, ltpage):
            layout["columns"] = max(layout["columns"], _columns(ltpage))
            super().receive_layout(ltpage)

    resources, out = PDFResourceManager(), io.StringIO()
    interpreter = PDFPageInterpreter(resources, Converter(resources, out, laparams=LAParams()))
    for page in PDFPage.get_pages(pdf, maxpages=max_pages):
        interpreter.process_page(page)
    return {"text": out.getvalue(), "layout": layout}


MIN_COLUMN_OVERLAP_PT = 36  # three 12 pt lines; a title and its right-aligned dates share only one
MAX_BOXES = 300             # text boxes per page compared pairwise; a resume page has ~10-60


def _columns(page) -> int:
    """2 when two text boxes sit side by side (no shared x range) over at least three lines' height."""
    from pdfminer.layout import LTTextBox

    boxes = [b for b in page if isinstance(b, LTTextBox)][:MAX_BOXES]
    for a in boxes:
        for b in boxes:
            if a.x1 < b.x0 and min(a.y1, b.y1) - max(a.y0, b.y0) >= MIN_COLUMN_OVERLAP_PT:
                return 2
    return 1


if __name__ == "__main__":
    json.dump(_child(int(sys.argv[1]), int(float(sys.argv[2])) + 1), sys.stdout)
