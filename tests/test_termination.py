"""Spot draining: NTH in queue mode finds this stack's instances, drains them, and nothing else.

Upstream facts, all from aws/aws-node-termination-handler at tag v1.25.6 (commit 77ca841d):
- pkg/monitor/sqsevent/sqs-monitor.go, getNodeInfo: NTH calls ec2:DescribeInstances and treats an
  instance as managed only if the instance's own tags contain the MANAGED_TAG key ("The value of
  the key does not matter", README "3. Tag the Instances"); unmanaged events are dropped and their
  message deleted, so an untagged instance is never drained.
- pkg/config/config.go: CHECK_TAG_BEFORE_DRAINING / MANAGED_TAG are the current names;
  CHECK_ASG_TAG_BEFORE_DRAINING / MANAGED_ASG_TAG are "[DEPRECATED]" since v1.17.0.
- pkg/interruptionevent/draincordon/handler.go: in queue mode a rebalance recommendation is always
  cordoned and drained; README: "If we use ASG with capacity-rebalance enabled on ASG, then we do
  not need Spot and Rebalance events enabled with EventBridge".
- pkg/monitor/sqsevent/*-event.go: only the ASG lifecycle event names its group
  (detail.AutoScalingGroupName); spot, rebalance, state-change and Health events carry an instance id.
- cmd/node-termination-handler.go: `imdsDisabled := nthConfig.EnableSQSTerminationDraining`; the
  region comes from AWS_REGION.
- API calls made in queue mode without heartbeats: sqs:ReceiveMessage, sqs:DeleteMessage,
  ec2:DescribeInstances, autoscaling:CompleteLifecycleAction (DescribeAutoScalingInstances and
  DescribeTags were removed in #669, v1.17.0).
- config/helm/aws-node-termination-handler/Chart.yaml: appVersion 1.25.6 (newest release).
"""

from __future__ import annotations

import json

from infra.config.cluster import NTH_IMAGE
from infra.documents import termination
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, run_config

ASG = "aws:autoscaling/group:Group"


def asg_tags(res):
    return {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in res.props["tags"]}


def nth_env(cap):
    deploy = cap.one("kubernetes:apps/v1:Deployment", "nth-deploy").props
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in c["env"]}


def rule_patterns(cap):
    return {r.name.removeprefix("nth-"): json.loads(r.props["eventPattern"])
            for r in cap.of_type("aws:cloudwatch/eventRule:EventRule")}


def test_every_instance_carries_the_tag_nth_checks(cluster_capture):
    env = nth_env(cluster_capture)
    assert env["CHECK_TAG_BEFORE_DRAINING"] == "true"
    assert env["MANAGED_TAG"] == "aws-node-termination-handler/cloudviper-test"
    assert "CHECK_ASG_TAG_BEFORE_DRAINING" not in env and "MANAGED_ASG_TAG" not in env
    for asg in cluster_capture.of_type(ASG):
        # propagateAtLaunch: the tag must be on the instance, which is where NTH looks
        assert asg_tags(asg)[env["MANAGED_TAG"]][1] is True, asg.name


def test_two_stacks_in_one_account_do_not_drain_each_others_nodes():
    other = run_config({**BASE_CONFIG, **CLUSTER_CONFIG}, stack="other")
    keys = {nth_env(other)["MANAGED_TAG"], termination.managed_tag("cloudviper-test")}
    assert len(keys) == 2
    for asg in other.of_type(ASG):
        assert termination.managed_tag("cloudviper-test") not in asg_tags(asg)


def test_queue_mode_settings_use_the_current_names_and_no_imds(cluster_capture):
    env = nth_env(cluster_capture)
    assert env["ENABLE_SQS_TERMINATION_DRAINING"] == "true"
    assert env["QUEUE_URL"] == cluster_capture.one("aws:sqs/queue:Queue").outputs["url"]
    assert env["AWS_REGION"] == "us-east-1"  # NTH never needs IMDS for the region
    # IMDS-mode switches are ignored in queue mode; setting them would only mislead a reader
    assert not {k for k in env if k.startswith(("ENABLE_SPOT", "ENABLE_REBALANCE", "ENABLE_SCHEDULED"))}
    assert int(env["NODE_TERMINATION_GRACE_PERIOD"]) < termination.LIFECYCLE_HEARTBEAT_SECONDS


