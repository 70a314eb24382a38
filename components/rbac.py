"""RBAC personas: namespace users and viewers, job-submission robots (grid pilot factories), read-only monitors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import meta
from infra.config.namespaces import RbacConfig
from infra.documents.rbac import JOB_ROBOT_RULES, MONITOR_RULES

API = "rbac.authorization.k8s.io"


def group_subjects(groups: Sequence[str]) -> list[dict[str, str]]:
    """Binding subjects for Kubernetes groups (IAM principals mapped by EKS access entries)."""
    return [{"kind": "Group", "name": g, "apiGroup": API} for g in groups]


class RbacPersonas(pulumi.ComponentResource):
    """Least-privilege bindings for each persona; no wildcards, nothing beyond what the persona needs."""

    def __init__(self, name: str, cfg: RbacConfig, provider: k8s.Provider,
                 depends_on: Sequence[pulumi.Resource] = (), opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:RbacPersonas", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        for i, a in enumerate(cfg.namespace_access):
            subject = {"kind": "Group", "name": a.group, "apiGroup": API} if a.group else \
                {"kind": "User", "name": a.user, "apiGroup": API}
            k8s.rbac.v1.RoleBinding(f"{name}-access-{i}", metadata=meta(f"{a.access}-{i}", a.namespace),
                                    role_ref={"apiGroup": API, "kind": "ClusterRole", "name": a.access},
                                    subjects=[subject], opts=k)
        for r in cfg.job_robots:
            # The factory runs outside the cluster (Harvester reads a kubeconfig); pods never need its token.
            sa = k8s.core.v1.ServiceAccount(f"{name}-robot-{r.name}", metadata=meta(r.name, r.namespace),
                                            automount_service_account_token=False, opts=k)
            role = k8s.rbac.v1.Role(f"{name}-robot-{r.name}", metadata=meta(f"{r.name}-jobs", r.namespace),
                                    rules=JOB_ROBOT_RULES, opts=k)
            k8s.rbac.v1.RoleBinding(
                f"{name}-robot-{r.name}", metadata=meta(f"{r.name}-jobs", r.namespace),
                role_ref={"apiGroup": API, "kind": "Role", "name": f"{r.name}-jobs"},
                subjects=[{"kind": "ServiceAccount", "name": r.name, "namespace": r.namespace}, *group_subjects(r.groups)],
                opts=k.merge(pulumi.ResourceOptions(depends_on=[sa, role])))
            if r.long_lived_token:
                # Valid until deleted (revoking it = deleting it); `data` holds the token, so it stays secret in state.
                k8s.core.v1.Secret(f"{name}-robot-{r.name}-token", metadata=meta(
                    f"{r.name}-token", r.namespace, annotations={"kubernetes.io/service-account.name": r.name}),
                    type="kubernetes.io/service-account-token",
                    opts=k.merge(pulumi.ResourceOptions(depends_on=[sa], additional_secret_outputs=["data"])))
        if cfg.monitors:
            k8s.rbac.v1.ClusterRole(f"{name}-monitor", metadata=meta("cloudviper-monitor"), rules=MONITOR_RULES, opts=k)
        for m in cfg.monitors:
            sa = k8s.core.v1.ServiceAccount(f"{name}-monitor-{m.name}", metadata=meta(m.name, "kube-system"), opts=k)
            k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-monitor-{m.name}", metadata=meta(f"cloudviper-monitor-{m.name}"),
                role_ref={"apiGroup": API, "kind": "ClusterRole", "name": "cloudviper-monitor"},
                subjects=[{"kind": "ServiceAccount", "name": m.name, "namespace": "kube-system"}, *group_subjects(m.groups)],
                opts=k.merge(pulumi.ResourceOptions(depends_on=[sa])))
        self.register_outputs({})
