"""More ways around the AWS rules (the table of tests/test_bypass_aws.py, continued with the same helpers).

S3: preview values, principals and conditions that only look fixed, and bucket settings on buckets outside the stack
(policies/rules/s3.py cites the S3 meaning of "public"); Auto Scaling warm pools (infra/pricing/launchers.py).
"""

from __future__ import annotations

import json

import pytest
from pulumi_policy import StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policies.rules.s3 import S3
from tests.policy_helpers import DEFAULT_TAGS, check_stack, refusals, res
from tests.test_bypass_aws import ARN, ASG, BUCKET, POLICY, TLS, assert_refused, bucket, case, template

BPA_T, ACL_V2 = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketAclV2:BucketAclV2"
PUBLIC = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{ARN}/*"}


def allow(principal="*", condition=None):
    """A hardened bucket whose policy also Allows `principal` under `condition`."""
    stmt = {**PUBLIC, "Principal": principal, **({"Condition": condition} if condition else {})}
    return bucket(TLS, stmt)


def preview(*statements, name="b"):
    """bucket() as preview shows a new bucket: its arn and id unknown (pulumi_policy/proxy.py UNKNOWN_STRING_VALUE),
    its settings linked by dependency."""
    b = res(BUCKET, "data", {"bucket": name, "arn": UNKNOWN_STRING_VALUE, "id": UNKNOWN_STRING_VALUE})
    return [b, *(res(r.resource_type, r.name, dict(r.props), bucket=[b]) for r in bucket(*statements, name=name)[1:])]


def asg_with_warm_pool():
    lt = template()
    tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in DEFAULT_TAGS.items()]
    tags.append({"key": "cloudviper.io/pool-role", "value": "system", "propagateAtLaunch": False})
    return [lt, res(ASG, "g", {"minSize": 0, "maxSize": 2, "tags": tags, "launchTemplate": {"name": "lt"}, "warmPool": {
        "poolState": "Running", "minSize": 50, "maxGroupPreparedCapacity": 60}}, launchTemplate=[lt])]


EXT_POLICY = {"bucket": "someone-elses", "policy": json.dumps({"Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::someone-elses/*"}]})}

BYPASSES = [
    case("preview-unknown-arn", lambda: preview(TLS, {**PUBLIC, "Principal": "*"}), "s3-bucket-hardening", 0),
    case("principal-any-account-root", lambda: allow({"AWS": "arn:aws:iam::*:root"}), "s3-bucket-hardening", 0),
    case("principal-federated-star", lambda: allow({"Federated": "*"}), "s3-bucket-hardening", 0),
    case("string-not-equals-vpce", lambda: allow(condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}),
         "s3-bucket-hardening", 0),
    case("not-ip-address", lambda: allow(condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
         "s3-bucket-hardening", 0),
    case("string-equals-if-exists", lambda: allow(condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}),
         "s3-bucket-hardening", 0),
    case("null-vpce", lambda: allow(condition={"Null": {"aws:SourceVpce": "false"}}), "s3-bucket-hardening", 0),
    case("arn-not-equals", lambda: allow(condition={"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::x"}}),
         "s3-bucket-hardening", 0),
    case("string-like-any-vpce", lambda: allow(condition={"StringLike": {"aws:SourceVpce": "vpce-????"}}),
         "s3-bucket-hardening", 0),
    case("policy-on-outside-bucket", lambda: [res(POLICY, "ext", EXT_POLICY)], "s3-bucket-hardening", 0),
    case("bpa-off-on-outside-bucket", lambda: [res(BPA_T, "x", {"bucket": "ext", "blockPublicPolicy": False})],
         "s3-bucket-hardening", 0),
    case("public-acl-on-outside-bucket", lambda: [res(ACL_V2, "x", {"bucket": "ext", "acl": "public-read"})],
         "s3-bucket-hardening", 0),
    case("asg-warm-pool", asg_with_warm_pool, "max-hourly-cost", -1, {"max-hourly-cost": {"maxHourlyUsd": 1}}),
]

GOOD = [
    pytest.param(lambda: preview(), None, id="preview-hardened-bucket"),
    pytest.param(lambda: allow(condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}), None, id="allow-one-range"),
    pytest.param(lambda: allow({"AWS": "arn:aws:iam::123456789012:root"}), None, id="allow-one-account"),
    pytest.param(lambda: [res(BPA_T, "x", {"bucket": "ext", **dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)})], None,
                 id="outside-bucket-blocked"),
]


@pytest.mark.parametrize(("build", "rule_name", "culprit_index", "config"), BYPASSES)
def test_bypass_is_refused(build, rule_name, culprit_index, config):
    resources = build()
    assert_refused(resources, rule_name, resources[culprit_index], config)


@pytest.mark.parametrize(("build", "config"), GOOD)
def test_good_twin_passes(build, config):
    assert refusals(build(), config) == {}


def test_undecidable_bucket_does_not_hide_the_others():
    # A policy document unknown in preview makes only its bucket undecidable: the public bucket is still reported,
    # then the rule raises so the engine says it could not judge everything (pulumi_policy/policy.py AnalyzeStack
    # turns UnknownValueError into an advisory "can't run policy ... during preview").
    unknown = preview(name="u")
    unknown[3] = res(POLICY, "u", {"bucket": "u", "policy": UNKNOWN_STRING_VALUE}, bucket=[unknown[0]])
    public = [res(r.resource_type, f"pub-{r.name}", dict(r.props), **dict(r.property_dependencies))
              for r in allow()]
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        S3.validate(StackValidationArgs([*unknown, *public], {}),
                    lambda msg, urn=None: found.append(msg))  # type: ignore[misc]
    assert any("'pub-data'" in m and "allows everyone" in m for m in found), found
    assert not any("'data'" in m for m in found), found
    assert check_stack(S3, bucket()) == []
