"""What a stack's RBAC objects grant, as the API server's RBAC authorizer would read them.

- A binding's role is resolved by kind and exact name: the stack's Roles/ClusterRoles (and their Patch resources),
  and Kubernetes' built-in ClusterRoles (policies/rules/k8s_builtin_roles.py), whose rules the bootstrap
  reconciliation keeps adding back, so a role defined in both grants the union.
- A ClusterRole with an `aggregationRule` grants the union of every ClusterRole its selectors match
  (kubernetes.io/docs/reference/access-authn-authz/rbac/, Aggregated ClusterRoles), built-in ones included.
- Subjects (kubernetes/kubernetes pkg/registry/rbac/validation/rule.go, appliesToUser): a ServiceAccount without a
  namespace in a RoleBinding is the binding's namespace's; a User named `system:serviceaccount:<ns>:<name>` is that
  service account (apiserver/pkg/authentication/serviceaccount/util.go, MakeUsername). Names match exactly.
- Rules match as rbac/v1 helpers.go does: `*` or the exact verb, API group and resource, or `*/<subresource>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from policies.rules.common import get, is_list, label, namespace_of
from policies.rules.k8s_builtin_roles import BOOTSTRAP_LABEL, BUILTIN_CLUSTER_ROLES

RBAC_PREFIX = "kubernetes:rbac.authorization.k8s.io/"
ROLE_KINDS = {"Role": "Role", "RolePatch": "Role", "ClusterRole": "ClusterRole", "ClusterRolePatch": "ClusterRole"}
BINDING_KINDS = {"RoleBinding": "RoleBinding", "RoleBindingPatch": "RoleBinding",
                 "ClusterRoleBinding": "ClusterRoleBinding", "ClusterRoleBindingPatch": "ClusterRoleBinding"}
SA_USER_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
EVERYONE_GROUPS = ("system:authenticated", "system:unauthenticated")


def rbac_kind(resource_type: str, kinds: Mapping[str, str]) -> Optional[str]:
    """Role/ClusterRole/RoleBinding/ClusterRoleBinding for an RBAC type token of any version (Patch types too)."""
    if not resource_type.startswith(RBAC_PREFIX):
        return None
    return kinds.get(resource_type.rsplit(":", 1)[-1])


def strings(value: Any) -> list[str]:
    """A list of strings from a props list (anything else: empty)."""
    return [str(v) for v in value] if is_list(value) else []


@dataclass(frozen=True)
class Subject:
    """One binding subject, resolved to who it is."""

    kind: str
    name: str
    namespace: str = ""  # a ServiceAccount's namespace, also for `system:serviceaccount:` users
    written: str = ""

    @property
    def is_service_account(self) -> bool:
        return self.kind == "ServiceAccount" or (self.kind == "User" and self.name.startswith(SA_USER_PREFIX))

    def service_account(self) -> Optional[tuple[str, str]]:
        """(namespace, name) of the one service account this subject is, if it is one."""
        if self.kind == "ServiceAccount":
            return (self.namespace, self.name)
        if self.kind == "User" and self.name.startswith(SA_USER_PREFIX):
            ns, _, name = self.name[len(SA_USER_PREFIX):].partition(":")
            return (ns, name)
        return None

    def covers_service_accounts(self) -> bool:
        """This subject is a service account, a group of them, or everyone (anonymous users too)."""
        if self.is_service_account:
            return True
        if self.kind == "User":
            return self.name == "system:anonymous"
        return self.kind == "Group" and (self.name == SA_GROUP or self.name.startswith(SA_GROUP + ":")
                                         or self.name in EVERYONE_GROUPS)

    def __str__(self) -> str:
        return self.written


def subject_of(s: Mapping[str, Any], binding_ns: str) -> Subject:
    """A subject as the authorizer matches it."""
    kind, name = str(get(s, "kind")), str(get(s, "name"))
    if kind == "ServiceAccount":
        ns = str(get(s, "namespace") or binding_ns)
        return Subject(kind, name, ns, f"ServiceAccount {ns}/{name}")
    return Subject(kind, name, "", f"{kind} {name}")


@dataclass
class RoleDef:
    """One definition of a role: a stack resource or a built-in ClusterRole."""

    kind: str
    name: str
    namespace: str
    rules: list[Mapping[str, Any]]
    labels: dict[str, str]
    selectors: list[Mapping[str, Any]]
    resource: Optional[PolicyResource] = None


@dataclass(frozen=True)
class Grant:
    """What one binding gives its subjects, and where (scope "": every namespace and the cluster)."""

    binding: PolicyResource
    subjects: tuple[Subject, ...]
    scope: str
    ref: str  # the roleRef's name
    role: str  # how messages name the role
    rules: tuple[Mapping[str, Any], ...]
    known: bool  # the stack or Kubernetes defines the role


def builtin_defs() -> list[RoleDef]:
    """The built-in ClusterRoles as role definitions."""
    return [RoleDef("ClusterRole", name, "", list(rules), {**BOOTSTRAP_LABEL, **labels},
                    [{"matchLabels": {selected: "true"}}] if selected else [])
            for name, (labels, selected, rules) in BUILTIN_CLUSTER_ROLES.items()]


def _role_def(res: PolicyResource, kind: str) -> RoleDef:
    labels = get(res.props, "metadata", "labels")
    return RoleDef(kind, str(get(res.props, "metadata", "name")), namespace_of(res.props) if kind == "Role" else "",
                   [x for x in get(res.props, "rules") or [] if isinstance(x, Mapping)],
                   {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
                   [x for x in get(res.props, "aggregationRule", "clusterRoleSelectors") or [] if isinstance(x, Mapping)],
                   res)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels and matchExpressions); an empty selector matches everything."""
    match = get(selector, "matchLabels")
    for k, v in (match.items() if isinstance(match, Mapping) else []):
        if labels.get(str(k)) != str(v):
            return False
    for e in get(selector, "matchExpressions") if is_list(get(selector, "matchExpressions")) else []:
        key, op, values = str(get(e, "key")), get(e, "operator"), strings(get(e, "values"))
        ok = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(str(op), False)
        if not ok:
            return False
    return True


