"""Stage datasets into the stack's buckets: several files at once, multipart, checksummed, resumable, with
overall progress (transfer_progress.py) and a summary.

Which files: upload_sources.py (no hidden files, no symbolic links, never a home folder). How each file goes:
multipart.py (hashed as sent, checked by S3, never stored torn, resumed when a run was cut short). An object
counts as already there when its size and its SHA-256 (kept in the object's metadata as `sha256`) match the
local file, so a re-run sends only what is missing or changed.

When the run stops:
- a file that changed, cannot be read or meets another AWS error fails alone (listed, exit 1), the rest go on;
- access denied (by S3 or by the bucket's KMS key), credentials that do not work, or an endpoint that cannot be
  reached or stops answering stop the whole run (UploadStoppedError): the others would fail the same way. Unfinished
  multipart uploads are aborted, except after a network failure: an abort could not get through either, and the
  next run resumes them;
- Ctrl-C or SIGTERM (Terminated): unfinished multipart uploads are aborted (UploadInterruptedError). Only a hard
  kill (SIGKILL, a crash, power loss) leaves one, which the next run resumes or the bucket's lifecycle rule
  (cloudviper:buckets[].lifecycle.abortIncompleteUploadsAfterDays, 7 days by default) removes.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TextIO

import boto3
import botocore.exceptions

from infra.ops.aws_clients import client as aws_client
from infra.ops.aws_errors import AWS_ERRORS, clean, failure_kind, one_line
from infra.ops.multipart import (
    MAX_PART,
    MIB,
    MIN_PART,
    Destination,
    FileChangedError,
    StoppedError,
    part_size_for,
    send_file,
)
from infra.ops.open_uploads import ActiveUploads
from infra.ops.transfer_progress import TransferProgress, elapsed_text, size_text
from infra.ops.upload_sources import Selection, select
from infra.ops.workers import run_parallel

DEFAULT_JOBS = 4
MAX_JOBS = 64
DEFAULT_PART_MIB = 8
FATAL = ("credentials", "denied", "kms", "network")  # kinds of failure that stop the whole run


class UploadError(RuntimeError):
    """A problem the user can fix (missing bucket, no access to it, bad path or option)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the command's signal handler."""


class UploadInterruptedError(Exception):
    """Ctrl-C or SIGTERM stopped the run; `aborted` unfinished multipart uploads were aborted."""

    def __init__(self, terminated: bool, aborted: int) -> None:
        self.terminated, self.aborted = terminated, aborted
        super().__init__("terminated" if terminated else "interrupted")


class UploadStoppedError(Exception):
    """A failure every further file would meet too: `kind` (failure_kind), the file's key, the error; how many
    unfinished multipart uploads were aborted, and how many are kept (after a network failure, to resume)."""

    def __init__(self, kind: str, key: str, error: BaseException, aborted: int, kept: int) -> None:
        self.kind, self.key, self.error, self.aborted, self.kept = kind, key, error, aborted, kept
        super().__init__(f"{one_line('s3', '', error)} (at {key})")


@dataclass
class Summary:
    """What one run did."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, one-line error)
    resumed: list[str] = field(default_factory=list)  # also in `uploaded`
    bytes_sent: int = 0
    elapsed: float = 0.0
    selection: Selection = field(default_factory=Selection)

    def line(self) -> str:
        """One line for the terminal."""
        rate = self.bytes_sent / self.elapsed if self.elapsed > 0 else 0.0
        return (f"uploaded {len(self.uploaded)} files ({size_text(self.bytes_sent)}), "
                f"skipped {len(self.skipped)} already present with the same size and SHA-256, "
                f"{len(self.failed)} failed; {elapsed_text(self.elapsed)} elapsed, {size_text(rate)}/s on average")

    def notes(self) -> list[str]:
        """Lines about resumed uploads and what the folder held but was not uploaded."""
        resumed = [f"resumed {len(self.resumed)} interrupted multipart uploads (parts already in S3 with the same "
                   "bytes were not sent again)"] if self.resumed else []
        return resumed + self.selection.notes()


def check_bucket(s3: Any, bucket: str) -> None:
    """A clear error for a missing bucket (HeadBucket needs s3:ListBucket: S3 API reference, HeadBucket)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UploadError(f"bucket {bucket!r} does not exist; the stack's buckets are in its `dataBuckets` output "
                              "(pulumi stack output dataBuckets), or give --stack NAME and the bucket's name in "
                              "the stack (cloudviper:buckets[].name)") from None
        raise  # access denied (exit 3) and the rest: the command reports the AWS error