def test_image_is_the_pinned_release():
    assert NTH_IMAGE == "public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.6"


def test_no_rebalance_rule_because_spot_pools_use_capacity_rebalance(cluster_capture):
    patterns = rule_patterns(cluster_capture)
    assert "rebalance" not in patterns
    assert not any("Rebalance" in p["detail-type"][0] for p in patterns.values())
    spot_pools = [a for a in cluster_capture.of_type(ASG) if a.props["mixedInstancesPolicy"]["instancesDistribution"][
        "onDemandPercentageAboveBaseCapacity"] == 0]
    assert spot_pools and all(a.props["capacityRebalance"] is True for a in spot_pools)
    assert patterns["spot-interruption"]["detail-type"] == ["EC2 Spot Instance Interruption Warning"]


def test_lifecycle_events_are_limited_to_this_stacks_groups(cluster_capture):
    # EventBridge content filtering: {"prefix": ...}; the lifecycle event's detail.AutoScalingGroupName is the
    # group's name (docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html).
    patterns = rule_patterns(cluster_capture)
    groups = sorted(a.props["name"] for a in cluster_capture.of_type(ASG))
    assert patterns["asg-lifecycle"]["detail"] == {"AutoScalingGroupName": [{"prefix": "cloudviper-test-"}]}
    assert all(g.startswith("cloudviper-test-") for g in groups)
    assert patterns["instance-state"]["detail"]["state"] == ["stopping", "stopped", "shutting-down", "terminated"]
    hooks = cluster_capture.of_type("aws:autoscaling/lifecycleHook:LifecycleHook")
    assert sorted(h.props["autoscalingGroupName"] for h in hooks) == groups
    assert {h.props["lifecycleTransition"] for h in hooks} == {"autoscaling:EC2_INSTANCE_TERMINATING"}


def test_only_this_stacks_rules_may_send_to_the_queue(cluster_capture):
    queue = cluster_capture.one("aws:sqs/queue:Queue")
    rules = cluster_capture.of_type("aws:cloudwatch/eventRule:EventRule")
    targets = cluster_capture.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == len(rules) == 4
    assert {t.props["arn"] for t in targets} == {queue.outputs["arn"]}
    (stmt,) = json.loads(cluster_capture.one("aws:sqs/queuePolicy:QueuePolicy").props["policy"])["Statement"]
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"} and stmt["Action"] == "sqs:SendMessage"
    assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": sorted(r.outputs["arn"] for r in rules)}}


def test_handler_may_complete_lifecycle_actions_of_this_stacks_groups_only(cluster_capture):
    # Service Authorization Reference (EC2 Auto Scaling): CompleteLifecycleAction takes aws:ResourceTag on the
    # autoScalingGroup resource; every group of the stack carries the tag with value "owned".
    doc = json.loads(cluster_capture.one("aws:iam/rolePolicy:RolePolicy", "nth-irsa").props["policy"])
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    tag = "k8s.io/cluster-autoscaler/cloudviper-test"
    assert by_sid["CompleteOwnLifecycleActions"]["Condition"] == {"StringEquals": {f"aws:ResourceTag/{tag}": "owned"}}
    assert all(asg_tags(a)[tag][0] == "owned" for a in cluster_capture.of_type(ASG))
    actions = {a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "autoscaling:CompleteLifecycleAction",
                       "ec2:DescribeInstances"}


def test_hooks_keep_their_old_names_as_aliases(cluster_capture):
    # Renaming without an alias would create the same AWS hook again and then delete it.
    hooks = {h.name: h.alias_names for h in cluster_capture.of_type("aws:autoscaling/lifecycleHook:LifecycleHook")}
    assert hooks == {"nth-hook-system": ["nth-hook-0"], "nth-hook-workers": ["nth-hook-1"], "nth-hook-gpu": ["nth-hook-2"]}


def test_the_handler_waits_for_its_iam_policy(cluster_capture):
    deploy = cluster_capture.one("kubernetes:apps/v1:Deployment", "nth-deploy")
    assert cluster_capture.waits_for(deploy, cluster_capture.one("aws:iam/rolePolicy:RolePolicy", "nth-irsa"))