class Rbac:
    """Roles and bindings of a stack, with built-in ClusterRoles."""

    def __init__(self, resources: Iterable[PolicyResource], with_stack: bool = True) -> None:
        self.defs: dict[tuple[str, str, str], list[RoleDef]] = {}
        for d in builtin_defs():
            self.defs.setdefault((d.kind, d.namespace, d.name), []).append(d)
        self.bindings: list[tuple[PolicyResource, str]] = []
        for res in resources if with_stack else []:
            try:
                self._add(res)
            except UnknownValueError:
                continue

    def _add(self, res: PolicyResource) -> None:
        kind = rbac_kind(res.resource_type, ROLE_KINDS)
        if kind:
            d = _role_def(res, kind)
            self.defs.setdefault((d.kind, d.namespace, d.name), []).append(d)
        binding = rbac_kind(res.resource_type, BINDING_KINDS)
        if binding:
            self.bindings.append((res, binding))

    def cluster_roles(self) -> Iterator[RoleDef]:
        """Every ClusterRole definition."""
        for (kind, _, _), defs in self.defs.items():
            if kind == "ClusterRole":
                yield from defs

    def labels_of(self, name: str) -> dict[str, str]:
        """A ClusterRole's labels (every definition's)."""
        out: dict[str, str] = {}
        for d in self.defs.get(("ClusterRole", "", name), []):
            out.update(d.labels)
        return out

    def rules_of(self, kind: str, name: str, ns: str, seen: Optional[set[str]] = None) -> tuple[list[Any], list[RoleDef]]:
        """(rules, definitions that contributed) of a role, aggregation included; ([], []) when unknown."""
        defs = self.defs.get((kind, ns if kind == "Role" else "", name), [])
        rules: list[Any] = [x for d in defs for x in d.rules]
        used = list(defs)
        seen = (seen or set()) | {name}
        selectors = [s for d in defs if kind == "ClusterRole" for s in d.selectors]
        if selectors:
            for other in {d.name for d in self.cluster_roles()} - seen:
                if any(selector_matches(s, self.labels_of(other)) for s in selectors):
                    more, more_defs = self.rules_of("ClusterRole", other, "", seen | {other})
                    rules += more
                    used += more_defs
        return rules, used

    def grants(self) -> Iterator[Grant]:
        """What each binding grants (bindings with unknown values during preview are skipped)."""
        for res, kind in self.bindings:
            try:
                yield self._grant(res, kind)
            except UnknownValueError:
                continue

    def _grant(self, res: PolicyResource, kind: str) -> Grant:
        scope = namespace_of(res.props) if kind == "RoleBinding" else ""
        ref_kind, ref_name = str(get(res.props, "roleRef", "kind")), str(get(res.props, "roleRef", "name"))
        rules, defs = self.rules_of(ref_kind, ref_name, scope)
        named = [d.resource for d in defs if d.name == ref_name and d.resource is not None]
        role = label(named[0]) if named else f"{'built-in ' if defs else ''}{ref_kind} {ref_name!r}"
        subjects = tuple(subject_of(s, scope) for s in get(res.props, "subjects") or [] if isinstance(s, Mapping))
        return Grant(res, subjects, scope, ref_name, role, tuple(rules), bool(defs))


def resource_matches(rule_resources: Iterable[str], resource: str) -> bool:
    """rbac/v1 ResourceMatches: `*`, the exact resource[/subresource], or `*/<subresource>`."""
    sub = resource.partition("/")[2]
    return any(x == "*" or x == resource or (sub and x == f"*/{sub}") for x in rule_resources)


@dataclass(frozen=True)
class RuleMatcher:
    """One PolicyRule read once (its props are proxies: reading them for every verb, group and resource asked
    about was most of the RBAC checks' time)."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names_objects: bool  # it lists resourceNames

    @classmethod
    def of(cls, rule: Mapping[str, Any]) -> RuleMatcher:
        return cls(frozenset(strings(get(rule, "verbs"))), frozenset(strings(get(rule, "apiGroups"))),
                   frozenset(strings(get(rule, "resources"))), bool(get(rule, "resourceNames")))

    def allows(self, verb: str, group: str, resource: str, named: bool = False) -> bool:
        """Whether it grants verb on group/resource (for every object, unless `named`: also rules naming objects)."""
        if self.names_objects and not named:
            return False
        return (("*" in self.verbs or verb in self.verbs) and ("*" in self.groups or group in self.groups)
                and resource_matches(self.resources, resource))


def allows(rule: Mapping[str, Any], verb: str, group: str, resource: str, named: bool = False) -> bool:
    """Whether a rule grants verb on group/resource (for every object, unless `named`: also rules naming objects)."""
    return RuleMatcher.of(rule).allows(verb, group, resource, named)
