"""Preflight's verdicts on API reachability, the creator's access entry and kept buckets (pure functions).

The moto-backed end-to-end runs are in tests/test_aws_tools.py. Sources: RFC 5737 (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24) and RFC 3849 (2001:db8::/32) documentation ranges; botocore eks
CreateAccessEntry ("You can't specify the same ARN in more than one access entry"; the creator's
bootstrap entry makes a second one fail with ResourceInUseException, terraform-aws-eks#2968).
"""

from __future__ import annotations

import copy

import pytest

from infra.config.cluster import same_principal
from infra.config.errors import ConfigError
from infra.ops.access_checks import (
    api_access_verdict,
    bucket_verdict,
    creator_verdict,
    documentation_ranges,
    managed_buckets,
    role_of,
)
from tests.test_cluster_rules import config, parse


def cfg(**cluster):
    values = config()
    values["cloudviper:cluster"] = {**copy.deepcopy(values["cloudviper:cluster"]), **cluster}
    return parse(values)


def test_documentation_ranges_are_recognised_and_real_ones_are_not():
    assert documentation_ranges(["203.0.113.0/24", "198.51.100.7/32", "10.0.0.0/8", "192.0.2.0/25"]) == [
        "203.0.113.0/24", "198.51.100.7/32", "192.0.2.0/25"]
    assert documentation_ranges(["198.18.0.0/15", "131.169.0.0/16"]) == []


def test_ipv6_api_networks_are_refused_for_an_ipv4_cluster():
    with pytest.raises(ConfigError, match="is not an IPv4 network"):
        cfg(publicAccessCidrs=["2001:db8::/32"])


def test_api_access_verdicts():
    real = cfg(publicAccessCidrs=["198.18.7.0/24"])
    assert api_access_verdict(real, lambda: "198.18.7.9")[0] == "pass"
    status, detail, fix = api_access_verdict(real, lambda: "198.19.1.1")
    assert status == "fail" and "198.19.1.1 is outside publicAccessCidrs" in detail and "198.19.1.1/32" in fix
    assert api_access_verdict(real, None)[0] == "warn"  # offline

    def unreachable() -> str:
        raise OSError("no route")
    assert api_access_verdict(real, unreachable)[0] == "warn"
    assert api_access_verdict(cfg(publicAccessCidrs=["203.0.113.0/24"]), lambda: "203.0.113.5")[0] == "fail"
    assert api_access_verdict(cfg(endpointPublicAccess=False, publicAccessCidrs=[]), None)[0] == "warn"


@pytest.mark.parametrize(("caller", "principal"), [
    ("arn:aws:sts::123456789012:assumed-role/Admin/alice", "arn:aws:iam::123456789012:role/Admin"),
    ("arn:aws:sts::123456789012:assumed-role/Admin/alice", "arn:aws:iam::123456789012:role/ops/Admin"),  # path
    ("arn:aws:iam::123456789012:user/ci", "arn:aws:iam::123456789012:user/ci"),
    ("arn:aws-us-gov:sts::123456789012:assumed-role/Admin/x", "arn:aws-us-gov:iam::123456789012:role/Admin"),
])
def test_the_creator_listed_again_is_refused(caller, principal):
    assert same_principal(role_of(caller), principal)
    status, detail, _ = creator_verdict(cfg(admins=[principal]), caller)
    assert status == "fail" and "EKS would refuse the second access entry" in detail


@pytest.mark.parametrize(("caller", "principal"), [
    ("arn:aws:sts::123456789012:assumed-role/Admin/alice", "arn:aws:iam::123456789012:user/Admin"),  # a user, not the role
    ("arn:aws:sts::123456789012:assumed-role/Admin/alice", "arn:aws:iam::210987654321:role/Admin"),  # other account
    ("arn:aws:sts::123456789012:assumed-role/Admin/alice", "arn:aws-cn:iam::123456789012:role/Admin"),  # other partition
])
def test_other_principals_are_not_the_creator(caller, principal):
    assert creator_verdict(cfg(admins=[principal]), caller)[0] == "pass"
    assert creator_verdict(cfg(admins=[principal], creatorIsAdmin=False), caller)[0] == "pass"


def test_the_same_role_with_and_without_its_path_is_one_principal():
    with pytest.raises(ConfigError, match="is named twice"):
        cfg(admins=["arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:role/ops/Admin"])


@pytest.mark.parametrize(("state", "importing", "managed", "status"), [
    ("missing", False, None, "pass"), ("missing", True, None, "fail"),
    ("ours", False, None, "warn"), ("ours", False, set(), "fail"), ("ours", False, {"b"}, "pass"),
    ("ours", True, set(), "pass"), ("denied", False, {"b"}, "fail"),
])
def test_bucket_verdicts(state, importing, managed, status):
    assert bucket_verdict("b", state, importing, managed)[0] == status


def test_managed_buckets_come_from_a_stack_export(tmp_path):
    f = tmp_path / "s.json"
    f.write_text('{"deployment": {"resources": [{"type": "aws:s3/bucket:Bucket", "id": "x"}, {"type": "aws:kms/key:Key", "id": "k"}]}}')
    assert managed_buckets(str(f)) == {"x"} and managed_buckets(None) is None
    f.write_text("not json")
    with pytest.raises(ValueError, match="not a `pulumi stack export` file"):
        managed_buckets(str(f))
