"""Every permission policy we write passes parliament with no finding above LOW, or a reviewed exception."""

from __future__ import annotations

import json

import parliament
import pytest

from components.network import flow_logs_write_policy
from components.storage import tls_only_policy
from infra.documents import iam, termination

QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/c-spot-interruption"
POLICIES = {
    "cluster-autoscaler": iam.cluster_autoscaler_policy("c"),
    "node-termination-handler": termination.handler_policy(QUEUE, "c"),
    "interruption-queue": termination.queue_policy(QUEUE, [RULE_ARN]),
    "flow-logs": flow_logs_write_policy("arn:aws:logs:us-east-1:123456789012:log-group:x"),
    "bucket-tls-only": tls_only_policy("arn:aws:s3:::b"),
    "ecr-push": iam.ecr_push_policy(iam.ecr_repository_arn("us-east-1", "123456789012", "cloudviper-dev-dask")),
    "dask-s3-access": iam.s3_data_access_policy(["arn:aws:s3:::a", "arn:aws:s3:::b"],
                                                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
}
# Reviewed exceptions: (policy, issue, actions) -> why it is acceptable.
REVIEWED = {
    ("cluster-autoscaler", "RESOURCE_STAR", ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")):
        "ASG ARNs contain a random id; the statement is limited by the aws:ResourceTag cluster-ownership condition.",
    ("node-termination-handler", "RESOURCE_STAR", ("autoscaling:CompleteLifecycleAction",)):
        "Same as above: limited by the cluster-ownership tag condition.",
}
LEVELS = {"INFO": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_has_no_unreviewed_finding_above_low(name):
    findings = parliament.analyze_policy_string(json.dumps(POLICIES[name])).findings
    for f in findings:
        severity = parliament.config.get(f.issue, {}).get("severity") or "MEDIUM"
        actions = tuple(f.detail) if isinstance(f.detail, list) else (str(f.detail),)
        if (name, f.issue, actions) in REVIEWED:
            continue
        assert LEVELS[severity] <= LEVELS["LOW"], (name, f.issue, f.detail)
        assert f.issue in {"RESOURCE_STAR"} and set(actions) <= {
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements", "ec2:DescribeInstances",
        }, (name, f.issue, f.detail)


def test_the_linter_catches_a_bad_policy():
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
    assert any(f.issue == "UNKNOWN_ACTION" for f in parliament.analyze_policy_string(json.dumps(bad)).findings)
