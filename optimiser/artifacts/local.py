"""The local backend: one file per artifact under a folder (the embedded default, `<data dir>/artifacts`).

A write goes to a temp file beside its target (`.tmp-*`, never a valid key), is fsynced, then renamed
over the target (`put`) or hard-linked to it (`put_if_absent`: link(2) fails if the name exists, so of
two writers exactly one wins). Either way a reader opens the old file or the complete new one."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from optimiser.artifacts.store import ArtifactInfo, ArtifactNotFound, check_aware, check_key, check_prefix

TEMP_PREFIX = ".tmp-"
STALE_TEMP_S = 3600  # a temp file this old is a crashed writer's: no write of a few MB takes an hour


class LocalArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / check_key(key)
        tmp = self._write_aside(path, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self.root / check_key(key)
        tmp = self._write_aside(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return True

    def get(self, key: str) -> bytes:
        try:
            return (self.root / check_key(key)).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFound(key) from None

    def exists(self, key: str) -> bool:
        return (self.root / check_key(key)).is_file()

    def list(self, prefix: str) -> list[ArtifactInfo]:
        base = self.root / check_prefix(prefix).rpartition("/")[0]
        found = [ArtifactInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc))
                 for key, _, st in self._files(base) if key.startswith(prefix)]
        return sorted(found, key=lambda info: info.key)

    def delete_prefix(self, prefix: str) -> int:
        check_prefix(prefix, allow_empty=False)
        deleted = sum(_unlink(self.root / info.key) for info in self.list(prefix))
        self._prune(self.root / prefix.rpartition("/")[0])
        return deleted

    def sweep(self, older_than: datetime) -> int:
        cutoff = check_aware(older_than).timestamp()
        stale_temp = min(cutoff, time.time() - STALE_TEMP_S)
        deleted = 0
        for dirpath, _, names in os.walk(self.root):
            for name in names:
                path = Path(dirpath, name)
                if name.startswith(TEMP_PREFIX):
                    if _older(path, stale_temp):
                        _unlink(path)
                elif not name.startswith(".") and _older(path, cutoff):
                    deleted += _unlink(path)
        self._prune(self.root)
        return deleted

    def _write_aside(self, path: Path, data: bytes) -> Path:
        fd, tmp = _open_aside(path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _files(self, base: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
        for dirpath, _, names in os.walk(base):
            for name in names:
                if name.startswith("."):
                    continue
                path = Path(dirpath, name)
                try:
                    st = path.stat()
                except FileNotFoundError:  # deleted since the folder was read
                    continue
                yield path.relative_to(self.root).as_posix(), path, st

    def _prune(self, base: Path) -> None:
        """Remove empty folders under `base` (each job leaves one), never the root itself."""
        for dirpath, _, _ in os.walk(base, topdown=False):
            if Path(dirpath) != self.root:
                try:
                    os.rmdir(dirpath)
                except OSError:  # not empty, or already gone
                    pass


def _open_aside(folder: Path) -> tuple[int, Path]:
    attempts = 0
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), tmp
        except FileNotFoundError:  # a sweep removed the empty folder between mkdir and open
            attempts += 1
            if attempts == 3:
                raise


def _older(path: Path, limit: float) -> bool:
    try:
        return path.stat().st_mtime < limit
    except FileNotFoundError:
        return False


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


def _fsync_dir(path: Path) -> None:
    """Make the rename or link itself durable (POSIX: fsync of the folder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
