"""The Kubeflow MPI operator (v0.8.0) as explicit objects: its CRD, RBAC, and the controller in its own namespace.

Not upstream's kustomize manifest applied as is: the policy pack and the validators see every object. The CRD is
upstream's file (infra/documents/crds/mpi/); the controller watches MPIJobs in every namespace (no --namespace),
so it needs upstream's ClusterRole. Who may submit MPIJobs is decided by the built-in edit and view roles, which
our two aggregated ClusterRoles extend: namespace editors (cloudviper:rbac namespaceAccess) in their namespace only.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import container, crds, deployment_spec, meta, system_pod
from components.namespaces import pod_security_labels
from infra.config.mpi import MpiConfig
from infra.documents.mpi import HEALTH_PORT, USER_ROLE_LABELS, operator_args, operator_rules, user_rules

NAME = "mpi-operator"
API = "rbac.authorization.k8s.io"


class MpiOperator(pulumi.ComponentResource):
    """The MPIJob CRD, the operator Deployment on the system pool, its ClusterRole and the user roles."""

    def __init__(self, name: str, cfg: MpiConfig, provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:MpiOperator", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider)
        ns = cfg.namespace
        self.crds = crds(name, "mpi", k)
        self.namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata=meta(ns, labels=pod_security_labels("restricted")),
                                               opts=k)
        in_ns = k.merge(pulumi.ResourceOptions(depends_on=[self.namespace]))
        sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(NAME, ns), opts=in_ns)
        role = k8s.rbac.v1.ClusterRole(f"{name}-cr", metadata=meta(NAME), rules=operator_rules(), opts=k)
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-crb", metadata=meta(NAME),
            role_ref={"apiGroup": API, "kind": "ClusterRole", "name": NAME},
            subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": ns}],
            opts=k.merge(pulumi.ResourceOptions(depends_on=[role, sa])))
        # Upstream's kubeflow-mpijobs-edit/view aggregate into Kubeflow's own roles only; these extend the
        # built-in ones, so a namespace's editors may submit MPIJobs there and its viewers read them.
        self.user_roles = [
            k8s.rbac.v1.ClusterRole(f"{name}-{access}", metadata=meta(f"cloudviper-mpijobs-{access}",
                                                                      labels=USER_ROLE_LABELS[access]),
                                    rules=user_rules(access), opts=k.merge(pulumi.ResourceOptions(depends_on=self.crds)))
            for access in ("edit", "view")
        ]
        # server.go serves /healthz on 8080 (fixed): healthy unless this replica leads and its Lease has lapsed.
        probe = {"httpGet": {"path": "/healthz", "port": HEALTH_PORT}, "timeoutSeconds": 5}
        # A static Go binary on gcr.io/distroless/base-debian12 (the repository's Dockerfile at v0.8.0): any uid
        # runs it; klog v2 logs to stderr only (logtostderr defaults to true), so nothing writes to the root fs.
        c = container(NAME, cfg.image, cpu=cfg.cpu, cpu_limit=cfg.cpu_limit, memory=cfg.memory,
                      args=operator_args(ns), uid=65534, livenessProbe=probe, readinessProbe=probe)
        # Not system-cluster-critical: a stopped operator only delays new MPIJobs, so it preempts nobody.
        pod = {key: v for key, v in system_pod(NAME, [c]).items() if key != "priorityClassName"}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deploy", metadata=meta(NAME, ns),
            # One replica, Recreate: leader election (the Lease) would keep a second one idle anyway.
            spec={**deployment_spec(NAME, pod), "strategy": {"type": "Recreate"}},
            opts=k.merge(pulumi.ResourceOptions(depends_on=[sa, binding, *self.crds])))
        # It accepts no connections (the kubelet's probes come from the node, which a NetworkPolicy always admits:
        # kubernetes.io/docs/concepts/services-networking/network-policies/).
        k8s.networking.v1.NetworkPolicy(f"{name}-ingress", metadata=meta(f"{NAME}-ingress", ns), spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}}, "policyTypes": ["Ingress"],
            "ingress": []}, opts=in_ns)
        self.register_outputs({})
