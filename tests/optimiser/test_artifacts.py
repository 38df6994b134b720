"""Artifact storage against real parts: the local backend on the real file system, the S3 backend against
moto's S3 server over loopback HTTP (one process for the module). What is at rest is read and altered
behind the store's back, with plain file I/O or a boto3 client of the test's own."""

from __future__ import annotations

import base64
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import cache

import boto3
import pytest
from pydantic import SecretStr

from optimiser.artifacts import (ArtifactCorrupt, ArtifactNotFound, ArtifactSettings, S3ArtifactStore,
                                 open_artifacts, sweep_expired)
from optimiser.artifacts.encrypted import sealed_key_id
from optimiser.artifacts.keys import ensure_local_keys, new_key_entry, parse_keys
from tests.support import s3_server

OLD, NEW = new_key_entry("old"), new_key_entry("new")
RESUME = b"Jane Q. Candidate\njane.candidate@example.com\nStaff engineer at Initech, 2019-2024\n" * 50
KEY = "jobs/j-1/input.json"


@pytest.fixture(autouse=True)
def _own_settings(monkeypatch):
    """These tests choose every artifact setting themselves: not the session's defaults (tests/conftest.py)."""
    monkeypatch.delenv("RESUMEOPT_ARTIFACT_DIR", raising=False)
    monkeypatch.delenv("RESUMEOPT_ARTIFACT_KEYS", raising=False)


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server for the module, with dummy credentials in boto3's default chain."""
    with s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as url, pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield url


