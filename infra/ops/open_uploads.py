"""The multipart uploads a run has open, so that stopping it can abort them: parts of an unfinished upload are
billed until it is completed or aborted (S3 API reference, UploadPart and AbortMultipartUpload). A part still
being sent when its upload is aborted may or may not be stored (AbortMultipartUpload): the bucket's lifecycle rule
(AbortIncompleteMultipartUpload, components/storage.py) removes such leftovers.
"""

from __future__ import annotations

import threading
from typing import Any

from infra.ops.aws_errors import AWS_ERRORS


class ActiveUploads:
    """Multipart uploads under way, so that stopping the run can abort them (AbortMultipartUpload)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, str] = {}  # upload id -> key
        self._closed = False
        self.aborted = 0  # uploads this run aborted, by abort() or abort_all()

    def add(self, key: str, upload_id: str) -> bool:
        """Register an upload; False once abort_all ran (the caller then aborts its own)."""
        with self._lock:
            if not self._closed:
                self._uploads[upload_id] = key
            return not self._closed

    def count(self) -> int:
        """How many uploads are registered (open)."""
        with self._lock:
            return len(self._uploads)

    def discard(self, upload_id: str) -> None:
        """Forget an upload that was completed or aborted."""
        with self._lock:
            self._uploads.pop(upload_id, None)

    def abort(self, s3: Any, bucket: str, key: str, upload_id: str) -> None:
        """AbortMultipartUpload of one upload (a failure is left to the bucket's lifecycle rule)."""
        self.discard(upload_id)
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except AWS_ERRORS:
            return
        with self._lock:
            self.aborted += 1

    def abort_all(self, s3: Any, bucket: str) -> int:
        """Abort every registered upload (none can register after); how many this run aborted in all."""
        with self._lock:
            self._closed = True
            uploads, self._uploads = self._uploads, {}
        for upload_id, key in uploads.items():
            self.abort(s3, bucket, key, upload_id)
        return self.aborted
