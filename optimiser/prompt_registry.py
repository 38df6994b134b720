"""Operations on the prompt registry's files: list, find a file by label or version, diff two versions,
and promote (move a label to a version).

A label sits on at most one version of a prompt. Promoting adds it to the target first and then removes
it from the others, each file replaced atomically (write a temporary file beside it, fsync, os.replace):
a running platform resolving the label in between sees two carriers and takes the higher version (as
`load_prompt` always does), never none. Promotions are serialised by an exclusive lock on
`prompts/.lock`, and each is appended to `prompts/AUDIT.jsonl` (who, when, name, label, from, to,
reason), a file that is only ever appended to and is committed with the prompts it describes.

Only the `labels:` line of a file is rewritten, so comments, key order and block text stay as written;
a file whose labels are not a one-line list is refused rather than reformatted.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from optimiser.prompts import Prompt, PromptNotFound, _read, load_prompt

AUDIT_FILE = "AUDIT.jsonl"
LABEL_RE = r"^[a-z][a-z0-9_-]{0,31}$"
_LABELS_LINE = re.compile(r"^labels:[ \t]*\[[^\]\n]*\][ \t]*$", re.M)


PROTECTED_FROM_DRILLS = "production"


class PromotionError(ValueError):
    """A promotion that cannot be made as asked: `invalid_label`, `invalid_prompt_file` (labels not in
    the one-line form), or `drill_prompt` (`production` onto a version marked `drill: true`)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Promotion:
    who: str
    at: str
    name: str
    label: str
    from_version: str | None   # the version that carried the label before (None: no version did)
    to_version: str
    reason: str


def list_prompts(root: Path, name: str | None = None) -> list[Prompt]:
    """Every version of every prompt (or of `name`), by name then version."""
    folders = [root / name] if name else sorted(p for p in root.iterdir() if p.is_dir())
    if name and not (root / name).is_dir():
        raise PromptNotFound(f"no prompt named {name!r} in {root}")
    return [_read(f) for folder in folders for f in sorted(folder.glob("*.yaml"), key=lambda f: semver(f.stem))]


def prompt_path(root: Path, name: str, ref: str) -> Path:
    """The file of the version `ref` (a version or a label) resolves to; PromptNotFound otherwise."""
    prompt = load_prompt(name, ref, root)
    return root / name / f"{prompt.version}.yaml"


def diff(root: Path, name: str, ref_a: str, ref_b: str) -> str:
    """A unified diff of the two files `ref_a` and `ref_b` resolve to."""
    a, b = prompt_path(root, name, ref_a), prompt_path(root, name, ref_b)
    return "".join(difflib.unified_diff(a.read_text(encoding="utf-8").splitlines(keepends=True),
                                        b.read_text(encoding="utf-8").splitlines(keepends=True),
                                        f"{name}/{a.name}", f"{name}/{b.name}"))


def promote(root: Path, name: str, version: str, label: str, who: str, reason: str = "") -> Promotion:
    """Move `label` of prompt `name` to `version` (exact), and append the audit line."""
    if not re.match(LABEL_RE, label):
        raise PromotionError("invalid_label",
                             "a label is 1-32 lower-case letters, digits, '-' or '_', starting with a letter")
    target = root / name / f"{version}.yaml"
    if not (re.match(r"^[A-Za-z0-9_-]{1,64}$", name) and re.match(r"^\d+\.\d+\.\d+$", version) and target.is_file()):
        raise PromptNotFound(f"prompt {name!r} has no version {version!r}")
    if label == PROTECTED_FROM_DRILLS and _read(target).drill:
        raise PromotionError("drill_prompt", f"{name} {version} is a drill (drill: true, made to fail the gate): "
                             f"it may carry any label but {PROTECTED_FROM_DRILLS!r}")
    with _locked(root):
        carriers = [p for p in list_prompts(root, name) if label in p.labels]
        # what served the label until now: the highest carrier, as load_prompt resolves it
        was = max(carriers, key=lambda p: semver(p.version)).version if carriers else None
        _set_labels(target, [*_read(target).labels, label])
        for p in carriers:
            if p.version != version:
                _set_labels(root / name / f"{p.version}.yaml", [x for x in p.labels if x != label])
        done = Promotion(who, datetime.now(UTC).isoformat(timespec="seconds"), name, label, was, version, reason)
        _append_audit(root, done)
    return done


def audit_lines(root: Path) -> list[dict]:
    path = root / AUDIT_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _set_labels(path: Path, labels: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    unique = list(dict.fromkeys(labels))
    new, n = _LABELS_LINE.subn(f"labels: [{', '.join(unique)}]", text, count=1)
    if n != 1:
        raise PromotionError("invalid_prompt_file",
                             f"{path.name}: `labels:` must be a one-line list (labels: [a, b]) to be rewritten")
    if yaml.safe_load(new).get("labels") != unique:  # the rewrite said what it meant, or nothing is written
        raise PromotionError("invalid_prompt_file", f"{path.name}: rewriting `labels:` did not give {unique}")
    _replace(path, new)


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _append_audit(root: Path, done: Promotion) -> None:
    line = json.dumps({"who": done.who, "at": done.at, "name": done.name, "label": done.label,
                       "from": done.from_version, "to": done.to_version, "reason": done.reason})
    # one write() of one line in append mode: lines of concurrent writers never interleave (POSIX O_APPEND)
    with open(root / AUDIT_FILE, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class _locked:
    def __init__(self, root: Path):
        self._path = root / ".lock"

    def __enter__(self):
        self._fh = open(self._path, "a")
        fcntl.flock(self._fh, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


def semver(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".")) if re.match(r"^\d+\.\d+\.\d+$", version) else (-1,)
