"""Cluster Autoscaler: IRSA role limited to this cluster's groups, RBAC, and the Deployment."""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.k8s_objects import (
    container,
    deployment_spec,
    meta,
    service_account_with_cluster_role,
    system_pod,
)
from infra.config.cluster import AutoscalerConfig
from infra.documents import iam
from infra.documents.rbac import rule

NAME, NAMESPACE = "cluster-autoscaler", "kube-system"

# Upstream's AWS auto-discovery example, verbs and resources unchanged.
CLUSTER_RULES = [
    rule([""], ["events", "endpoints"], ["create", "patch"]),
    rule([""], ["pods/eviction"], ["create"]),
    rule([""], ["pods/status"], ["update"]),
    rule([""], ["endpoints"], ["get", "update"], names=[NAME]),
    rule([""], ["nodes"], ["watch", "list", "get", "update"]),
    rule([""], ["namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"],
         ["watch", "list", "get"]),
    rule(["extensions"], ["replicasets", "daemonsets"], ["watch", "list", "get"]),
    rule(["policy"], ["poddisruptionbudgets"], ["watch", "list"]),
    rule(["apps"], ["statefulsets", "replicasets", "daemonsets"], ["watch", "list", "get"]),
    rule(["storage.k8s.io"], ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"],
         ["watch", "list", "get"]),
    rule(["batch", "extensions"], ["jobs"], ["get", "list", "watch", "patch"]),
    rule(["coordination.k8s.io"], ["leases"], ["create"]),
    rule(["coordination.k8s.io"], ["leases"], ["get", "update"], names=[NAME]),
]
NAMESPACE_RULES = [
    rule([""], ["configmaps"], ["create", "list", "watch"]),
    rule([""], ["configmaps"], ["delete", "get", "update", "watch"],
         names=["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"]),
]


def autoscaler_args(cfg: AutoscalerConfig, cluster_name: str) -> list[str]:
    """Command line: auto-discover this cluster's tagged groups, balance similar groups, scale down per config."""
    return [
        "--cloud-provider=aws",
        f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{cluster_name}",
        "--balance-similar-node-groups",
        "--skip-nodes-with-system-pods=false",
        f"--expander={cfg.expander}",
        f"--scale-down-unneeded-time={cfg.scale_down_unneeded_time}",
        f"--scale-down-delay-after-add={cfg.scale_down_delay_after_add}",
        f"--scale-down-utilization-threshold={cfg.scale_down_utilization_threshold}",
    ]


class ClusterAutoscaler(pulumi.ComponentResource):
    """Scales each node group between its min and max from pending pods; scales worker pools to zero."""

    def __init__(self, name: str, cfg: AutoscalerConfig, control_plane: ControlPlane, cluster_name: str,
                 region: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:addons:ClusterAutoscaler", name, None, opts)
        role = control_plane.irsa_role(f"{name}", NAMESPACE, NAME,
                                       policy=json.dumps(iam.cluster_autoscaler_policy(cluster_name)), parent=self)
        k = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider)
        sa = service_account_with_cluster_role(name, NAME, NAMESPACE, role, CLUSTER_RULES, k)
        role_ns = k8s.rbac.v1.Role(f"{name}-role", metadata=meta(NAME, NAMESPACE), rules=NAMESPACE_RULES, opts=k)
        k8s.rbac.v1.RoleBinding(f"{name}-rb", metadata=meta(NAME, NAMESPACE), role_ref={
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}], opts=k.merge(pulumi.ResourceOptions(depends_on=[role_ns])))
        probe = {"httpGet": {"path": "/health-check", "port": 8085}, "periodSeconds": 30}
        c = container(NAME, cfg.image, cpu="100m", cpu_limit="1", memory="600Mi", args=autoscaler_args(cfg, cluster_name),
                      env=[{"name": "AWS_REGION", "value": region}], command=["./cluster-autoscaler"],
                      ports=[{"containerPort": 8085, "name": "http"}], livenessProbe=probe, readinessProbe=probe)
        k8s.apps.v1.Deployment(f"{name}-deploy", metadata=meta(NAME, NAMESPACE),
                               spec=deployment_spec(NAME, system_pod(NAME, [c])),
                               opts=k.merge(pulumi.ResourceOptions(depends_on=[sa])))
        self.register_outputs({"roleArn": role.arn})
