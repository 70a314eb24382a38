"""AWS Node Termination Handler (queue mode) as it is at the pinned release: what it reads and needs (pure).

Facts from aws/aws-node-termination-handler at v1.25.6 (tests/test_termination.py cites each):
- it decides per EC2 *instance* whether it manages a node: the instance must carry the key named
  by MANAGED_TAG (the value does not matter), so the ASG tag must propagate at launch;
- in queue mode it drains on every event the queue receives (the ENABLE_*_DRAINING switches are
  IMDS-mode only), so which events it acts on is decided by the EventBridge rules;
- spot, rebalance, state-change and AWS Health events carry only an instance id, so a cluster
  tells its own instances apart by a tag key of its own; the ASG lifecycle event names its group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.documents.iam import VERSION, Doc

MANAGED_TAG_PREFIX = "aws-node-termination-handler/"
# NTH stops processing a node after this many seconds of draining (NODE_TERMINATION_GRACE_PERIOD);
# the lifecycle hook must outlast it so the instance is not terminated mid-drain.
DRAIN_TIMEOUT_SECONDS = 120
LIFECYCLE_HEARTBEAT_SECONDS = 300
# The instance states NTH acts on; it drops every other state-change event.
STOPPING_STATES = ["stopping", "stopped", "shutting-down", "terminated"]


def managed_tag(cluster_name: str) -> str:
    """Tag key that marks this cluster's instances, so two stacks in one account never drain each other's."""
    return MANAGED_TAG_PREFIX + cluster_name


def event_patterns(group_prefix: str) -> dict[str, Doc]:
    """EventBridge patterns for the interruption queue, keyed by a short rule name.

    There is no rebalance-recommendation rule: spot pools use ASG capacity rebalance, which
    launches a replacement first and then terminates the old node through the lifecycle hook
    (drained then), instead of NTH draining the node at once while it keeps running. The spot
    interruption warning stays: it is the earliest of the two-minute notice, and a second drain
    of the same node is a no-op.
    """
    patterns: dict[str, Doc] = {
        "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
        "instance-state": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
                           "detail": {"state": list(STOPPING_STATES)}},
        "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"],
                             "detail": {"service": ["EC2"], "eventTypeCategory": ["scheduledChange"]}},
    }
    # The only event that names its group: limit it to this stack's groups by their name prefix (a list of
    # names would pass EventBridge's 2048-character pattern limit at about 60 groups). A stack whose name
    # extends ours ("dev" and "dev-x") also matches; NTH then drops its instances by the managed tag.
    patterns["asg-lifecycle"] = {"source": ["aws.autoscaling"],
                                 "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
                                 "detail": {"AutoScalingGroupName": [{"prefix": group_prefix}]}}
    return patterns


def queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> Doc:
    """Only this stack's EventBridge rules may send to the interruption queue."""
    return {"Version": VERSION, "Statement": [{
        "Sid": "StackEventRulesOnly",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
    }]}


def handler_policy(queue_arn: str, cluster_name: str) -> Doc:
    """The calls NTH v1.25.6 makes in queue mode (no heartbeats), limited to this stack's queue and groups.

    The groups are named by the cluster-ownership tag they all carry (the Service Authorization
    Reference lists aws:ResourceTag for CompleteLifecycleAction), not by ARN: a policy listing every
    group's ARN would outgrow IAM's inline-policy size at a few dozen groups.
    """
    return {"Version": VERSION, "Statement": [
        {"Sid": "Queue", "Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": queue_arn},
        {"Sid": "CompleteOwnLifecycleActions", "Effect": "Allow", "Action": "autoscaling:CompleteLifecycleAction",
         "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
        {"Sid": "FindInstance", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
    ]}


# pkg/config/config.go @v1.25.6: ENABLE_PROMETHEUS_SERVER (default false) serves /metrics on PROMETHEUS_SERVER_PORT
# (default 9092), in queue mode too (the chart's Service and ServiceMonitor use port name http-metrics).
NTH_METRICS_PORT, NTH_METRICS_PORT_NAME = 9092, "http-metrics"


def handler_env(queue_url: str, region: str, cluster_name: str, pod_grace_period: int) -> dict[str, str]:
    """Queue-processor settings, by the names pkg/config/config.go reads at v1.25.6."""
    return {
        "ENABLE_SQS_TERMINATION_DRAINING": "true",
        "QUEUE_URL": queue_url,
        "AWS_REGION": region,  # so NTH never asks IMDS (pods cannot reach it: hop limit 1)
        "CHECK_TAG_BEFORE_DRAINING": "true",
        "MANAGED_TAG": managed_tag(cluster_name),
        "DELETE_LOCAL_DATA": "true",
        "IGNORE_DAEMON_SETS": "true",
        "POD_TERMINATION_GRACE_PERIOD": str(pod_grace_period),
        "NODE_TERMINATION_GRACE_PERIOD": str(DRAIN_TIMEOUT_SECONDS),
        "EMIT_KUBERNETES_EVENTS": "true",
        "ENABLE_PROBES_SERVER": "true",
        "ENABLE_PROMETHEUS_SERVER": "true",
        "PROMETHEUS_SERVER_PORT": str(NTH_METRICS_PORT),
        "WORKERS": "10",
        "JSON_LOGGING": "true",
    }


def env_list(values: dict[str, str]) -> list[dict[str, Any]]:
    """Container env entries from a name -> value map."""
    return [{"name": k, "value": v} for k, v in values.items()]
