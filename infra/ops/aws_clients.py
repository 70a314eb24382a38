"""Every boto3 client the tools make, with its timeouts and retries set here, in one place.

botocore waits 60 s to connect and 60 s for each read by default (botocore/config.py, Config: connect_timeout,
read_timeout), and the standard retry mode makes 3 attempts: a stalled endpoint held a command for three
minutes. Here a connection gets CONNECT_TIMEOUT, each read READ_TIMEOUT, and a call MAX_ATTEMPTS attempts in the
standard mode (botocore/config.py, `retries`: `total_max_attempts` counts the first request, as AWS_MAX_ATTEMPTS
does; botocore/args.py, _compute_retry_max_attempts). The connect timeout also bounds each write of a request
body that stops going out: urllib3 keeps it on the socket until the request is sent and only then sets the read
timeout (urllib3/connectionpool.py, HTTPConnectionPool._make_request). Both are per socket operation, not per
call: S3 keeps a long CompleteMultipartUpload alive by sending white space (S3 API reference,
CompleteMultipartUpload), so slow but live calls are not cut.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import botocore.config

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
MAX_ATTEMPTS = 3


def client_config(**extra: Any) -> botocore.config.Config:
    """The tools' client settings (plus `extra`, e.g. max_pool_connections).

    AWS_MAX_ATTEMPTS, when set, still chooses the number of attempts (botocore reads it when the config names none).
    """
    retries: dict[str, Any] = {"mode": "standard"}
    if not os.environ.get("AWS_MAX_ATTEMPTS"):
        retries["total_max_attempts"] = MAX_ATTEMPTS
    return botocore.config.Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, retries=retries, **extra)


def client(session: boto3.session.Session, service: str, **kwargs: Any) -> Any:
    """`session.client(service, ...)` with client_config(); `max_pool_connections` goes into the config."""
    pool = {"max_pool_connections": kwargs.pop("max_pool_connections")} if "max_pool_connections" in kwargs else {}
    return session.client(service, config=client_config(**pool), **kwargs)

