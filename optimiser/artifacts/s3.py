"""The S3-compatible backend (AWS S3, MinIO, R2, ...): one object per artifact under a key prefix.

A PUT replaces an object atomically, so `put` is one request. `put_if_absent` is a conditional write
(`If-None-Match: *`, S3 since 2024-08): the store answers 412 to every writer but the first. Credentials
come from boto3's default chain (environment, shared files, instance role)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from optimiser.artifacts.store import ArtifactInfo, ArtifactNotFound, check_aware, check_key, check_prefix

MAX_PAGE = 1000          # S3's bound for ListObjectsV2 and DeleteObjects
CONFLICT_RETRIES = 5     # 409 ConditionalRequestConflict: another conditional write is in flight; retry


def s3_client(endpoint_url: str = "", region: str = ""):
    config = Config(
        connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=32,  # one client is shared by a worker's threads; botocore's default is 10
        # boto3 1.36 began sending CRC checksums on every upload, which several S3-compatible servers
        # refuse; AES-GCM already authenticates every byte end to end, so only send them where required.
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
        s3={"addressing_style": "path" if endpoint_url else "auto"},  # custom endpoints rarely have bucket DNS
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None,
                                          region_name=region or None, config=config)


class S3ArtifactStore:
    def __init__(self, bucket: str, prefix: str = "", client=None, page_size: int = MAX_PAGE):
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE}")
        self.bucket, self.page_size = bucket, page_size
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or s3_client()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + check_key(key), Body=data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        name, attempt = self.prefix + check_key(key), 0
        while True:
            try:
                self.client.put_object(Bucket=self.bucket, Key=name, Body=data, IfNoneMatch="*")
                return True
            except ClientError as e:
                if _status(e) == 412:
                    return False
                attempt += 1
                if _status(e) != 409 or attempt == CONFLICT_RETRIES:
                    raise
            time.sleep(0.05 * 2 ** attempt)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + check_key(key))
        except ClientError as e:
            if _status(e) == 404:
                raise ArtifactNotFound(key) from None
            raise
        with response["Body"] as body:
            return body.read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + check_key(key))
            return True
        except ClientError as e:
            if _status(e) == 404:
                return False
            raise

    def list(self, prefix: str) -> list[ArtifactInfo]:
        return [ArtifactInfo(obj["Key"][len(self.prefix):], obj["Size"],
                             obj["LastModified"].astimezone(timezone.utc))
                for obj in self._objects(check_prefix(prefix))]

    def delete_prefix(self, prefix: str) -> int:
        return self._delete(obj["Key"] for obj in self._objects(check_prefix(prefix, allow_empty=False)))

    def sweep(self, older_than: datetime) -> int:
        check_aware(older_than)
        return self._delete(obj["Key"] for obj in self._objects("") if obj["LastModified"] < older_than)

    def _objects(self, prefix: str) -> Iterator[dict]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix, PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            yield from page.get("Contents", [])

    def _delete(self, names: Iterable[str]) -> int:
        deleted = 0
        for batch in _batches(names, self.page_size):
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": n} for n in batch], "Quiet": False})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise OSError(f"S3 refused to delete {len(response['Errors'])} of {len(batch)} objects, "
                              f"e.g. {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}")
            deleted += len(response.get("Deleted", []))
        return deleted


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _status(error: ClientError) -> int:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