@cache
def raw_s3(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture(params=["local", "s3"])
def settings(request, tmp_path) -> ArtifactSettings:
    common = {"data_dir": tmp_path / "data", "artifact_keys": SecretStr(OLD)}
    if request.param == "local":
        return ArtifactSettings(**common)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    raw_s3(endpoint).create_bucket(Bucket=bucket)
    return ArtifactSettings(artifacts="s3", s3_bucket=bucket, s3_prefix="ro/", s3_endpoint_url=endpoint,
                            s3_region="us-east-1", **common)


@pytest.fixture
def store(settings):
    return open_artifacts(settings)


def with_keys(settings: ArtifactSettings, spec: str) -> ArtifactSettings:
    return settings.model_copy(update={"artifact_keys": SecretStr(spec)})


def at_rest(settings: ArtifactSettings, key: str) -> bytes:
    if settings.artifacts == "local":
        return (settings.resolved_artifact_dir() / key).read_bytes()
    s3 = raw_s3(settings.s3_endpoint_url)
    return s3.get_object(Bucket=settings.s3_bucket, Key=settings.s3_prefix + key)["Body"].read()


def write_at_rest(settings: ArtifactSettings, key: str, blob: bytes) -> None:
    if settings.artifacts == "local":
        path = settings.resolved_artifact_dir() / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    else:
        raw_s3(settings.s3_endpoint_url).put_object(Bucket=settings.s3_bucket, Key=settings.s3_prefix + key,
                                                    Body=blob)


# --- round trip and atomicity --------------------------------------------------------------------------


def test_round_trip(store):
    assert not store.exists(KEY)
    with pytest.raises(ArtifactNotFound):
        store.get(KEY)
    store.put(KEY, RESUME)
    assert store.exists(KEY) and store.get(KEY) == RESUME
    store.put(KEY, b"")
    assert store.get(KEY) == b""
    store.put("jobs/j-1/result.docx", bytes(range(256)) * 4)
    assert store.get("jobs/j-1/result.docx") == bytes(range(256)) * 4


def test_not_found_is_a_key_error(store):
    with pytest.raises(KeyError):
        store.get("jobs/none/result.json")


def test_a_reader_never_sees_half_a_put(store):
    """Two 1 MB versions alternate under one key while readers read it: every read is one or the other
    (a torn write would fail authentication, or compare unequal)."""
    versions = (b"a" * 1_000_000, b"b" * 1_000_000)
    store.put(KEY, versions[0])
    done, reads, bad = threading.Event(), [], []

    def read():
        while not done.is_set():
            try:
                data = store.get(KEY)
            except (ArtifactCorrupt, ArtifactNotFound) as e:
                bad.append(repr(e))
                continue
            if data in versions:
                reads.append(1)
            else:
                bad.append(f"{len(data)} bytes, neither version")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for i in range(30):
        store.put(KEY, versions[i % 2])
    done.set()
    for t in readers:
        t.join(timeout=30)
    assert bad == [] and reads


def test_put_if_absent_has_one_winner_among_racing_writers(store):
    """12 writers released at once, 20 times. A check-then-write put_if_absent fails this in every run
    tried (5 of 5 on ext4); with 4 rounds it passed."""
    for round_ in range(20):
        key, writers = f"jobs/race-{round_}/result.json", 12
        barrier = threading.Barrier(writers)

        def write(i: int) -> bool:
            barrier.wait(timeout=10)
            return store.put_if_absent(key, f"result of writer {i}".encode())

        with ThreadPoolExecutor(writers) as pool:
            results = list(pool.map(write, range(writers)))
        assert results.count(True) == 1, results
        assert store.get(key) == f"result of writer {results.index(True)}".encode()


def test_put_if_absent_keeps_what_is_there(store):
    assert store.put_if_absent(KEY, b"first") is True
    assert store.put_if_absent(KEY, b"second") is False
    assert store.get(KEY) == b"first"


# --- encryption at rest --------------------------------------------------------------------------------


def test_what_is_at_rest_is_encrypted(store, settings):
    store.put(KEY, RESUME)
    blob = at_rest(settings, KEY)
    assert b"jane.candidate@example.com" not in blob and b"Initech" not in blob
    assert blob.startswith(b"roa\x01") and sealed_key_id(blob) == "old"
    store.put("jobs/j-1/copy.json", RESUME)
    assert at_rest(settings, "jobs/j-1/copy.json")[32:] != blob[32:]  # a fresh nonce per write
    assert [(i.key, i.size) for i in store.list("jobs/j-1/input")] == [(KEY, len(RESUME))]


@pytest.mark.parametrize("where", [0, 3, 5, 25, 40, -1])
def test_altered_bytes_are_corrupt(store, settings, where):
    """Magic, version, key id, nonce, ciphertext, tag: a flipped bit anywhere is refused."""
    store.put(KEY, RESUME)
    blob = bytearray(at_rest(settings, KEY))
    blob[where] ^= 0x01
    write_at_rest(settings, KEY, bytes(blob))
    with pytest.raises(ArtifactCorrupt):
        store.get(KEY)


def test_truncated_or_foreign_bytes_are_corrupt(store, settings):
    store.put(KEY, RESUME)
    write_at_rest(settings, KEY, at_rest(settings, KEY)[:-1])
    with pytest.raises(ArtifactCorrupt):
        store.get(KEY)
    write_at_rest(settings, KEY, RESUME)
    with pytest.raises(ArtifactCorrupt, match="not a sealed artifact"):
        store.get(KEY)


def test_a_ciphertext_moved_to_another_key_is_corrupt(store, settings):
    store.put("jobs/j-1/result.json", b'{"score": 91}')
    store.put("jobs/j-2/result.json", b'{"score": 12}')
    write_at_rest(settings, "jobs/j-2/result.json", at_rest(settings, "jobs/j-1/result.json"))
    with pytest.raises(ArtifactCorrupt, match="failed authentication"):
        store.get("jobs/j-2/result.json")


def test_rotation_new_key_writes_old_key_still_reads(store, settings):
    store.put("jobs/j-1/input.json", b"before rotation")
    rotated = open_artifacts(with_keys(settings, f"{NEW},{OLD}"))
    assert rotated.get("jobs/j-1/input.json") == b"before rotation"
    rotated.put("jobs/j-2/input.json", b"after rotation")
    assert sealed_key_id(at_rest(settings, "jobs/j-2/input.json")) == "new"
    only_new = open_artifacts(with_keys(settings, NEW))
    assert only_new.get("jobs/j-2/input.json") == b"after rotation"
    with pytest.raises(ArtifactCorrupt, match="key id 'old', which is not among the configured"):
        only_new.get("jobs/j-1/input.json")


def test_a_wrong_key_under_the_same_id_is_corrupt_not_garbage(store, settings):
    store.put(KEY, RESUME)
    impostor = open_artifacts(with_keys(settings, new_key_entry("old")))
    with pytest.raises(ArtifactCorrupt, match="not the key it was written with"):
        impostor.get(KEY)


# --- keys ----------------------------------------------------------------------------------------------

BAD_KEYS = ["../x", "jobs/../../x", "/etc/passwd", "jobs//x", "jobs/x/", "", ".hidden", "jobs/./x",
            "jobs/.tmp-1", "jobs/a b", "jobs\\x", "jobs/é", "x" * 513, "jobs/x\n"]


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_unsafe_keys_are_refused(store, settings, bad):
    for call in (lambda: store.put(bad, b"x"), lambda: store.put_if_absent(bad, b"x"),
                 lambda: store.get(bad), lambda: store.exists(bad)):
        with pytest.raises(ValueError):
            call()
    assert not (settings.data_dir.parent / "x").exists()


@pytest.mark.parametrize("bad", ["", "/", "../", "jobs//", "/jobs/"])
def test_delete_prefix_refuses_empty_or_unsafe_prefixes(store, bad):
    store.put(KEY, b"x")
    with pytest.raises(ValueError):
        store.delete_prefix(bad)
    assert store.exists(KEY)


def test_keys_with_every_allowed_character(store):
    key = "jobs/J_1-a.b=c+d/out.v2.json"
    store.put(key, b"ok")
    assert store.get(key) == b"ok" and [i.key for i in store.list("jobs/")] == [key]


# --- list, delete, pagination ----------------------------------------------------------------------------


def test_list_and_delete_prefix_past_one_page(store):
    """1,010 objects: more than one page of S3's 1,000 for listing and for DeleteObjects."""
    many = [f"jobs/big/{i:05d}.json" for i in range(1010)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put(k, b"{}"), many + ["jobs/bigger/x.json", "jobs/small/x.json"]))
    listed = store.list("jobs/big/")
    assert [i.key for i in listed] == many
    assert {i.size for i in listed} == {2}
    assert len(store.list("jobs/big")) == 1011  # a string prefix, as in S3
    assert store.delete_prefix("jobs/big/") == 1010
    assert store.list("jobs/big/") == [] and not store.exists(many[0])
    assert [i.key for i in store.list("")] == ["jobs/bigger/x.json", "jobs/small/x.json"]


