"""The physical S3 name of a stack's bucket, as the program names it (infra/documents/naming.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3

from infra.config.loader import parse_stack_config
from infra.config.network import BucketConfig
from infra.config.stack import StackConfig
from infra.config.stackfile import load_stack_file
from infra.documents import naming
from infra.ops.aws_clients import client as aws_client
from infra.ops.aws_errors import aws_call


class UnknownBucketError(ValueError):
    """--bucket names no bucket of the stack."""


def physical_name(cfg: StackConfig, bucket: BucketConfig, account_id: str) -> str:
    """`bucketName` when set, else `<project>-<stack>-<name>-<account id>` (components/storage.py creates these)."""
    return bucket.bucket_name or naming.bucket_name(cfg, bucket.name, account_id)


def resolve_bucket(cfg: StackConfig, name: str, account_id: Callable[[], str]) -> str:
    """The physical name of the stack's bucket `name`: its logical name (cloudviper:buckets[].name) or its
    physical name. `account_id` is called (STS) only when a default name has to be built."""
    by_name = {b.name: b for b in cfg.buckets}
    retired = [b for b in cfg.buckets if b.retired and name in (b.name, b.bucket_name)]
    if retired:  # left in AWS, no longer the stack's: the workloads cannot read it any more
        raise UnknownBucketError(f"stack {cfg.stack}: bucket {name!r} is retired (cloudviper:buckets[].retired); "
                                 "upload to one of its live buckets: " + ", ".join(b.name for b in cfg.buckets if not b.retired))
    if name in by_name:
        b = by_name[name]
        return b.bucket_name or physical_name(cfg, b, account_id())
    if any(b.bucket_name == name for b in cfg.buckets):
        return name
    if name.startswith(naming.prefix(cfg) + "-") and cfg.buckets:
        account = account_id()
        if any(physical_name(cfg, b, account) == name for b in cfg.buckets):
            return name
    listed = ", ".join(by_name) or "none"
    raise UnknownBucketError(f"stack {cfg.stack} has no bucket {name!r}; its buckets (cloudviper:buckets[].name): {listed}")


def stack_bucket(project_dir: Path, stack: str, name: str) -> tuple[str, str]:
    """(physical bucket name, the stack's region) of the stack's bucket `name` (logical or physical).

    ConfigError for a bad stack file, UnknownBucketError for a name not in the stack, AwsCallError from STS.
    """
    found = load_stack_file(project_dir, stack)
    cfg = parse_stack_config(found.project, stack, found.values, set(found.secret_keys), found.plain_secrets)

    def account_id() -> str:
        with aws_call("sts", "GetCallerIdentity"):
            session = boto3.session.Session(region_name=cfg.region)
            return str(aws_client(session, "sts").get_caller_identity()["Account"])

    return resolve_bucket(cfg, name, account_id), cfg.region
