"""AWS Node Termination Handler in queue mode: SQS queue, EventBridge rules, lifecycle hooks, IRSA, Deployment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.k8s_objects import (
    container,
    deployment_spec,
    meta,
    service_account_with_cluster_role,
    system_pod,
)
from infra.config.cluster import TerminationHandlerConfig
from infra.documents import iam
from infra.documents.rbac import rule

NAME, NAMESPACE = "aws-node-termination-handler", "kube-system"
LIFECYCLE_HEARTBEAT_SECONDS = 300

# The chart's ClusterRole: cordon and drain nodes, nothing else.
CLUSTER_RULES = [
    rule([""], ["nodes"], ["get", "list", "patch", "update"]),
    rule([""], ["pods"], ["list", "get"]),
    rule([""], ["pods/eviction"], ["create"]),
    rule(["extensions"], ["daemonsets"], ["get"]),
    rule(["apps"], ["daemonsets"], ["get"]),
    rule([""], ["events"], ["create", "patch"]),
]


def handler_env(cfg: TerminationHandlerConfig, queue_url: str, region: str) -> list[dict[str, str]]:
    """Queue-processor settings (SQS draining on; IMDS monitors off)."""
    values = {
        "ENABLE_SQS_TERMINATION_DRAINING": "true",
        "QUEUE_URL": queue_url,
        "AWS_REGION": region,
        "ENABLE_SPOT_INTERRUPTION_DRAINING": "false",
        "ENABLE_SCHEDULED_EVENT_DRAINING": "false",
        "ENABLE_REBALANCE_MONITORING": "false",
        "ENABLE_REBALANCE_DRAINING": "false",
        "CHECK_ASG_TAG_BEFORE_DRAINING": "true",
        "MANAGED_ASG_TAG": "aws-node-termination-handler/managed",
        "DELETE_LOCAL_DATA": "true",
        "IGNORE_DAEMON_SETS": "true",
        "POD_TERMINATION_GRACE_PERIOD": str(cfg.pod_termination_grace_period),
        "NODE_TERMINATION_GRACE_PERIOD": "120",
        "EMIT_KUBERNETES_EVENTS": "true",
        "ENABLE_PROBES_SERVER": "true",
        "WORKERS": "10",
        "JSON_LOGGING": "true",
    }
    return [{"name": k, "value": v} for k, v in values.items()]


class NodeTerminationHandler(pulumi.ComponentResource):
    """Drains a node before AWS takes it: spot interruptions, rebalance, health events, scale-in."""

    def __init__(self, name: str, cfg: TerminationHandlerConfig, control_plane: ControlPlane, cluster_name: str,
                 region: str, group_names: Sequence[pulumi.Input[str]], name_prefix: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:addons:NodeTerminationHandler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.queue = aws.sqs.Queue(f"{name}-queue", name=f"{name_prefix}-node-interruptions",
                                   message_retention_seconds=300, sqs_managed_sse_enabled=True,
                                   tags={"Name": f"{name_prefix}-node-interruptions"}, opts=child)
        aws.sqs.QueuePolicy(f"{name}-queue", queue_url=self.queue.url,
                            policy=self.queue.arn.apply(lambda arn: json.dumps(iam.queue_policy(arn))), opts=child)
        for key, pattern in iam.INTERRUPTION_EVENT_PATTERNS.items():
            event_rule = aws.cloudwatch.EventRule(f"{name}-{key}", name=f"{name_prefix}-{key}",
                                                  event_pattern=json.dumps(pattern), tags={"Name": f"{name_prefix}-{key}"},
                                                  opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{key}", rule=event_rule.name, arn=self.queue.arn, opts=child)
        for i, group in enumerate(group_names):
            aws.autoscaling.LifecycleHook(f"{name}-hook-{i}", autoscaling_group_name=group,
                                          name=f"{name_prefix}-drain-on-terminate",
                                          lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
                                          default_result="CONTINUE", heartbeat_timeout=LIFECYCLE_HEARTBEAT_SECONDS, opts=child)
        policy = self.queue.arn.apply(lambda arn: json.dumps(iam.termination_handler_policy(arn, cluster_name)))
        role = control_plane.irsa_role(name, NAMESPACE, NAME, policy=policy, parent=self)

        k = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider)
        sa = service_account_with_cluster_role(name, NAME, NAMESPACE, role.arn, CLUSTER_RULES, k)
        env = [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
               {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
               {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
        probe = {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 5}
        c = self.queue.url.apply(lambda url: container(
            NAME, cfg.image, cpu="50m", cpu_limit="500m", memory="128Mi", env=env + handler_env(cfg, url, region),
            ports=[{"containerPort": 8080, "name": "liveness-probe"}], livenessProbe=probe, readinessProbe=probe))
        k8s.apps.v1.Deployment(f"{name}-deploy", metadata=meta(NAME, NAMESPACE),
                               spec=c.apply(lambda ct: deployment_spec(NAME, system_pod(NAME, [ct]), replicas=2)),
                               opts=k.merge(pulumi.ResourceOptions(depends_on=[sa])))
        self.register_outputs({"queueUrl": self.queue.url})