def test_s3_pages_of_any_size(s3_endpoint):
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    raw_s3(s3_endpoint).create_bucket(Bucket=bucket)
    backend = S3ArtifactStore(bucket, "ro", raw_s3(s3_endpoint), page_size=3)
    for i in range(10):
        backend.put(f"jobs/p/{i}", b"x")
    assert [i.key for i in backend.list("jobs/p/")] == [f"jobs/p/{i}" for i in range(10)]
    assert backend.delete_prefix("jobs/") == 10 and backend.list("") == []


def test_listing_reports_utc_times_and_plaintext_sizes(store):
    before = datetime.now(timezone.utc) - timedelta(seconds=2)
    store.put(KEY, RESUME)
    [info] = store.list("jobs/")
    assert info.size == len(RESUME)
    assert info.modified.utcoffset() == timedelta(0)
    assert before <= info.modified <= datetime.now(timezone.utc) + timedelta(seconds=2)


# --- retention -------------------------------------------------------------------------------------------


def test_sweep_keeps_what_is_newer_and_deletes_what_is_older(store):
    for i in range(3):
        store.put(f"jobs/j-{i}/input.json", b"x")
    now = datetime.now(timezone.utc)
    assert store.sweep(now - timedelta(days=1)) == 0
    assert len(store.list("")) == 3
    # S3's LastModified cannot be set: a cut-off in the future makes every object "older".
    assert store.sweep(now + timedelta(minutes=1)) == 3
    assert store.list("") == []


def test_sweep_expired_applies_retention_days(store, settings):
    store.put(KEY, b"x")
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert sweep_expired(store, settings.model_copy(update={"artifact_retention_days": 0}), now=later) == 0
    assert sweep_expired(store, settings, now=later - timedelta(days=2)) == 0
    assert sweep_expired(store, settings, now=later) == 1 and not store.exists(KEY)


def test_sweep_needs_an_aware_time(store):
    with pytest.raises(ValueError, match="timezone-aware"):
        store.sweep(datetime.now())


