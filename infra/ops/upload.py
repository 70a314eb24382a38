"""Stage datasets into the stack's buckets: multipart, checksummed, resumable, with progress and a summary.

An object counts as already there when its size and its SHA-256 (kept in the object's
metadata as `sha256`) match the local file, so a re-run after an interruption sends only what
is missing or changed. S3 also checks every part with its own SHA-256 (ChecksumAlgorithm).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TextIO

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

MULTIPART_THRESHOLD = 8 * 1024 * 1024
CHUNK = 8 * 1024 * 1024


class UploadError(RuntimeError):
    """A problem the user can fix (missing bucket, no access, bad path)."""


@dataclass
class Summary:
    """What one run did."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_sent: int = 0

    def line(self) -> str:
        """One line for the terminal."""
        return (f"uploaded {len(self.uploaded)} files ({self.bytes_sent / 2**20:.1f} MiB), "
                f"skipped {len(self.skipped)} already present with the same size and SHA-256")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class Progress:
    """A one-line progress bar on stderr (boto3 calls it from several threads)."""

    def __init__(self, name: str, size: int, out: TextIO) -> None:
        self.name, self.size, self.out, self.seen = name, max(size, 1), out, 0
        self.lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self.lock:
            self.seen += amount
            done = int(30 * self.seen / self.size)
            self.out.write(f"\r{self.name[-40:]:<40} [{'#' * done}{'.' * (30 - done)}] {100 * self.seen // self.size:3d}%")
            if self.seen >= self.size:
                self.out.write("\n")
            self.out.flush()


def files_under(path: Path) -> list[tuple[Path, str]]:
    """(file, key relative to `path`) for a file or every file below a folder, sorted."""
    if path.is_file():
        return [(path, path.name)]
    if not path.is_dir():
        raise UploadError(f"{path}: no such file or folder")
    return sorted((p, p.relative_to(path).as_posix()) for p in path.rglob("*") if p.is_file())


def _remote(s3: Any, bucket: str, key: str) -> Optional[dict[str, Any]]:
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def check_bucket(s3: Any, bucket: str) -> None:
    """A clear error for a missing or unreachable bucket."""
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UploadError(f"bucket {bucket!r} does not exist; the stack's buckets are in its `dataBuckets` output "
                              "(pulumi stack output dataBuckets)") from None
        if code in ("403", "AccessDenied"):
            raise UploadError(f"bucket {bucket!r}: access denied for these credentials") from None
        raise


def upload(path: Path, bucket: str, prefix: str = "", session: Optional[boto3.session.Session] = None,
           out: TextIO = sys.stderr) -> Summary:
    """Upload a file or folder to s3://bucket/prefix, skipping objects that are already identical."""
    s3 = (session or boto3.session.Session()).client("s3")
    check_bucket(s3, bucket)
    config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
    summary = Summary()
    for local, rel in files_under(path):
        key = f"{prefix.rstrip('/')}/{rel}" if prefix else rel
        size, digest = local.stat().st_size, sha256_of(local)
        remote = _remote(s3, bucket, key)
        if remote and remote.get("ContentLength") == size and remote.get("Metadata", {}).get("sha256") == digest:
            summary.skipped.append(key)
            continue
        s3.upload_file(str(local), bucket, key, Config=config, Callback=Progress(key, size, out),
                       ExtraArgs={"Metadata": {"sha256": digest}, "ChecksumAlgorithm": "SHA256"})
        if size == 0:
            out.write(f"{key[-40:]:<40} (empty)\n")
        summary.uploaded.append(key)
        summary.bytes_sent += size
    return summary
