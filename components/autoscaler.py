"""Cluster Autoscaler: IRSA role limited to this cluster's groups, RBAC, and the Deployment."""

from __future__ import annotations

import json
import re
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

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
    # CA >= 1.35 always watches DRA objects (--enable-dynamic-resource-allocation is locked to true);
    # upstream added this rule to the example after 1.35.2 (kubernetes/autoscaler#10278).
    rule(["resource.k8s.io"], ["deviceclasses", "resourceslices", "resourceclaims"], ["watch", "list", "get"]),
]
PRIORITY_CONFIGMAP = "cluster-autoscaler-priority-expander"
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
        # Dask workers and JupyterLab keep scratch data in emptyDir volumes; with the default (true)
        # no node running one could ever be scaled down. Their data is handed over on eviction.
        "--skip-nodes-with-local-storage=false",
        f"--expander={cfg.expander}",
        f"--scale-down-unneeded-time={cfg.scale_down_unneeded_time}",
        f"--scale-down-delay-after-add={cfg.scale_down_delay_after_add}",
        f"--scale-down-utilization-threshold={cfg.scale_down_utilization_threshold}",
    ]


def priority_config(priorities: dict[int, list[str]], group_names: dict[str, list[str]]) -> str:
    """The priority expander's `priorities` document: each priority's pools as anchored ASG-name regexes."""
    doc = {p: [f"^{re.escape(asg)}$" for pool in pools for asg in group_names[pool]] for p, pools in priorities.items()}
    return yaml.safe_dump(dict(sorted(doc.items(), reverse=True)), sort_keys=False)


class ClusterAutoscaler(pulumi.ComponentResource):
    """Scales each node group between its min and max from pending pods; scales worker pools to zero."""

    def __init__(self, name: str, cfg: AutoscalerConfig, image: str, control_plane: ControlPlane, cluster_name: str,
                 region: str, group_names: dict[str, list[str]], opts: Optional[pulumi.ResourceOptions] = None) -> None:
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
        if cfg.expander == "priority":  # read from CA's own namespace; reloaded on change
            k8s.core.v1.ConfigMap(f"{name}-priorities", metadata=meta(PRIORITY_CONFIGMAP, NAMESPACE),
                                  data={"priorities": priority_config(cfg.priorities, group_names)}, opts=k)
        c = container(NAME, image, cpu="100m", cpu_limit="1", memory="600Mi", args=autoscaler_args(cfg, cluster_name),
                      env=[{"name": "AWS_REGION", "value": region}], command=["./cluster-autoscaler"],
                      ports=[{"containerPort": 8085, "name": "http"}], livenessProbe=probe, readinessProbe=probe)
        k8s.apps.v1.Deployment(f"{name}-deploy", metadata=meta(NAME, NAMESPACE),
                               spec=deployment_spec(NAME, system_pod(NAME, [c])),
                               opts=k.merge(pulumi.ResourceOptions(depends_on=[sa])))
        self.register_outputs({"roleArn": role.arn})
