"""Pod security on every workload: each pod spec in a Kubernetes object meets the Pod Security Standards.

Pod specs are found three ways: at their known path in the built-in workload kinds and their `...Patch` kinds (a
patch may set only pod-level fields: hostNetwork, a hostPath volume, a seccomp profile, an annotation); as any
mapping with a list of containers, initContainers or ephemeralContainers anywhere in the object (custom resources
that embed pods: DaskCluster, DaskWorkerGroup, MPIJob, ...); and as a `template`'s `spec` holding pod-level fields.
The pod's metadata is the `metadata` next to that spec (a Pod's own, a template's): its AppArmor annotations are
checked as well (pod-security-admission policy/check_appArmorProfile.go reads them), even with no spec beside them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity
from pulumi_policy.proxy import UnknownValueError

from policies.rules.common import WORKLOAD_POD_SPEC_PATHS as BUILTIN_POD_SPEC_PATHS
from policies.rules.common import Report, config, get, glob_any, is_list, label, namespace_of, resource_policy, schema
from policies.rules.k8s_pss import APPARMOR_ANNOTATION, CONTAINER_KEYS, violations

# Types whose props hold no workload of their own (exact type tokens of pulumi-kubernetes): a Helm chart's or
# release's values are chart inputs (its rendered objects are not in the plan), a CRD holds schemas. A custom resource
# in an API group named like them (helm.sh/v1) is judged like any other.
NOT_WORKLOADS = frozenset({
    "kubernetes:helm.sh/v2:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v4:Chart",
    *(f"kubernetes:apiextensions.k8s.io/{v}:CustomResourceDefinition{s}" for v in ("v1", "v1beta1")
      for s in ("", "Patch", "List")),
})
# Where the pod spec sits in each built-in workload kind (PodTemplate: kubernetes.io/docs/reference/kubernetes-api/
# workload-resources/pod-template-v1/, ReplicationController: .../replication-controller-v1/); `...Patch` alike.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    **BUILTIN_POD_SPEC_PATHS,
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
}
# Pod-level fields (core/v1 PodSpec) that make a template's `spec` a pod spec even without containers.
POD_FIELDS = ("hostNetwork", "hostPID", "hostIPC", "hostUsers", "volumes", "securityContext")
PodSpec = tuple[str, Mapping[str, Any], Optional[Mapping[str, Any]]]

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


def _items(v: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(v, Mapping):
        yield from _entries(v)
    elif is_list(v):
        for i in range(len(v)):
            try:
                yield i, v[i]
            except UnknownValueError:
                continue


def _mapping(m: Any, *path: str | int) -> Optional[Mapping[str, Any]]:
    """The mapping at path (None if absent, not a mapping or unknown during preview)."""
    try:
        v = get(m, *path)
    except UnknownValueError:
        return None
    return v if isinstance(v, Mapping) else None


def _has_apparmor(meta: Optional[Mapping[str, Any]]) -> bool:
    annotations = _mapping(meta, "annotations")
    return annotations is not None and any(str(k).startswith(APPARMOR_ANNOTATION) for k, _ in _entries(annotations))


def _is_pod_spec(node: Mapping[str, Any], keys: tuple[str | int, ...]) -> bool:
    """Containers, or pod-level fields in a template's spec."""
    if any(is_list(get(node, k)) for k in CONTAINER_KEYS if _known(node, k)):
        return True
    return keys[-2:] == ("template", "spec") and any(_known(node, k) and get(node, k) is not None for k in POD_FIELDS)


def _known_path(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """The pod spec (or metadata alone) at its known path for a built-in workload kind or its Patch kind."""
    path = POD_SPEC_PATHS.get(resource_type.removesuffix("Patch"))
    if path:
        spec = _mapping(props, *path)
        meta = _mapping(props, *path[:-1], "metadata")
        if spec is not None or _has_apparmor(meta):
            yield path, spec or {}


def pod_specs(props: Mapping[str, Any], resource_type: str = "") -> Iterator[PodSpec]:
    """(path, pod spec, pod metadata) of every pod spec in an object's props."""
    found: dict[tuple[str | int, ...], Mapping[str, Any]] = dict(_known_path(resource_type, props))
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), props)]
    while stack:
        keys, node = stack.pop()
        if isinstance(node, Mapping) and _is_pod_spec(node, keys):
            found[keys] = node
        elif isinstance(node, Mapping) and keys[-1:] == ("template",) and _has_apparmor(_mapping(node, "metadata")):
            found.setdefault((*keys, "spec"), _mapping(node, "spec") or {})
        for key, child in reversed(list(_items(node))):
            if isinstance(child, Mapping) or is_list(child):
                stack.append(((*keys, key), child))
    for keys, spec in found.items():
        yield ".".join(map(str, keys)) or "(object)", spec, _mapping(props, *keys[:-1], "metadata") if keys else None


def _known(m: Mapping[str, Any], key: str) -> bool:
    try:
        get(m, key)
        return True
    except UnknownValueError:
        return False


def validate_pods(args: ResourceValidationArgs, report: Report) -> None:
    """Workloads outside allowedNamespaces meet the baseline standard (restricted in restrictedNamespaces)."""
    if not args.resource_type.startswith("kubernetes:") or args.resource_type in NOT_WORKLOADS:
        return
    cfg = config(args, PODS_SCHEMA)
    ns = namespace_of(args.props)
    if ns in cfg["allowedNamespaces"]:
        return
    level = "restricted" if glob_any(ns, cfg["restrictedNamespaces"]) else "baseline"
    for path, spec, meta in pod_specs(args.props, args.resource_type):
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
