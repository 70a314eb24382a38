"""Storage: private, encrypted, TLS-only S3 data buckets that survive `pulumi destroy`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from infra.config.network import BucketConfig, LifecycleConfig

COMPONENT_TYPE = "cloudviper:storage:DataBuckets"
RETIRED_KEY = "retiredBuckets"  # the component's input listing retired buckets' names (infra/plan/diff.py reads it)


@dataclass(frozen=True)
class DataBucketsArgs:
    """What the data buckets are built from."""

    buckets: list[BucketConfig]
    name_prefix: str
    account_id: pulumi.Input[str]


def key_needed(buckets: list[BucketConfig]) -> bool:
    """Whether the stack has its data key: a live bucket uses kms, or any bucket is kept (or retired)."""
    return any(b.encryption == "kms" and not b.retired for b in buckets) or key_kept(buckets)


def key_kept(buckets: list[BucketConfig]) -> bool:
    """Whether the data key is retained on delete: whenever any bucket is kept or retired.

    A kept bucket may hold objects encrypted with the key under an earlier config (it was `kms` once, or a
    retired one was): nothing offline can tell, and a deleted key makes them unreadable for good.
    """
    return any(not b.allow_destroy for b in buckets)


class DataBuckets(pulumi.ComponentResource):
    """The stack's data buckets and the KMS key that encrypts them.

    A bucket without `allowDestroy` is retained on delete together with its configuration
    (public-access block, policy, encryption) and the KMS key, so `pulumi destroy` stops the
    spending but leaves the data readable and locked down exactly as it was. The key stays in the
    program (and in the workloads' IAM policy) while any bucket is kept, even when none uses kms any
    more: older objects may still be encrypted with it. A `retired` bucket registers nothing (the
    engine drops it from the state and, as it is retained there, leaves it in AWS); a `renamedFrom`
    bucket keeps its resources under the new name through aliases.
    """

    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]
    kms_key_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: DataBucketsArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        retired = sorted(b.name for b in args.buckets if b.retired)
        super().__init__(COMPONENT_TYPE, name, {RETIRED_KEY: retired} if retired else None, opts)
        n = args.name_prefix
        self.bucket_names, self.bucket_arns = {}, {}
        self.kms_key_arn = None
        key: Optional[aws.kms.Key] = None
        if key_needed(args.buckets):
            kept_key = next((b.kms_key_id for b in args.buckets if b.kms_key_id), None)
            key = aws.kms.Key(
                f"{name}-key",
                description=f"{n}: encrypts the stack's S3 data buckets",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                tags={"Name": f"{n}-data"},
                # deletionWindowInDays is not read back from AWS, so an import would see it as a difference.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=key_kept(args.buckets), import_=kept_key,
                                            ignore_changes=["deletionWindowInDays"] if kept_key else None),
            )
            # Not retained: an alias is only a name (deleting it never touches the key, KMS DeleteAlias),
            # and a kept one would make the next `pulumi up` of this stack fail with AlreadyExists.
            aws.kms.Alias(
                f"{name}-key", name=f"alias/{n}-data", target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.kms_key_arn = key.arn

        for b in args.buckets:
            if b.retired:
                continue
            bucket = self._bucket(name, n, b, args.account_id, key)
            self.bucket_names[b.name] = bucket.bucket
            self.bucket_arns[b.name] = bucket.arn
        self.register_outputs({"bucketNames": self.bucket_names})

    def _bucket(self, name: str, n: str, b: BucketConfig, account_id: pulumi.Input[str],
                key: Optional[aws.kms.Key]) -> aws.s3.Bucket:
        keep = not b.allow_destroy
        rid = f"{name}-{b.name}"
        # renamedFrom: the same resources under a new name (pulumi.Alias with the old name, same parent and type).
        aliases = [pulumi.Alias(name=f"{name}-{b.renamed_from}")] if b.renamed_from else None
        opts = pulumi.ResourceOptions(parent=self, retain_on_delete=keep, aliases=aliases)
        physical = b.bucket_name or pulumi.Output.from_input(account_id).apply(
            lambda acct: f"{n}-{b.name}-{acct}"
        )
        bucket = aws.s3.Bucket(
            rid, bucket=physical, force_destroy=b.allow_destroy,
            tags={"Name": f"{n}-{b.name}", "purpose": b.purpose},
            # forceDestroy is a provider setting, not S3 state: an import would see it as a difference.
            opts=opts.merge(pulumi.ResourceOptions(import_=b.bucket_name if b.import_existing else None,
                                                   ignore_changes=["forceDestroy"] if b.import_existing else None)),
        )
        after = pulumi.ResourceOptions(parent=self, retain_on_delete=keep, depends_on=[bucket], aliases=aliases)
        bpa = aws.s3.BucketPublicAccessBlock(
            rid, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=after,
        )
        aws.s3.BucketOwnershipControls(
            rid, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=after,
        )
        if b.encryption == "kms" and key is not None:
            sse = {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}
            bucket_key = True
        else:
            sse, bucket_key = {"sse_algorithm": "AES256"}, False
        aws.s3.BucketServerSideEncryptionConfiguration(
            rid, bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": sse, "bucket_key_enabled": bucket_key}],
            opts=after,
        )
        versioning = aws.s3.BucketVersioning(
            rid, bucket=bucket.id,
            versioning_configuration={"status": "Enabled" if b.versioning else "Suspended"},
            opts=after,
        )
        aws.s3.BucketLifecycleConfiguration(
            rid, bucket=bucket.id, rules=lifecycle_rules(b.lifecycle, b.versioning),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=keep, depends_on=[versioning], aliases=aliases),
        )
        aws.s3.BucketPolicy(
            rid, bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn))),
            # A policy put before the public-access block could briefly be evaluated without it.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=keep, depends_on=[bpa], aliases=aliases),
        )
        return bucket


def tls_only_policy(bucket_arn: str) -> dict:
    """Deny every request to the bucket that does not use TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def lifecycle_rules(lc: LifecycleConfig, versioned: bool) -> list[dict]:
    """S3 lifecycle rules for one bucket (pulumi_aws input shape, snake_case)."""
    rule: dict = {
        "id": "cloudviper-data",
        "status": "Enabled",
        "filter": {},
        "abort_incomplete_multipart_upload": {"days_after_initiation": lc.abort_incomplete_uploads_after_days},
    }
    if lc.glacier_ir_after_days is not None:
        rule["transitions"] = [{"days": lc.glacier_ir_after_days, "storage_class": "GLACIER_IR"}]
    if lc.expire_after_days is not None:
        rule["expiration"] = {"days": lc.expire_after_days}
    if versioned and lc.noncurrent_expire_after_days is not None:
        rule["noncurrent_version_expiration"] = {"noncurrent_days": lc.noncurrent_expire_after_days}
    return [rule]
