"""Stage datasets into the stack's buckets: several files at once, multipart, checksummed, resumable, with
overall progress (transfer_progress.py) and a summary.

An object counts as already there when its size and its SHA-256 (kept in the object's
metadata as `sha256`) match the local file, so a re-run after an interruption sends only what
is missing or changed. S3 also checks every part with its own SHA-256 (ChecksumAlgorithm).
"""

from __future__ import annotations

import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TextIO

import boto3
import botocore.config
import botocore.exceptions
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig

from infra.ops.aws_errors import AWS_ERRORS, clean, one_line
from infra.ops.transfer_progress import TransferProgress, elapsed_text, size_text

MULTIPART_THRESHOLD = 8 * 1024 * 1024
CHUNK = 8 * 1024 * 1024
DEFAULT_JOBS = 4
MAX_JOBS = 64


class UploadError(RuntimeError):
    """A problem the user can fix (missing bucket, no access, bad path)."""


@dataclass
class Summary:
    """What one run did."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, one-line error)
    bytes_sent: int = 0
    elapsed: float = 0.0

    def line(self) -> str:
        """One line for the terminal."""
        rate = self.bytes_sent / self.elapsed if self.elapsed > 0 else 0.0
        return (f"uploaded {len(self.uploaded)} files ({size_text(self.bytes_sent)}), "
                f"skipped {len(self.skipped)} already present with the same size and SHA-256, "
                f"{len(self.failed)} failed; {elapsed_text(self.elapsed)} elapsed, {size_text(rate)}/s on average")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


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
                              "(pulumi stack output dataBuckets), or give --stack NAME and the bucket's name in "
                              "the stack (cloudviper:buckets[].name)") from None
        if code in ("403", "AccessDenied"):
            raise UploadError(f"bucket {bucket!r}: access denied for these credentials") from None
        raise


def _send(s3: Any, config: TransferConfig, local: Path, size: int, bucket: str, key: str,
          progress: TransferProgress) -> str:
    """Upload one file unless the same bytes are already there; "uploaded" or "skipped"."""
    reported = 0

    def sent(amount: int) -> None:
        nonlocal reported
        reported += amount
        progress.bytes_sent(amount)

    try:
        digest = sha256_of(local)
        remote = _remote(s3, bucket, key)
        if remote and remote.get("ContentLength") == size and remote.get("Metadata", {}).get("sha256") == digest:
            return "skipped"
        s3.upload_file(str(local), bucket, key, Config=config, Callback=sent,
                       ExtraArgs={"Metadata": {"sha256": digest}, "ChecksumAlgorithm": "SHA256"})
        return "uploaded"
    finally:
        progress.file_done(size - reported)


def failure_text(local: Path, exc: BaseException) -> str:
    """One line for a file that failed: the AWS error (boto3 wraps it in S3UploadFailedError) or the OS error."""
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__cause__ or exc.__context__, AWS_ERRORS):
        exc = exc.__cause__ or exc.__context__ or exc
    if isinstance(exc, AWS_ERRORS):
        return one_line("s3", "", exc)
    if isinstance(exc, OSError):
        return f"{local}: {exc.strerror or exc}"
    return clean(str(exc))


def upload(path: Path, bucket: str, prefix: str = "", session: Optional[boto3.session.Session] = None,
           out: TextIO = sys.stderr, jobs: int = DEFAULT_JOBS, tty: Optional[bool] = None) -> Summary:
    """Upload a file or folder to s3://bucket/prefix, `jobs` files at a time, skipping objects already identical.

    A file that fails is reported in the summary and the others go on; `tty` (default: whether `out` is a
    terminal) picks the redrawn progress line or plain log lines.
    """
    if not 1 <= jobs <= MAX_JOBS:
        raise UploadError(f"--jobs {jobs}: expected 1 to {MAX_JOBS}")
    files = files_under(path)
    per_file = max(2, 16 // jobs)  # threads of each multipart upload; about 16 connections in all
    s3 = (session or boto3.session.Session()).client(
        "s3", config=botocore.config.Config(max_pool_connections=jobs * (per_file + 1)))
    check_bucket(s3, bucket)
    config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD,
                            max_concurrency=per_file)
    sizes = {local: local.stat().st_size for local, _ in files}
    progress = TransferProgress(len(files), sum(sizes.values()), out, out.isatty() if tty is None else tty)
    summary = Summary()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="upload")
    try:
        futures = {}
        for local, rel in files:
            key = f"{prefix.rstrip('/')}/{rel}" if prefix else rel
            futures[pool.submit(_send, s3, config, local, sizes[local], bucket, key, progress)] = (local, key)
        for future in as_completed(futures):
            local, key = futures[future]
            try:
                outcome = future.result()
            except (*AWS_ERRORS, S3UploadFailedError, OSError) as exc:
                summary.failed.append((key, failure_text(local, exc)))
                continue
            if outcome == "skipped":
                summary.skipped.append(key)
            else:
                summary.uploaded.append(key)
                summary.bytes_sent += sizes[local]
    except BaseException:  # Ctrl-C: drop the queued files; the ones under way finish (a re-run skips them)
        pool.shutdown(wait=False, cancel_futures=True)
        out.write("\n")
        raise
    pool.shutdown()
    progress.finish()
    summary.elapsed = progress.elapsed()
    for items in (summary.uploaded, summary.skipped):
        items.sort()
    summary.failed.sort()
    return summary
