"""Data buckets under mocks: locked down, encrypted, TLS-only, kept on destroy unless allowed."""

from __future__ import annotations

import json

import pytest

BUCKET = "aws:s3/bucket:Bucket"
CHILD_TYPES = [
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
]
TWO_BUCKETS = [
    {"name": "raw", "encryption": "kms", "versioning": True},
    {"name": "scratch", "encryption": "s3", "versioning": False, "allowDestroy": True,
     "lifecycle": {"expireAfterDays": 30}},
]


def children(cap, bucket, type_token):
    found = [r for r in cap.of_type(type_token) if r.props["bucket"] == bucket.id]
    assert len(found) == 1, (type_token, bucket.name)
    return found[0]


def test_every_bucket_blocks_public_access_and_enforces_owner(run_stack):
    cap = run_stack(buckets=TWO_BUCKETS)
    for bucket in cap.of_type(BUCKET):
        bpa = children(cap, bucket, CHILD_TYPES[0]).props
        assert all(bpa[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        own = children(cap, bucket, CHILD_TYPES[1]).props
        assert own["rule"]["objectOwnership"] == "BucketOwnerEnforced"


def test_encryption_follows_config(run_stack):
    cap = run_stack(buckets=TWO_BUCKETS)
    key = cap.one("aws:kms/key:Key")
    assert key.props["enableKeyRotation"] is True
    raw, scratch = cap.one(BUCKET, "data-raw"), cap.one(BUCKET, "data-scratch")
    kms_rule = children(cap, raw, CHILD_TYPES[2]).props["rules"][0]
    assert kms_rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
    assert kms_rule["bucketKeyEnabled"] is True
    s3_rule = children(cap, scratch, CHILD_TYPES[2]).props["rules"][0]
    assert s3_rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_no_kms_key_when_no_bucket_uses_kms_and_none_is_kept(run_stack):
    cap = run_stack(buckets=[{"name": "a", "encryption": "s3", "allowDestroy": True}])
    assert not cap.of_type("aws:kms/key:Key")


def test_policy_denies_every_request_without_tls(run_stack):
    cap = run_stack(buckets=TWO_BUCKETS)
    for bucket in cap.of_type(BUCKET):
        policy = json.loads(children(cap, bucket, CHILD_TYPES[5]).props["policy"])
        (stmt,) = policy["Statement"]
        arn = bucket.outputs["arn"]
        assert stmt["Effect"] == "Deny" and stmt["Principal"] == "*" and stmt["Action"] == "s3:*"
        assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert sorted(stmt["Resource"]) == sorted([arn, f"{arn}/*"])


def test_versioning_and_lifecycle_follow_config(run_stack):
    cap = run_stack(buckets=TWO_BUCKETS)
    raw, scratch = cap.one(BUCKET, "data-raw"), cap.one(BUCKET, "data-scratch")
    assert children(cap, raw, CHILD_TYPES[3]).props["versioningConfiguration"]["status"] == "Enabled"
    assert children(cap, scratch, CHILD_TYPES[3]).props["versioningConfiguration"]["status"] == "Suspended"
    (rule,) = children(cap, scratch, CHILD_TYPES[4]).props["rules"]
    assert rule["expiration"] == {"days": 30}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert "transitions" not in rule


def test_glacier_transition_from_the_dev_stack(stack_capture):
    cap = stack_capture("dev")
    (rule,) = cap.one(CHILD_TYPES[4]).props["rules"]
    assert rule["transitions"] == [{"days": 90, "storageClass": "GLACIER_IR"}]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}


def test_bucket_name_defaults_to_project_stack_name_account(run_stack):
    cap = run_stack(buckets=[{"name": "raw"}, {"name": "x", "bucketName": "my-lab-x"}])
    names = {r.name: r.props["bucket"] for r in cap.of_type(BUCKET)}
    assert names == {"data-raw": "cloudviper-test-raw-123456789012", "data-x": "my-lab-x"}
    assert cap.outputs["dataBuckets"].value == {"raw": "cloudviper-test-raw-123456789012", "x": "my-lab-x"}


@pytest.mark.parametrize("type_token", [BUCKET, *CHILD_TYPES])
def test_kept_on_destroy_unless_allow_destroy(run_stack, type_token):
    cap = run_stack(buckets=TWO_BUCKETS)
    raw, scratch = cap.one(BUCKET, "data-raw"), cap.one(BUCKET, "data-scratch")
    res_raw = raw if type_token == BUCKET else children(cap, raw, type_token)
    res_scratch = scratch if type_token == BUCKET else children(cap, scratch, type_token)
    assert res_raw.retain_on_delete is True
    assert res_scratch.retain_on_delete is False
    assert raw.props.get("forceDestroy") is False and scratch.props["forceDestroy"] is True


KEY_CASES = {
    # the case: a kept bucket switched from kms to s3 may still hold objects encrypted with the key
    "kept s3 + destroyable kms": ([{"name": "a", "encryption": "s3"}, {"name": "b", "allowDestroy": True}], True),
    "kept s3 only": ([{"name": "a", "encryption": "s3"}], True),
    "kept kms + destroyable s3": (TWO_BUCKETS, True),
    "retired + destroyable s3": ([{"name": "a", "retired": True},
                                  {"name": "b", "encryption": "s3", "allowDestroy": True}], True),
    "renamed kept s3": ([{"name": "b", "encryption": "s3", "renamedFrom": "a", "bucketName": "lab-a"}], True),
    "every bucket destroyable": ([{"name": "a", "allowDestroy": True}, {"name": "b", "allowDestroy": True,
                                                                        "encryption": "s3"}], False),
}


@pytest.mark.parametrize("case", KEY_CASES)
def test_the_kms_key_is_kept_while_any_bucket_is(run_stack, case):
    # Deleting the key loses every object encrypted with it (botocore kms ScheduleKeyDeletion: "all data that was
    # encrypted under the KMS key is unrecoverable"), and nothing offline knows which buckets were kms before.
    buckets, kept = KEY_CASES[case]
    key = run_stack(buckets=buckets).one("aws:kms/key:Key")
    assert key.retain_on_delete is kept
    assert key.props["deletionWindowInDays"] == 30  # the longest waiting period ScheduleKeyDeletion allows


def test_workloads_can_still_decrypt_after_a_kept_bucket_moves_to_s3():
    from tests.conftest import run_config, stack_file

    values = stack_file("dev").values
    values["cloudviper:buckets"][0]["encryption"] = "s3"
    cap = run_config(values, stack="dev")
    key = cap.one("aws:kms/key:Key", "data-key")
    assert key.retain_on_delete is True
    policy = json.loads(cap.one("aws:iam/rolePolicy:RolePolicy", "dask-dask-irsa").props["policy"])
    (use_key,) = [s for s in policy["Statement"] if s.get("Sid") == "UseDataKey"]
    assert use_key["Resource"] == key.outputs["arn"] and "kms:Decrypt" in use_key["Action"]
    rule = cap.one(CHILD_TYPES[2]).props["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}  # new objects: SSE-S3


def test_a_renamed_bucket_keeps_its_resources_under_the_new_name(run_stack):
    # pulumi.Alias(name=...) with parent and type left out keeps the current ones (pulumi SDK resource.py, Alias):
    # the engine moves data-raw to data-datasets instead of creating one and deleting the other.
    cap = run_stack(buckets=[{"name": "datasets", "renamedFrom": "raw", "bucketName": "cloudviper-test-raw-123456789012"}])
    bucket = cap.one(BUCKET, "data-datasets")
    assert bucket.alias_names == ["data-raw"] and bucket.props["bucket"] == "cloudviper-test-raw-123456789012"
    for type_token in CHILD_TYPES:
        child = children(cap, bucket, type_token)
        assert child.alias_names == ["data-raw"] and child.name == "data-datasets" and child.retain_on_delete is True
    assert cap.outputs["dataBuckets"].value == {"datasets": "cloudviper-test-raw-123456789012"}


def test_a_retired_bucket_registers_nothing_but_is_named_on_the_component(run_stack):
    cap = run_stack(buckets=[{"name": "raw", "retired": True}, {"name": "new"}])
    assert [b.name for b in cap.of_type(BUCKET)] == ["data-new"]
    assert cap.one("cloudviper:storage:DataBuckets").props == {"retiredBuckets": ["raw"]}
    assert cap.outputs["dataBuckets"].value == {"new": "cloudviper-test-new-123456789012"}
    assert run_stack(buckets=[{"name": "new"}]).one("cloudviper:storage:DataBuckets").props == {}


def test_the_key_alias_is_not_kept(run_stack):
    # KMS DeleteAlias (botocore kms 2014-11-01): "Because an alias is not a property of a KMS key, you can
    # delete and change the aliases of a KMS key without affecting the KMS key"; CreateAlias: "The alias must be
    # unique in the account and Region" -- a kept alias would make the next `pulumi up` fail with AlreadyExists.
    cap = run_stack(buckets=TWO_BUCKETS)
    assert cap.one("aws:kms/key:Key").retain_on_delete is True
    assert cap.one("aws:kms/alias:Alias").retain_on_delete is False


def test_kept_buckets_and_their_key_can_be_imported(run_stack):
    # S3 CreateBucket in us-east-1 on a bucket you own "returns 200 OK" (botocore s3 BucketAlreadyOwnedByYou),
    # so re-creating would adopt it silently with a new key; importing keeps the key the objects need.
    cap = run_stack(buckets=[{"name": "raw", "bucketName": "cloudviper-old-raw", "importExisting": True,
                              "kmsKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}, {"name": "new"}])
    assert cap.one(BUCKET, "data-raw").import_id == "cloudviper-old-raw"
    assert cap.one(BUCKET, "data-new").import_id == ""
    assert cap.one("aws:kms/key:Key").import_id == "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert cap.one("aws:kms/alias:Alias").import_id == ""  # a new alias for the adopted key
