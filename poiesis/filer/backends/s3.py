"""s3://bucket/key on any S3-compatible endpoint (boto3, streamed).

The endpoint comes from the configuration (``POIESIS_S3_ENDPOINT_URL`` or
``AWS_ENDPOINT_URL``), credentials from boto3's standard chain (the
``AWS_*`` variables, a mounted profile, instance roles); they are never
logged. botocore's own retries are off: the filer's retry policy is the one
retry layer. Downloads stream the body in chunks; uploads larger than one
part go as a multipart upload whose parts are read straight from the file,
so memory stays at about one chunk whatever the object size. A failed
multipart upload is aborted, so no partial object ever appears.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
import botocore.config
import botocore.exceptions

from poiesis.config.filer import FilerConfig
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError, TransientError
from poiesis.filer.transfer import atomic_file, check_size

log = logging.getLogger(__name__)
MAX_PARTS = 10_000
_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "SlowDown", "InternalError", "ServiceUnavailable", "Throttling"}
)
_NETWORK_ERRORS = (
    botocore.exceptions.ConnectionError,  # covers EndpointConnectionError, ConnectionClosedError, timeouts
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ResponseStreamingError,
    ConnectionError,
    TimeoutError,
)


class S3Backend(Backend):
    """One boto3 client for every S3 URL of a task."""

    def __init__(self, config: FilerConfig) -> None:
        super().__init__(config)
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.s3_endpoint_url,
            region_name=config.s3_region,
            config=botocore.config.Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                s3={"addressing_style": config.s3_addressing_style},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def get_file(self, url: str, dest: Path) -> int:
        bucket, key = _split(url)
        with _errors(f"GET {url}"):
            resp = self.client.get_object(Bucket=bucket, Key=key)
            body = resp["Body"]
            try:
                with atomic_file(dest) as fh:
                    for chunk in body.iter_chunks(self.config.chunk_size):
                        fh.write(chunk)
                    size = fh.tell()
                    check_size(got=size, expected=resp.get("ContentLength"), what=f"GET {url}")
            finally:
                body.close()
            return size

    def put_file(self, src: Path, url: str) -> None:
        bucket, key = _split(url)
        if not key or key.endswith("/"):
            raise FilerError(f"{url}: an S3 object URL needs a key")
        size = src.stat().st_size
        part = max(self.config.s3_part_size, -(-size // MAX_PARTS))
        with _errors(f"PUT {url}"):
            if size <= part:
                with src.open("rb") as fh:
                    self.client.put_object(Bucket=bucket, Key=key, Body=_Window(fh, 0, size))
            else:
                self._multipart(src, bucket=bucket, key=key, part=part, size=size)

    def list_files(self, url: str) -> list[str]:
        bucket, key = _split(url)
        prefix = key.rstrip("/") + "/" if key.strip("/") else ""
        rels: list[str] = []
        with _errors(f"LIST {url}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                rels.extend(o["Key"][len(prefix):] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
        if not rels:
            raise FilerError(f"{url}: no objects under this prefix")
        return sorted(rels)

    def close(self) -> None:
        self.client.close()

    def _multipart(self, src: Path, *, bucket: str, key: str, part: int, size: int) -> None:
        upload_id = self.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            parts = []
            with src.open("rb") as fh:
                for number, offset in enumerate(range(0, size, part), start=1):
                    length = min(part, size - offset)
                    resp = self.client.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                        Body=_Window(fh, offset, length),
                    )
                    parts.append({"ETag": resp["ETag"], "PartNumber": number})
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort(bucket=bucket, key=key, upload_id=upload_id)
            raise

    def _abort(self, *, bucket: str, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001 - best effort; the upload is reported failed anyway
            log.warning("could not abort multipart upload of %s: %s", key, type(exc).__name__)


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of ``fh`` from ``offset``.

    botocore streams it (and rewinds it to sign or resend) without loading the
    part into memory. It has no ``fileno`` on purpose: botocore would take
    the whole file's size from it.
    """

    def __init__(self, fh: io.BufferedReader, offset: int, length: int) -> None:
        super().__init__()
        self._fh, self._start, self._len, self._pos = fh, offset, length, 0

    def __len__(self) -> int:
        return self._len

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}[whence]
        self._pos = max(0, min(self._len, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        left = self._len - self._pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        self._pos += len(data)
        return data

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3" or not parts.netloc:
        raise FilerError(f"{url}: not a valid s3://bucket/key URL")
    return parts.netloc, unquote(parts.path.lstrip("/"))


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """Map boto exceptions onto TransientError / FilerError, naming ``what``."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = f"{what}: {err.get('Code', 'Error')} (HTTP {status})"
        if status >= 500 or err.get("Code") in _TRANSIENT_CODES:
            raise TransientError(message) from exc
        raise FilerError(message) from exc
    except _NETWORK_ERRORS as exc:
        raise TransientError(f"{what}: {type(exc).__name__}") from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise FilerError(f"{what}: no S3 credentials configured") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise FilerError(f"{what}: {type(exc).__name__}") from exc
