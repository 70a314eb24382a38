"""One local file into one S3 object, never stored torn and never left half-uploaded.

- What is sent is what was hashed: each part (or the single PutObject body) is read once into memory, hashed, and
  sent with its SHA-256 as ChecksumSHA256, which S3 checks against the bytes it receives (botocore's
  s3/2006-03-01/service-2.json: UploadPartRequest / PutObjectRequest ChecksumSHA256; CreateMultipartUpload
  ChecksumAlgorithm SHA256; CompletedPart ChecksumSHA256). Parts are read front to back, so the whole file is
  hashed too; the object's `sha256` metadata is the hash of a first read, and the upload is completed only if
  the bytes sent hash the same, the size matches and the file's size, mtime and inode did not move meanwhile.
  Otherwise the multipart upload is aborted (a single PutObject is deleted) and the file fails: FileChangedError.
- Resuming: an unfinished upload of the key made by this tool (ListMultipartUploads, ChecksumAlgorithm SHA256) is
  continued; a listed part is reused only if its size and ChecksumSHA256 (or, without one, its ETag: the MD5 of
  an unencrypted or SSE-S3 part) match the local bytes of that part (ListParts), the others are sent again.
- Parts: 5 MiB to 5 GiB, the last one smaller, at most 10,000 (S3 multipart upload limits,
  docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): part_size_for raises the part size to fit.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Optional

import botocore.exceptions

from infra.ops.aws_errors import AWS_ERRORS, failure_kind
from infra.ops.open_uploads import ActiveUploads
from infra.ops.workers import run_parallel

MIB = 1024 * 1024
MIN_PART, MAX_PART, MAX_PARTS = 5 * MIB, 5 * 1024 * MIB, 10_000
DEFAULT_PART = 8 * MIB
CHUNK = 8 * MIB


class FileChangedError(RuntimeError):
    """The local file changed while it was read or sent; nothing of it is left in S3."""


class StoppedError(RuntimeError):
    """The run is stopping (Ctrl-C, SIGTERM, a fatal error elsewhere)."""


def part_size_for(size: int, wanted: int = DEFAULT_PART) -> int:
    """`wanted`, raised to whole MiB so that the file needs at most 10,000 parts; ValueError past 5 GiB parts."""
    needed = -(-size // MAX_PARTS)
    part = max(wanted, -(-needed // MIB) * MIB)
    if part > MAX_PART:
        raise ValueError(f"{size} bytes is more than S3 takes in one object ({MAX_PARTS} parts of 5 GiB)")
    return part


def b64(digest: bytes) -> str:
    """Base64 text, as S3's Checksum* fields carry a digest."""
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Snapshot:
    """What says a file was not touched: size, modification time, and the inode (an editor's save replaces it)."""

    size: int
    mtime_ns: int
    inode: tuple[int, int]

    @classmethod
    def of(cls, path: Path) -> Snapshot:
        st = os.stat(path, follow_symlinks=False)
        return cls(st.st_size, st.st_mtime_ns, (st.st_dev, st.st_ino))


@dataclass
class Piece:
    """One part as read: its number, bytes, base64 SHA-256 (S3's ChecksumSHA256) and hex MD5 (a plain ETag)."""

    number: int
    data: bytes
    sha256: str
    md5: str


@dataclass
class Destination:
    """Where one file goes and how: the client, the object, part size and threads, the run's shared state."""

    s3: Any
    bucket: str
    key: str
    part_size: int
    threads: int
    active: ActiveUploads
    stopped: Callable[[], bool]
    sent: Callable[[int], None]  # progress: bytes that went over the wire


def remote_object(s3: Any, bucket: str, key: str) -> Optional[dict[str, Any]]:
    """HeadObject, or None when there is no such object."""
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def sha256_of(fh: BinaryIO) -> tuple[str, int]:
    """(hex SHA-256, bytes read) of an open file, from the start."""
    fh.seek(0)
    digest, count = hashlib.sha256(), 0
    for block in iter(lambda: fh.read(CHUNK), b""):
        digest.update(block)
        count += len(block)
    return digest.hexdigest(), count


def send_file(dest: Destination, local: Path) -> str:
    """Upload `local` unless the object already has its size and SHA-256: "skipped", "uploaded" or "resumed"."""
    before = Snapshot.of(local)
    with os.fdopen(os.open(local, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as fh:
        digest, count = sha256_of(fh)
        if count != before.size:
            raise changed(local, f"{before.size} bytes when listed, {count} read")
        remote = remote_object(dest.s3, dest.bucket, dest.key)
        if remote and remote.get("ContentLength") == count and remote.get("Metadata", {}).get("sha256") == digest:
            return "skipped"
        if count <= dest.part_size:
            return put_whole(dest, fh, local, before, digest)
        return put_parts(dest, fh, local, before, digest)


def changed(local: Path, what: str) -> FileChangedError:
    """The error of a file that moved under the upload."""
    return FileChangedError(f"{local}: changed while it was being uploaded ({what}); nothing of it was kept in S3: "
                            "upload it again once it is complete")


def put_whole(dest: Destination, fh: BinaryIO, local: Path, before: Snapshot, digest: str) -> str:
    """One PutObject of the bytes read now, if they are the bytes hashed; deleted again if the file moved."""
    fh.seek(0)
    data = fh.read(before.size + 1)
    check = hashlib.sha256(data)
    if len(data) != before.size or check.hexdigest() != digest:
        raise changed(local, "its bytes differ from a moment ago")
    s3, sha = dest.s3, b64(check.digest())
    answer = s3.put_object(Bucket=dest.bucket, Key=dest.key, Body=data, ChecksumSHA256=sha, Metadata={"sha256": digest})
    dest.sent(len(data))
    moved = Snapshot.of(local) != before
    if moved or answer.get("ChecksumSHA256", sha) != sha:
        s3.delete_object(Bucket=dest.bucket, Key=dest.key)
        raise changed(local, "size, time or inode moved" if moved else "S3 stored other bytes")
    return "uploaded"


def listed_parts(s3: Any, bucket: str, key: str, upload_id: str) -> dict[int, dict[str, Any]]:
    """ListParts of an upload, every page, by part number."""
    pages = s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id)
    return {p["PartNumber"]: p for page in pages for p in page.get("Parts", [])}


def resume_or_create(dest: Destination, digest: str) -> tuple[str, dict[int, dict[str, Any]], bool]:
    """(upload id, parts already there, whether it is resumed) of this tool's unfinished upload of the key, else
    of a new one."""
    s3, bucket, key = dest.s3, dest.bucket, dest.key
    try:
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key)
        uploads = [u for page in pages for u in page.get("Uploads", [])]
    except botocore.exceptions.ClientError as exc:
        if failure_kind(exc) != "denied":
            raise
        uploads = []  # no s3:ListBucketMultipartUploads: upload afresh
    for upload in sorted(uploads, key=lambda u: str(u.get("Initiated", "")), reverse=True):
        if upload.get("Key") == key and upload.get("ChecksumAlgorithm") == "SHA256":
            try:
                return upload["UploadId"], listed_parts(s3, bucket, key, upload["UploadId"]), True
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                         Metadata={"sha256": digest})
    return created["UploadId"], {}, False


