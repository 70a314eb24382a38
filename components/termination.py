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
from infra.documents import termination as nth
from infra.documents.rbac import rule

NAME, NAMESPACE = "aws-node-termination-handler", "kube-system"

# The chart's ClusterRole: cordon and drain nodes, nothing else.
CLUSTER_RULES = [
    rule([""], ["nodes"], ["get", "list", "patch", "update"]),
    rule([""], ["pods"], ["list", "get"]),
    rule([""], ["pods/eviction"], ["create"]),
    rule(["extensions"], ["daemonsets"], ["get"]),
    rule(["apps"], ["daemonsets"], ["get"]),
    rule([""], ["events"], ["create", "patch"]),
]


class NodeTerminationHandler(pulumi.ComponentResource):
    """Drains a node before AWS takes it: spot interruptions, health events, scale-in and rebalancing."""

    def __init__(self, name: str, cfg: TerminationHandlerConfig, control_plane: ControlPlane, cluster_name: str,
                 region: str, groups: Sequence[str], name_prefix: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:addons:NodeTerminationHandler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.queue = aws.sqs.Queue(f"{name}-queue", name=f"{name_prefix}-node-interruptions",
                                   message_retention_seconds=300, sqs_managed_sse_enabled=True,
                                   tags={"Name": f"{name_prefix}-node-interruptions"}, opts=child)
        rules = []
        for key, pattern in nth.event_patterns(f"{name_prefix}-").items():
            event_rule = aws.cloudwatch.EventRule(f"{name}-{key}", name=f"{name_prefix}-{key}",
                                                  event_pattern=json.dumps(pattern), tags={"Name": f"{name_prefix}-{key}"},
                                                  opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{key}", rule=event_rule.name, arn=self.queue.arn, opts=child)
            rules.append(event_rule)
        aws.sqs.QueuePolicy(f"{name}-queue", queue_url=self.queue.url, policy=pulumi.Output.all(
            self.queue.arn, *[r.arn for r in rules]).apply(lambda v: json.dumps(nth.queue_policy(v[0], v[1:]))),
            opts=child)
        for i, group in enumerate(groups):
            # The alias keeps hooks of stacks created before hooks were named by group: without it Pulumi
            # would create the "new" hook (the same AWS object) and then delete the old one, removing it.
            aws.autoscaling.LifecycleHook(f"{name}-hook-{group.removeprefix(name_prefix + '-')}",
                                          autoscaling_group_name=group, name=f"{name_prefix}-drain-on-terminate",
                                          lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
                                          default_result="CONTINUE", heartbeat_timeout=nth.LIFECYCLE_HEARTBEAT_SECONDS,
                                          opts=child.merge(pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{name}-hook-{i}")])))
        policy = self.queue.arn.apply(lambda arn: json.dumps(nth.handler_policy(arn, cluster_name)))
        irsa = control_plane.irsa_role(name, NAMESPACE, NAME, policy=policy, parent=self)

        k = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider)
        sa = service_account_with_cluster_role(name, NAME, NAMESPACE, irsa, CLUSTER_RULES, k)
        env = [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
               {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
               {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
        probe = {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 5}
        c = self.queue.url.apply(lambda url: container(
            NAME, cfg.image, cpu="50m", cpu_limit="500m", memory="128Mi",
            env=env + nth.env_list(nth.handler_env(url, region, cluster_name, cfg.pod_termination_grace_period)),
            ports=[{"containerPort": 8080, "name": "liveness-probe"},
                   {"containerPort": nth.NTH_METRICS_PORT, "name": nth.NTH_METRICS_PORT_NAME}],
            livenessProbe=probe, readinessProbe=probe))
        k8s.apps.v1.Deployment(f"{name}-deploy", metadata=meta(NAME, NAMESPACE),
                               spec=c.apply(lambda ct: deployment_spec(NAME, system_pod(NAME, [ct]), replicas=2)),
                               opts=k.merge(pulumi.ResourceOptions(depends_on=[sa])))
        self.register_outputs({"queueUrl": self.queue.url})
