"""Kubernetes security basics: no privileged pods or host access, no cluster-admin robots, no wildcards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from policies.rules.common import (
    Report,
    config,
    get,
    label,
    namespace_of,
    pod_spec,
    resource_policy,
    schema,
    stack_policy,
)

RBAC = "kubernetes:rbac.authorization.k8s.io/v1:"
BINDINGS = (RBAC + "RoleBinding", RBAC + "ClusterRoleBinding")

PODS_SCHEMA = schema(
    allowedNamespaces={
        "type": "array", "items": {"type": "string"}, "default": ["kube-system"],
        "description": "Namespaces whose pods may be privileged or use the host's network, PID space or paths.",
    },
)


def host_access(spec: Mapping[str, Any]) -> list[str]:
    """What a pod spec asks of the host: privileged containers, hostPath, hostNetwork, hostPID."""
    found = []
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if get(c, "securityContext", "privileged") is True:
                found.append(f"privileged container {c.get('name')!r}")
    for v in spec.get("volumes") or []:
        if get(v, "hostPath") is not None:
            found.append(f"hostPath volume {v.get('name')!r}")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            found.append(key)
    return found


def validate_pods(args: ResourceValidationArgs, report: Report) -> None:
    """Workloads outside allowedNamespaces get no privileged or host access."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    ns = namespace_of(args.props)
    if ns in config(args, PODS_SCHEMA)["allowedNamespaces"]:
        return
    for what in host_access(spec):
        report(f"{label(args)} in namespace {ns} uses {what}")


PODS = resource_policy(
    "k8s-no-host-access",
    "Pods outside allowedNamespaces are not privileged and use no hostPath, hostNetwork, hostPID or hostIPC.",
    validate_pods, EnforcementLevel.MANDATORY, Severity.HIGH, PODS_SCHEMA,
    "Drop the privilege, or run the workload in an allowed namespace if it is a node agent.",
)


def validate_cluster_admin(args: ResourceValidationArgs, report: Report) -> None:
    """No binding grants cluster-admin to a service account."""
    if args.resource_type not in BINDINGS or get(args.props, "roleRef", "name") != "cluster-admin":
        return
    for s in get(args.props, "subjects") or []:
        if get(s, "kind") == "ServiceAccount":
            report(f"{label(args)} binds cluster-admin to service account {get(s, 'namespace')}/{get(s, 'name')}")


CLUSTER_ADMIN = resource_policy(
    "k8s-no-cluster-admin-service-accounts",
    "No RoleBinding or ClusterRoleBinding grants cluster-admin to a service account.",
    validate_cluster_admin, EnforcementLevel.MANDATORY, Severity.CRITICAL, schema(),
    "Give the service account a Role with only the verbs and resources it needs.",
)

WILDCARD_SCHEMA = schema(
    adminGroups={
        "type": "array", "items": {"type": "string"}, "default": ["system:masters", "cloudviper:cluster-admins"],
        "description": "Groups whose bindings may reference roles with `*` verbs or resources.",
    },
)


def _roles(resources: Iterable[PolicyResource]) -> dict[tuple[str, str, str], PolicyResource]:
    found = {}
    for r in resources:
        if r.resource_type in (RBAC + "Role", RBAC + "ClusterRole"):
            kind = r.resource_type.rsplit(":", 1)[-1]
            ns = namespace_of(r.props) if kind == "Role" else ""
            found[(kind, ns, str(get(r.props, "metadata", "name")))] = r
    return found


def wildcard_rules(role: PolicyResource) -> list[str]:
    """Descriptions of rules with `*` in verbs, resources or apiGroups."""
    found = []
    for rule in get(role.props, "rules") or []:
        for key in ("verbs", "resources", "apiGroups"):
            if "*" in (get(rule, key) or []):
                found.append(f"{key} '*'")
    return sorted(set(found))


def validate_wildcards(args: StackValidationArgs, report: Report) -> None:
    """Roles bound to anyone but the admin groups must not use wildcards."""
    admins = set(config(args, WILDCARD_SCHEMA)["adminGroups"])
    roles = _roles(args.resources)
    for b in (r for r in args.resources if r.resource_type in BINDINGS):
        subjects = get(b.props, "subjects") or []
        non_admin = [s for s in subjects if not (get(s, "kind") == "Group" and get(s, "name") in admins)]
        if not non_admin:
            continue
        kind = get(b.props, "roleRef", "kind")
        ns = namespace_of(b.props) if kind == "Role" else ""
        role = roles.get((str(kind), ns, str(get(b.props, "roleRef", "name"))))
        if role is None:
            continue
        wild = wildcard_rules(role)
        if wild:
            who = ", ".join(f"{get(s, 'kind')} {get(s, 'name')}" for s in non_admin)
            report(f"{label(b)} grants {label(role)} with {', '.join(wild)} to {who}", b.urn)


WILDCARDS = stack_policy(
    "k8s-no-wildcard-rbac",
    "Roles bound to non-admin subjects list their verbs, resources and API groups explicitly (no `*`).",
    validate_wildcards, EnforcementLevel.MANDATORY, Severity.HIGH, WILDCARD_SCHEMA,
    "List the verbs and resources the subject needs.",
)

POLICIES = [PODS, CLUSTER_ADMIN, WILDCARDS]
