"""S3ObjectStore: S3 or MinIO through boto3 (production).

One client per store (boto3 clients are thread-safe, sessions are not). Every botocore error becomes a
StoreError so callers depend on the port only; a missing key becomes ObjectNotFound / None.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from guichet.ports.store import ObjectNotFound, StoredObject, StoreError, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
MAX_POOL_CONNECTIONS = 64


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        create_bucket: bool = False,
        page_size: int = 1000,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.page_size = page_size  # S3 caps pages at 1000; smaller only for tests
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            # MinIO wants path-style addressing; bounded retries keep a dead endpoint from hanging callers.
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                # One client serves every request thread of a function (SSE streams poll the store too):
                # botocore's default pool of 10 connections would be re-opened over and over under load.
                max_pool_connections=MAX_POOL_CONNECTIONS,
                # botocore waits 60 s for each by default: a black-holed MinIO held an API thread ~3 min.
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            ),
        )
        if create_bucket:
            self._create_bucket(region)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredObject:
        check_key(key)
        with _errors(key):
            response = self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        return StoredObject(key, len(data), _etag(response.get("ETag", "")))

    def get(self, key: str) -> bytes:
        check_key(key)
        try:
            with _errors(key):
                return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except StoreError as exc:
            if _is_not_found(exc.__cause__):
                raise ObjectNotFound(key) from None
            raise

    def head(self, key: str) -> StoredObject | None:
        check_key(key)
        try:
            with _errors(key):
                response = self._client.head_object(Bucket=self.bucket, Key=key)
        except StoreError as exc:
            if _is_not_found(exc.__cause__):
                return None
            raise
        modified = response.get("LastModified")
        return StoredObject(
            key,
            response.get("ContentLength", 0),
            _etag(response.get("ETag", "")),
            modified.isoformat() if modified else "",
        )

    def delete(self, key: str) -> None:
        check_key(key)
        with _errors(key):  # S3 answers 204 for a missing key too
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        with _errors(prefix):
            for page in pages:
                for item in page.get("Contents", []):
                    modified = item.get("LastModified")
                    yield StoredObject(
                        item["Key"],
                        item.get("Size", 0),
                        _etag(item.get("ETag", "")),
                        modified.isoformat() if modified else "",
                    )

    def ping(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError):
            return False
        return True

    def _create_bucket(self, region: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region != "us-east-1":  # S3 rejects an explicit us-east-1 location constraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StoreError(f"création du bucket {self.bucket!r} impossible : {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"création du bucket {self.bucket!r} impossible : {exc}") from exc


@contextmanager
def _errors(key: str) -> Iterator[None]:
    """Turns botocore errors into StoreError, keeping the original as __cause__."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise StoreError(f"magasin d'objets : échec sur {key!r} : {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_not_found(exc: BaseException | None) -> bool:
    return isinstance(exc, ClientError) and _code(exc) in _NOT_FOUND


def _etag(raw: str) -> str:
    return raw.strip('"')