def failure_text(local: Path, exc: BaseException) -> str:
    """One line for a file that failed: the AWS error, the OS error, or why its bytes could not be trusted."""
    if isinstance(exc, AWS_ERRORS):
        return one_line("s3", "", exc)
    if isinstance(exc, OSError):
        return f"{local}: {exc.strerror or exc}"
    return clean(str(exc))


def _options(jobs: int, part_mib: int) -> None:
    if not 1 <= jobs <= MAX_JOBS:
        raise UploadError(f"--jobs {jobs}: expected 1 to {MAX_JOBS}")
    if not MIN_PART // MIB <= part_mib <= MAX_PART // MIB:
        raise UploadError(f"--part-size {part_mib}: expected {MIN_PART // MIB} to {MAX_PART // MIB} (MiB; S3 takes "
                          "parts of 5 MiB to 5 GiB)")


def upload(path: Path, bucket: str, prefix: str = "", session: Optional[boto3.session.Session] = None,
           out: Optional[TextIO] = None, jobs: int = DEFAULT_JOBS, tty: Optional[bool] = None,
           part_mib: int = DEFAULT_PART_MIB, include_hidden: bool = False) -> Summary:
    """Upload a file or folder to s3://bucket/prefix, `jobs` files at a time, skipping objects already identical.

    Parts of `part_mib` MiB (more for a file that would need over 10,000). `tty` (default: whether `out` is a
    terminal) picks the redrawn progress line or plain log lines on `out` (default: stderr). Raises UploadError,
    UploadStoppedError, UploadInterruptedError.
    """
    out = out or sys.stderr
    _options(jobs, part_mib)
    try:
        selection = select(path, include_hidden)
        sizes = {local: local.stat(follow_symlinks=False).st_size for local, _ in selection.files}
        parts = {local: part_size_for(size, part_mib * MIB) for local, size in sizes.items()}
    except (OSError, ValueError) as exc:
        raise UploadError(str(exc)) from None
    # Threads per multipart upload: about 16 parts in flight in all, each held in memory (128 MiB at 8 MiB parts).
    per_file = max(1, 16 // jobs)
    s3 = aws_client(session or boto3.session.Session(), "s3", max_pool_connections=jobs * (per_file + 1) + 1)
    check_bucket(s3, bucket)
    progress = TransferProgress(len(sizes), sum(sizes.values()), out, out.isatty() if tty is None else tty)
    summary, stop, active = Summary(selection=selection), threading.Event(), ActiveUploads()

    def work(item: tuple[Path, str]) -> str:
        local, key = item
        reported = [0]

        def sent(amount: int) -> None:
            reported[0] += amount
            progress.bytes_sent(amount)

        try:
            return send_file(Destination(s3, bucket, key, parts[local], per_file, active, stop.is_set, sent), local)
        except AWS_ERRORS as exc:
            if failure_kind(exc) in FATAL:
                stop.set()  # before this thread draws another file
            raise
        finally:
            progress.file_done(sizes[local] - reported[0])

    keyed = [(local, f"{prefix.rstrip('/')}/{rel}" if prefix else rel) for local, rel in selection.files]
    try:
        for outcome in run_parallel(iter(keyed), work, jobs, stop.is_set, "upload"):
            local, key = outcome.item or (Path(), "")
            error = outcome.error
            if error is None:
                (summary.skipped if outcome.result == "skipped" else summary.uploaded).append(key)
                summary.resumed += [key] if outcome.result == "resumed" else []
                summary.bytes_sent += sizes[local] if outcome.result != "skipped" else 0
                continue
            kind = failure_kind(error) if isinstance(error, AWS_ERRORS) else "other"
            if kind in FATAL:
                stop.set()
                _end_line(progress)
                kept = active.count() if kind == "network" else 0
                raise UploadStoppedError(kind, key, error, 0 if kept else active.abort_all(s3, bucket), kept)
            if not isinstance(error, (*AWS_ERRORS, OSError, FileChangedError, StoppedError, ValueError)):
                raise error  # a bug: let it show
            summary.failed.append((key, failure_text(local, error)))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as Terminated
        stop.set()
        _end_line(progress)
        raise UploadInterruptedError(isinstance(exc, Terminated), active.abort_all(s3, bucket)) from None
    progress.finish()
    summary.elapsed = progress.elapsed()
    for items in (summary.uploaded, summary.skipped, summary.resumed):
        items.sort()
    summary.failed.sort()
    return summary


def _end_line(progress: TransferProgress) -> None:
    """End a redrawn progress line before an error is printed under it."""
    if progress.tty:
        progress.out.write("\n")
        progress.out.flush()
