"""Artifact store latency and throughput: put and get of 10 KB and 1 MB objects, encrypted (AES-256-GCM),
on the local backend (a temp folder; every put fsyncs the file and its folder) and on the S3 backend
against moto's S3 server on loopback (an in-memory Python server: a floor for protocol and signing cost,
not a prediction for AWS). The `seal only` rows are the encryption alone, in memory.

    .venv/bin/python -m tests.perf.bench_artifacts [--n-small 300] [--n-large 40]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from pydantic import SecretStr

from optimiser.artifacts import ArtifactSettings, open_artifacts
from optimiser.artifacts.encrypted import seal, unseal
from optimiser.artifacts.keys import new_key_entry, parse_keys
from tests.support import s3_server

SIZES = {"10 KB": 10 * 1024, "1 MB": 1024 * 1024}


def timed(op: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        op(i)
        out.append(time.perf_counter() - start)
    return out


def row(backend: str, size: str, op: str, secs: list[float], nbytes: int) -> str:
    p50, p99 = statistics.median(secs) * 1e3, statistics.quantiles(secs, n=100)[98] * 1e3
    mbs = nbytes * len(secs) / sum(secs) / 1e6
    return f"{backend:10} {size:>6} {op:4} {len(secs):>5} {p50:>9.2f} {p99:>9.2f} {mbs:>9.1f}"


def bench_store(name: str, store, n: dict[str, int]) -> list[str]:
    rows = []
    for size, nbytes in SIZES.items():
        data = os.urandom(nbytes)
        puts = timed(lambda i: store.put(f"bench/{size[:-3]}/{i}", data), n[size])
        gets = timed(lambda i: store.get(f"bench/{size[:-3]}/{i}"), n[size])
        rows += [row(name, size, "put", puts, nbytes), row(name, size, "get", gets, nbytes)]
    return rows


def bench_seal(n: dict[str, int]) -> list[str]:
    keyring, rows = parse_keys(new_key_entry("bench")), []
    for size, nbytes in SIZES.items():
        data = os.urandom(nbytes)
        sealed = seal(keyring, "bench/x", data)
        rows += [row("seal only", size, "put", timed(lambda i: seal(keyring, "bench/x", data), n[size]), nbytes),
                 row("seal only", size, "get", timed(lambda i: unseal(keyring, "bench/x", sealed), n[size]), nbytes)]
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n-small", type=int, default=300)
    p.add_argument("--n-large", type=int, default=40)
    a = p.parse_args()
    n = {"10 KB": a.n_small, "1 MB": a.n_large}
    tmp = Path(tempfile.mkdtemp(prefix="resumeopt-bench-artifacts-"))
    keys = SecretStr(new_key_entry("bench"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        endpoint = stack.enter_context(s3_server(tmp / "moto.log"))
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
        local = open_artifacts(ArtifactSettings(data_dir=tmp / "data", artifact_keys=keys))
        s3 = open_artifacts(ArtifactSettings(artifacts="s3", s3_bucket="bench", s3_endpoint_url=endpoint,
                                             s3_region="us-east-1", artifact_keys=keys))
        rows = bench_seal(n) + bench_store("local", local, n) + bench_store("s3 (moto)", s3, n)
    print(f"{'backend':10} {'size':>6} {'op':4} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'MB/s':>9}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