def test_local_sweep_by_file_age(tmp_path):
    settings = ArtifactSettings(data_dir=tmp_path, artifact_keys=SecretStr(OLD))
    store = open_artifacts(settings)
    store.put("jobs/old/input.json", b"old")
    store.put("jobs/new/input.json", b"new")
    folder = settings.resolved_artifact_dir()
    forty_days_ago = (datetime.now(timezone.utc) - timedelta(days=40)).timestamp()
    os.utime(folder / "jobs/old/input.json", (forty_days_ago, forty_days_ago))
    crashed = folder / "jobs/new/.tmp-crashed"  # a writer killed between write and rename
    crashed.write_bytes(b"partial")
    os.utime(crashed, (forty_days_ago, forty_days_ago))
    assert sweep_expired(store, settings) == 1
    assert [i.key for i in store.list("")] == ["jobs/new/input.json"]
    assert not crashed.exists() and not (folder / "jobs/old").exists()


def test_local_delete_prefix_leaves_no_empty_folder(tmp_path):
    settings = ArtifactSettings(data_dir=tmp_path, artifact_keys=SecretStr(OLD))
    store = open_artifacts(settings)
    store.put("jobs/j-1/a/b.json", b"x")
    assert store.delete_prefix("jobs/j-1/") == 1
    assert not (settings.resolved_artifact_dir() / "jobs/j-1").exists()
    store.put("jobs/j-1/a/b.json", b"again")
    assert store.get("jobs/j-1/a/b.json") == b"again"


# --- settings and key files --------------------------------------------------------------------------------


def test_embedded_default_generates_a_private_key_file(tmp_path):
    settings = ArtifactSettings(data_dir=tmp_path / "data", artifact_keys=None)
    store = open_artifacts(settings)
    store.put(KEY, RESUME)
    key_file = tmp_path / "data" / "artifacts.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert RESUME not in (tmp_path / "data" / "artifacts" / KEY).read_bytes()
    assert open_artifacts(settings).get(KEY) == RESUME
    key_file.write_text(new_key_entry("other") + "\n")
    with pytest.raises(ArtifactCorrupt):
        open_artifacts(settings).get(KEY)


def test_processes_starting_at_once_share_one_generated_key(tmp_path):
    barrier = threading.Barrier(8)

    def start(_):
        barrier.wait(timeout=10)
        return ensure_local_keys(tmp_path)

    with ThreadPoolExecutor(8) as pool:
        specs = set(pool.map(start, range(8)))
    assert len(specs) == 1 and parse_keys(specs.pop()).primary.startswith("local-")
    assert [p.name for p in tmp_path.iterdir()] == ["artifacts.key"]


def test_s3_needs_explicit_keys_and_a_bucket(tmp_path):
    with pytest.raises(ValueError, match="RESUMEOPT_ARTIFACT_KEYS"):
        open_artifacts(ArtifactSettings(data_dir=tmp_path, artifacts="s3", s3_bucket="b"))
    with pytest.raises(ValueError, match="RESUMEOPT_S3_BUCKET"):
        open_artifacts(ArtifactSettings(data_dir=tmp_path, artifacts="s3", artifact_keys=SecretStr(OLD)))
    assert not (tmp_path / "artifacts.key").exists()


def test_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESUMEOPT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RESUMEOPT_ARTIFACT_KEYS", f"{NEW}, {OLD}")
    monkeypatch.setenv("RESUMEOPT_ARTIFACT_RETENTION_DAYS", "7")
    settings = ArtifactSettings()
    assert settings.resolved_artifact_dir() == tmp_path / "artifacts"
    assert settings.artifact_retention_days == 7 and NEW not in repr(settings)
    assert list(parse_keys(settings.artifact_keys.get_secret_value()).ciphers) == ["new", "old"]


SHORT, LONG = base64.b64encode(b"k" * 16).decode(), base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize("spec, message", [
    ("", "holds no key"), ("nokey", "entry 1 is not id:base64key"), (f"bad id:{SHORT}", "the id before ':'"),
    (f"k1:{SHORT}", "16 bytes; AES-256 needs 32"), ("k1:not base64!", "not base64"),
    (f"dup:{LONG},dup:{LONG}", "appears twice"),
])
def test_bad_key_specs_are_refused_without_echoing_the_key(spec, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_keys(spec)
    assert SHORT not in str(caught.value) and LONG not in str(caught.value)
