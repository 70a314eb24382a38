"""RBAC rule sets for the personas, and a pure "who can do what" evaluator over our own objects.

The evaluator follows the Kubernetes RBAC authorizer: a request is allowed if any binding
whose subjects match grants a rule matching (verb, API group, resource[/subresource], name).
RoleBindings grant only inside their namespace; ClusterRoleBindings everywhere. It knows the
built-in `view`, `edit` and `cluster-admin` ClusterRoles in a reduced form (the resources
our tests ask about), so bindings to them can be evaluated too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

Rule = dict[str, Any]


def rule(api_groups: list[str], resources: list[str], verbs: list[str], names: Optional[list[str]] = None) -> Rule:
    """One PolicyRule."""
    r: Rule = {"apiGroups": api_groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    return r


def port_forward_rules() -> list[Rule]:
    """`kubectl port-forward svc/...` needs get services, get/list/watch pods and get+create pods/portforward
    (get: kubectl's WebSocket transport up to Kubernetes 1.34; create: SPDY, and both since 1.35 with the
    AuthorizePodWebsocketUpgradeCreatePermission gate on by default, kubernetes/kubernetes#134577)."""
    return [rule([""], ["services"], ["get", "list"]), rule([""], ["pods"], ["get", "list", "watch"]),
            rule([""], ["pods/portforward"], ["get", "create"])]


READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]

# A grid pilot factory: exactly the calls of PanDA Harvester's Kubernetes plugins (HSF/harvester @ d561b72fec24,
# pandaharvester/harvestermisc/k8s_utils.py, class k8s_Client; every call is *_namespaced_* in one namespace):
# jobs create/list/delete (submitter, monitor, sweeper); pods list/delete (monitor: stuck pods); pods/log get
# (K8sMessenger only); configmaps create/delete (per-worker in PUSH mode; create is also the fallback for
# pilots-starter), patch pilots-starter (submitter start-up); secrets create/patch proxy-secret (K8sSecretCredManager,
# patch first, create on failure; it never reads or deletes it). No get/watch: Harvester never reads an object by
# name nor watches. RBAC cannot limit create (or a delete of per-worker names) by resourceNames.
# Creating Jobs lets the robot mount, and so read, every Secret and ConfigMap of its namespace and run pods as any
# of its service accounts (Kubernetes "RBAC good practices", Workload creation); creating Secrets lets it mint a
# token Secret for any of them. Hence a namespace of its own, holding nothing another persona needs.
JOB_ROBOT_RULES = [
    rule(["batch"], ["jobs"], ["create", "list", "delete"]),
    rule([""], ["pods"], ["list", "delete"]),
    rule([""], ["pods/log"], ["get"]),
    rule([""], ["configmaps"], ["create", "delete"]),
    rule([""], ["configmaps"], ["patch"], names=["pilots-starter"]),
    rule([""], ["secrets"], ["create"]),
    rule([""], ["secrets"], ["patch"], names=["proxy-secret"]),
]
# A read-only monitor: the cluster's shape and health, never secrets or exec.
MONITOR_RULES = [
    rule([""], ["nodes", "pods", "events", "namespaces"], READ),
    rule(["events.k8s.io"], ["events"], READ),
]
_WORKLOADS = ["pods", "pods/log", "services", "endpoints", "configmaps", "persistentvolumeclaims", "events",
              "serviceaccounts", "replicationcontrollers"]
_APPS = ["deployments", "deployments/scale", "replicasets", "statefulsets", "daemonsets"]
BUILTIN_CLUSTER_ROLES: dict[str, list[Rule]] = {
    "view": [rule([""], [*_WORKLOADS, "namespaces"], READ), rule(["apps"], _APPS, READ),
             rule(["batch"], ["jobs", "cronjobs"], READ)],
    "edit": [rule([""], [*_WORKLOADS, "namespaces"], READ), rule(["apps"], _APPS, READ),
             rule(["batch"], ["jobs", "cronjobs"], READ),
             rule([""], ["secrets"], READ + WRITE),
             rule([""], _WORKLOADS, WRITE), rule(["apps"], _APPS, WRITE), rule(["batch"], ["jobs", "cronjobs"], WRITE),
             rule([""], ["pods/exec", "pods/attach", "pods/portforward"], ["create", "get"])],
    "cluster-admin": [rule(["*"], ["*"], ["*"])],
}


@dataclass(frozen=True)
class Subject:
    """Who asks: a ServiceAccount (namespace/name), a User or a Group member."""

    kind: str
    name: str
    namespace: Optional[str] = None
    groups: tuple[str, ...] = ()

    def matches(self, s: Mapping[str, Any]) -> bool:
        """Whether a binding subject refers to this requester."""
        kind, name = s.get("kind"), s.get("name")
        if kind == "Group":
            return name in self.all_groups()
        if kind == "ServiceAccount":
            return self.kind == "ServiceAccount" and name == self.name and s.get("namespace") == self.namespace
        return kind == self.kind == "User" and name == self.name

    def all_groups(self) -> set[str]:
        """Explicit groups plus the ones Kubernetes adds for service accounts."""
        groups = set(self.groups) | {"system:authenticated"}
        if self.kind == "ServiceAccount":
            groups |= {"system:serviceaccounts", f"system:serviceaccounts:{self.namespace}"}
        return groups


@dataclass
class Rbac:
    """Roles, ClusterRoles and bindings (manifests as dicts), e.g. from a captured stack."""

    objects: Sequence[Mapping[str, Any]] = field(default_factory=list)

    def _of(self, kind: str) -> Iterable[Mapping[str, Any]]:
        return (o for o in self.objects if o.get("kind") == kind)

    def _role_rules(self, ref: Mapping[str, Any], namespace: Optional[str]) -> list[Mapping[str, Any]]:
        kind, name = ref.get("kind"), ref.get("name")
        for o in self._of(str(kind)):
            meta = o.get("metadata", {})
            if meta.get("name") == name and (kind == "ClusterRole" or meta.get("namespace") == namespace):
                return list(o.get("rules") or [])
        builtin: list[Mapping[str, Any]] = list(BUILTIN_CLUSTER_ROLES.get(str(name), []))
        return builtin if kind == "ClusterRole" else []

    def can(self, who: Subject, verb: str, resource: str, namespace: Optional[str] = None,
            api_group: str = "", name: Optional[str] = None) -> bool:
        """True if `who` may `verb` the `resource` (e.g. pods/exec) in `namespace` (None: cluster scope)."""
        for b in self._of("ClusterRoleBinding"):
            if any(who.matches(s) for s in b.get("subjects") or []) and \
                    _allows(self._role_rules(b.get("roleRef", {}), None), verb, api_group, resource, name):
                return True
        if namespace is None:
            return False
        for b in self._of("RoleBinding"):
            if b.get("metadata", {}).get("namespace") != namespace:
                continue
            if any(who.matches(s) for s in b.get("subjects") or []) and \
                    _allows(self._role_rules(b.get("roleRef", {}), namespace), verb, api_group, resource, name):
                return True
        return False


def _allows(rules: Iterable[Mapping[str, Any]], verb: str, api_group: str, resource: str, name: Optional[str]) -> bool:
    for r in rules:
        if not (set(r.get("verbs") or []) & {verb, "*"}):
            continue
        if not (set(r.get("apiGroups") or []) & {api_group, "*"}):
            continue
        resources = set(r.get("resources") or [])
        base = resource.split("/")[0]
        if not (resource in resources or "*" in resources or (f"{base}/*" in resources and "/" in resource)):
            continue
        names = r.get("resourceNames") or []
        if names and name not in names:
            continue
        return True
    return False
