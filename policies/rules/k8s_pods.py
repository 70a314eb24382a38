"""Pod security on every workload: each pod spec in a Kubernetes object meets the Pod Security Standards.

Pod specs are found generically, not by kind: any mapping with a list of containers, initContainers or
ephemeralContainers, anywhere in the object (Pods, Deployments, ReplicationControllers, PodTemplates, Jobs, CronJobs,
and custom resources that embed pods: DaskCluster, DaskWorkerGroup, MPIJob, ...). The pod's metadata (AppArmor
annotations) is the `metadata` next to that spec (a Pod's own, a template's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity
from pulumi_policy.proxy import UnknownValueError

from policies.rules.common import Report, config, get, glob_any, is_list, label, namespace_of, resource_policy, schema
from policies.rules.k8s_pss import CONTAINER_KEYS, violations

# Types whose props hold no workload of their own: a Helm release's values are chart inputs (its rendered objects
# are not in the plan), a CRD holds schemas.
NOT_WORKLOADS = ("kubernetes:helm.sh/", "kubernetes:apiextensions.k8s.io/")

PODS_SCHEMA = schema(
    allowedNamespaces={
        "type": "array", "items": {"type": "string"}, "default": ["kube-system"],
        "description": "Namespaces whose pods may use what the Pod Security Standards' baseline refuses (privileged "
                       "containers, the host's network, PIDs, IPC, paths and ports, added capabilities...): node agents.",
    },
    restrictedNamespaces={
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Namespaces (glob patterns) whose pods must also meet the restricted standard (non-root, no "
                       "privilege escalation, all capabilities dropped, a seccomp profile, core volume types only).",
    },
)


def _entries(m: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs of a mapping, skipping values unknown during preview."""
    for key in list(m):
        try:
            yield str(key), m[key]
        except UnknownValueError:
            continue


def _items(v: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(v, Mapping):
        yield from _entries(v)
    elif is_list(v):
        for i in range(len(v)):
            try:
                yield str(i), v[i]
            except UnknownValueError:
                continue


def pod_specs(props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], Optional[Mapping[str, Any]]]]:
    """(path, pod spec, pod metadata) of every pod spec in an object's props."""
    stack: list[tuple[str, Any, Any]] = [("", props, None)]
    while stack:
        path, node, parent = stack.pop()
        if isinstance(node, Mapping) and any(is_list(get(node, k)) for k in CONTAINER_KEYS if _known(node, k)):
            meta = get(parent, "metadata") if isinstance(parent, Mapping) and _known(parent, "metadata") else None
            yield path or "(object)", node, meta if isinstance(meta, Mapping) else None
        for key, child in reversed(list(_items(node))):
            if isinstance(child, Mapping) or is_list(child):
                stack.append((f"{path}.{key}" if path else key, child, node))


def _known(m: Mapping[str, Any], key: str) -> bool:
    try:
        get(m, key)
        return True
    except UnknownValueError:
        return False


def validate_pods(args: ResourceValidationArgs, report: Report) -> None:
    """Workloads outside allowedNamespaces meet the baseline standard (restricted in restrictedNamespaces)."""
    if not args.resource_type.startswith("kubernetes:") or args.resource_type.startswith(NOT_WORKLOADS):
        return
    cfg = config(args, PODS_SCHEMA)
    ns = namespace_of(args.props)
    if ns in cfg["allowedNamespaces"]:
        return
    level = "restricted" if glob_any(ns, cfg["restrictedNamespaces"]) else "baseline"
    for path, spec, meta in pod_specs(args.props):
        for v in violations(spec, level, meta):
            report(f"{label(args)} in namespace {ns}, pod spec {path}: {v} (Pod Security Standards {level})")


PODS = resource_policy(
    "k8s-no-host-access",
    "Every pod spec of every Kubernetes object (workloads, pod templates, Jobs, CronJobs, custom resources embedding "
    "pods, ephemeral containers) outside allowedNamespaces meets the Pod Security Standards baseline: no privileged "
    "containers, host namespaces, hostPath volumes or host ports, no capabilities beyond the baseline set, no unsafe "
    "sysctls, procMount, SELinux types, Unconfined seccomp or AppArmor, Windows hostProcess or probe hosts; "
    "restricted as well in restrictedNamespaces.",
    validate_pods, EnforcementLevel.MANDATORY, Severity.HIGH, PODS_SCHEMA,
    "Drop what the standard refuses, or run the workload in an allowed namespace if it is a node agent.",
)
