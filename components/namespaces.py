"""Team namespaces: Pod Security Standard labels, a ResourceQuota and a LimitRange each."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import meta
from infra.config.namespaces import NamespaceConfig
from infra.documents.admiralty import FEDERATED_NAMESPACE_LABEL


def pod_security_labels(level: str, warn: Optional[str] = None) -> dict[str, str]:
    """Enforce one Pod Security Standard level; audit and warn at `warn` (default: the same level).

    A stricter `warn` keeps what the enforced level lets through visible (kubectl warnings, audit annotations).
    """
    return {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "latest"} | {
        f"pod-security.kubernetes.io/{mode}": warn or level for mode in ("audit", "warn")}


def create_namespace(name: str, cfg: NamespaceConfig, opts: pulumi.ResourceOptions,
                     extra_labels: Optional[dict[str, str]] = None) -> k8s.core.v1.Namespace:
    """A namespace with its quota and container defaults; returns the Namespace."""
    labels = {**pod_security_labels(cfg.pod_security, cfg.pod_security_warn), **(extra_labels or {})}
    ns = k8s.core.v1.Namespace(name, metadata=meta(cfg.name, labels=labels), opts=opts)
    after = opts.merge(pulumi.ResourceOptions(depends_on=[ns]))
    hard = {"requests.cpu": cfg.quota.cpu, "limits.cpu": cfg.quota.cpu, "requests.memory": cfg.quota.memory,
            "limits.memory": cfg.quota.memory, "pods": str(cfg.quota.pods),
            # Always set: without it a namespace could take every GPU; 0 means none (extended resources are quota'd
            # by `requests.` only: kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-for-extended-resources).
            "requests.nvidia.com/gpu": str(cfg.quota.gpus)}
    k8s.core.v1.ResourceQuota(f"{name}-quota", metadata=meta("team-budget", cfg.name), spec={"hard": hard}, opts=after)
    k8s.core.v1.LimitRange(f"{name}-limits", metadata=meta("container-defaults", cfg.name), spec={"limits": [{
        "type": "Container",
        "defaultRequest": {"cpu": cfg.limits.default_cpu_request, "memory": cfg.limits.default_memory_request},
        # The quota limits CPU too, so a container without a CPU limit needs a default one.
        "default": {"cpu": cfg.limits.default_cpu_limit, "memory": cfg.limits.default_memory_limit},
    }]}, opts=after)
    return ns


class TeamNamespaces(pulumi.ComponentResource):
    """Every namespace of `cloudviper:namespaces`."""

    def __init__(self, name: str, namespaces: list[NamespaceConfig], provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:TeamNamespaces", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider)
        self.namespaces = {
            n.name: create_namespace(f"{name}-{n.name}", n, k, FEDERATED_NAMESPACE_LABEL if n.federated else None)
            for n in namespaces
        }
        self.register_outputs({"names": sorted(self.namespaces)})
