"""The credential local tools present: `RESUMEOPT_API_KEY` if set, else this machine's bootstrap admin
key, which the embedded platform creates on first start in `<data dir>/admin.key` (mode 0600), as
Jupyter does with its token. Production sets `RESUMEOPT_ADMIN_KEY` from a secret store instead and
hands out virtual keys (`resumeopt keys create`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def admin_key_path(data_dir: Path) -> Path:
    return data_dir / "admin.key"


def ensure_admin_key(data_dir: Path) -> str:
    path = admin_key_path(data_dir)
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "ro-admin-" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def api_key(data_dir: Path) -> str | None:
    configured = os.environ.get("RESUMEOPT_API_KEY") or os.environ.get("RESUMEOPT_ADMIN_KEY")
    if configured:
        return configured
    path = admin_key_path(data_dir)
    return path.read_text().strip() if path.exists() else None