def part_matches(listed: Optional[dict[str, Any]], piece: Piece) -> bool:
    """Whether a part already in S3 holds exactly these bytes (by ChecksumSHA256 when S3 lists one, else the ETag)."""
    if not listed or listed.get("Size") != len(piece.data):
        return False
    if listed.get("ChecksumSHA256"):
        return bool(listed["ChecksumSHA256"] == piece.sha256)
    return bool(str(listed.get("ETag", "")).strip('"') == piece.md5)


def composite(parts: list[dict[str, Any]]) -> str:
    """S3's checksum of a multipart object made with SHA256: the SHA-256 of the parts' SHA-256s, then `-<parts>`."""
    joined = b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in parts)
    return f"{b64(hashlib.sha256(joined).digest())}-{len(parts)}"


def put_parts(dest: Destination, fh: BinaryIO, local: Path, before: Snapshot, digest: str) -> str:
    """A multipart upload (resumed when one is there), completed only when every check holds, else aborted."""
    s3, bucket, key = dest.s3, dest.bucket, dest.key
    upload_id, listed, resumed = resume_or_create(dest, digest)
    if not dest.active.add(key, upload_id):
        dest.active.abort(s3, bucket, key, upload_id)
        raise StoppedError("stopped")
    whole, count = hashlib.sha256(), [0]

    def pieces() -> Iterator[Piece]:
        fh.seek(0)
        for number, data in enumerate(iter(lambda: fh.read(dest.part_size), b""), start=1):
            whole.update(data)
            count[0] += len(data)
            yield Piece(number, data, b64(hashlib.sha256(data).digest()),
                        hashlib.md5(data, usedforsecurity=False).hexdigest())

    def send(piece: Piece) -> dict[str, Any]:
        if part_matches(listed.get(piece.number), piece):
            return {"PartNumber": piece.number, "ETag": listed[piece.number]["ETag"], "ChecksumSHA256": piece.sha256}
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=piece.number, Body=piece.data,
                                ChecksumSHA256=piece.sha256)
        dest.sent(len(piece.data))
        return {"PartNumber": piece.number, "ETag": answer["ETag"], "ChecksumSHA256": piece.sha256}

    failures: list[BaseException] = []
    done: list[dict[str, Any]] = []
    for outcome in run_parallel(pieces(), send, dest.threads, lambda: bool(failures) or dest.stopped(), "part"):
        if outcome.error is not None:
            failures.append(outcome.error)
        elif outcome.result is not None:
            done.append(outcome.result)
    try:
        if failures:
            raise failures[0]
        if dest.stopped():
            raise StoppedError("stopped")
        if count[0] != before.size or whole.hexdigest() != digest or Snapshot.of(local) != before:
            raise changed(local, "its bytes, size, time or inode differ from when it was hashed")
        done.sort(key=lambda p: int(p["PartNumber"]))
        answer = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": done})
    except BaseException as exc:
        if not (isinstance(exc, AWS_ERRORS) and failure_kind(exc) == "network"):  # unreachable: kept, to resume
            dest.active.abort(s3, bucket, key, upload_id)
        raise
    dest.active.discard(upload_id)
    return check_completed(dest, local, digest, answer, done, resumed=resumed)


def check_completed(dest: Destination, local: Path, digest: str, answer: dict[str, Any],
                    parts: list[dict[str, Any]], resumed: bool) -> str:
    """After CompleteMultipartUpload: S3's composite checksum is the parts' (when S3 returns one), and a resumed
    upload's `sha256` metadata (set when it began) is this file's; otherwise the object is deleted."""
    s3, bucket, key = dest.s3, dest.bucket, dest.key
    returned = str(answer.get("ChecksumSHA256") or "")
    if returned and returned.split("-")[0] != composite(parts).split("-")[0]:
        s3.delete_object(Bucket=bucket, Key=key)
        raise changed(local, "S3 assembled other bytes than were sent")
    if resumed:
        head = remote_object(s3, bucket, key) or {}
        if head.get("Metadata", {}).get("sha256") != digest:
            s3.delete_object(Bucket=bucket, Key=key)
            raise FileChangedError(f"{local}: changed since its interrupted upload began; that upload was discarded: "
                                   "run again to upload it afresh")
        return "resumed"
    return "uploaded"
