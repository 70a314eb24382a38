"""RBAC rules judged on effective rights: built-in roles, aggregation and every way of naming a subject.

The model (policies/rules/k8s_rbac_model.py) resolves each binding to the rules its subjects really get; the rights
list (policies/rules/k8s_rbac_rights.py) says which of them let a subject escalate.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from policies.rules.common import Report, config, glob_any, label, schema, stack_policy
from policies.rules.k8s_builtin_roles import AGGREGATE, BUILTIN_CLUSTER_ROLES, is_reserved
from policies.rules.k8s_rbac_model import Grant, Rbac, Subject
from policies.rules.k8s_rbac_rights import DOC, full_access, rights_in, wildcards

KUBE_SYSTEM = "kube-system"
ADMIN_GROUPS = {
    "type": "array", "items": {"type": "string"}, "default": ["system:masters", "cloudviper:cluster-admins"],
    "description": "Groups whose bindings may reference roles with `*` verbs or resources.",
}


def each_grant(rbac: Rbac) -> Iterator[Grant]:
    """Grants whose rules can be read (one with unknown values during preview is judged at `pulumi up`)."""
    for g in rbac.grants():
        try:
            list(rights_in(g.rules)), wildcards(g.rules)
        except UnknownValueError:
            continue
        yield g


def _who(subjects: list[Subject]) -> str:
    return ", ".join(str(s) for s in subjects)


def validate_cluster_admin(args: StackValidationArgs, report: Report) -> None:
    """No binding grants cluster-admin, or a role as wide, to service accounts or to everyone."""
    for g in each_grant(Rbac(args.resources)):
        robots = [s for s in g.subjects if s.covers_service_accounts()]
        if robots and full_access(g.rules):
            what = "cluster-admin" if g.ref == "cluster-admin" else f"{g.role} (every verb on every resource)"
            report(f"{label(g.binding)} binds {what} to {_who(robots)}", g.binding.urn)


CLUSTER_ADMIN = stack_policy(
    "k8s-no-cluster-admin-service-accounts",
    "No RoleBinding or ClusterRoleBinding grants cluster-admin, or any role allowing every verb on every resource, to "
    "a service account (also written as the User system:serviceaccount:<ns>:<name>), a service-account group "
    "(system:serviceaccounts[:<ns>]) or everyone (system:authenticated, system:unauthenticated, system:anonymous).",
    validate_cluster_admin, EnforcementLevel.MANDATORY, Severity.CRITICAL, schema(),
    "Give the service account a Role with only the verbs and resources it needs.",
)
WILDCARD_SCHEMA = schema(adminGroups=ADMIN_GROUPS)


def validate_wildcards(args: StackValidationArgs, report: Report) -> None:
    """Roles bound to anyone but the admin groups must not use wildcards (built-in and aggregated roles included)."""
    admins = set(config(args, WILDCARD_SCHEMA)["adminGroups"])
    for g in each_grant(Rbac(args.resources)):
        non_admin = [s for s in g.subjects if not (s.kind == "Group" and s.name in admins)]
        wild = wildcards(g.rules)
        if non_admin and wild:
            report(f"{label(g.binding)} grants {g.role} with {', '.join(wild)} to {_who(non_admin)}", g.binding.urn)


WILDCARDS = stack_policy(
    "k8s-no-wildcard-rbac",
    "Roles bound to non-admin subjects list their verbs, resources and API groups explicitly (no `*`), judged on "
    "the rules they grant: built-in roles (cluster-admin) and aggregated ClusterRoles included.",
    validate_wildcards, EnforcementLevel.MANDATORY, Severity.HIGH, WILDCARD_SCHEMA,
    "List the verbs and resources the subject needs.",
)
ESCALATION_SCHEMA = schema(
    adminGroups={**ADMIN_GROUPS, "description": "Groups that may hold rights that escalate (escalate, bind, "
                                                "impersonate, Secrets everywhere, workloads in kube-system...)."},
    trustedServiceAccounts={
        "type": "array", "items": {"type": "string"}, "default": ["mpi-operator/mpi-operator"],
        "description": "Service accounts (namespace/name, glob patterns) of cluster-wide operators that may hold such "
                       "rights; default: the Kubeflow MPI operator, whose upstream ClusterRole reads Secrets and "
                       "creates pods and pods/exec in every namespace.",
    },
    allowedAggregations={
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "ClusterRoles allowed to add escalating rights or wildcards to the built-in admin, edit or view "
                       "roles (through an aggregate-to-* label) or to change a built-in role of the same name.",
    },
)


def _direct(g: Grant) -> list[str]:
    """What a grant allows on its own that escalates."""
    where = f"in namespace {g.scope}" if g.scope else "in every namespace"
    found = [f"{r.what} {where if r.scope != 'cluster' else ''}".strip() + f" ({r.section})"
             for r in rights_in(g.rules) if r.scope == "any" or not g.scope]
    if not g.known and is_reserved(g.ref):
        found.append(f"the built-in role {g.ref!r}, whose rights the pack does not know")
    return found


def privileged_accounts(grants: list[Grant]) -> dict[str, str]:
    """Namespaces (key "ns") and service accounts ("ns/name") holding escalating rights, and why.

    A subject that can create workloads (or exec, impersonate, mint tokens, read Secrets) in a namespace can act as
    any of its service accounts ("Workload creation"), so their rights count as its own; repeated until stable.
    """
    held: dict[str, str] = {KUBE_SYSTEM: "kube-system's service accounts run the cluster's controllers (bound to the "
                                         "built-in system:controller roles)"}
    for _ in range(len(grants) + 1):
        before = len(held)
        for g in grants:
            why = (_direct(g) + _derived(g, held))[:1]
            for s in g.subjects if why else ():
                sa = s.service_account()
                if sa:
                    held.setdefault(sa[0], f"{sa[0]}/{sa[1]} can {why[0]} ({label(g.binding)})")
                    held.setdefault("/".join(sa), held[sa[0]])
                elif s.kind == "Group" and s.name.startswith("system:serviceaccounts:"):
                    ns = s.name.split(":", 2)[2]
                    held.setdefault(ns, f"its service accounts can {why[0]} ({label(g.binding)})")
        if len(held) == before:
            break
    return held


def _derived(g: Grant, held: dict[str, str]) -> list[str]:
    if not g.scope or g.scope not in held:
        return []
    powers = [r.what for r in rights_in(g.rules) if r.scope == "namespace"]
    return [f"{', '.join(powers)} in namespace {g.scope}, whose service accounts it can act as: {held[g.scope]}"] \
        if powers else []


def _aggregations(rbac: Rbac, allowed: list[str], report: Report) -> None:
    """ClusterRoles that add escalating rights or wildcards to a built-in role, by label or by name."""
    builtin = Rbac([], with_stack=False)
    for d in rbac.cluster_roles():
        if d.resource is None or glob_any(d.name, allowed):
            continue
        targets = [level for level, key in AGGREGATE.items() if d.labels.get(key) == "true"]
        targets += [d.name] if d.name in BUILTIN_CLUSTER_ROLES else []
        added_rules = rbac.rules_of("ClusterRole", d.name, "")[0]  # all it grants: aggregation, its built-in rules
        for t in targets:
            base = builtin.rules_of("ClusterRole", t, "")[0]
            had = {r.what for r in rights_in(base)} | set(wildcards(base))
            added = [r.what for r in rights_in(added_rules) if r.what not in had] + \
                    [w for w in wildcards(added_rules) if w not in had]
            if added:
                report(f"{label(d.resource)} adds {', '.join(added)} to the built-in ClusterRole {t!r} (and to whoever "
                       f"it is bound to); list it in allowedAggregations if that is meant ({DOC})", d.resource.urn)


def _trusted(s: Subject, patterns: list[str]) -> bool:
    sa = s.service_account()
    return sa is not None and glob_any("/".join(sa), patterns)


def validate_escalation(args: StackValidationArgs, report: Report) -> None:
    """No non-admin subject gets rights that escalate, directly, through a namespace's service accounts, or through
    a built-in role changed by aggregation."""
    cfg = config(args, ESCALATION_SCHEMA)
    rbac = Rbac(args.resources)
    grants = list(each_grant(rbac))
    held = privileged_accounts(grants)
    for g in grants:
        who = [s for s in g.subjects if not (s.kind == "Group" and s.name in cfg["adminGroups"])
               and not _trusted(s, cfg["trustedServiceAccounts"])]
        found = _direct(g) + _derived(g, held)
        if who and found:
            report(f"{label(g.binding)} grants {g.role} to {_who(who)}: {'; '.join(found)} ({DOC})", g.binding.urn)
    _aggregations(rbac, cfg["allowedAggregations"], report)


ESCALATION = stack_policy(
    "k8s-no-rbac-escalation",
    "No non-admin subject gets rights that escalate (Kubernetes RBAC good practices): escalate, bind, impersonate, "
    "namespace patches, PersistentVolume creation, nodes/proxy, CSR approval, admission webhooks; Secrets, workloads, "
    "exec, service-account impersonation or tokens in every namespace, in kube-system, or in a namespace whose "
    "service accounts hold such rights; no ClusterRole adds such rights to the built-in admin, edit or view roles.",
    validate_escalation, EnforcementLevel.MANDATORY, Severity.CRITICAL, ESCALATION_SCHEMA,
    "Grant the subject a Role in its own namespace with the verbs it needs; keep powerful service accounts in a "
    "namespace nobody else can create pods in; or list an operator in trustedServiceAccounts.",
)

POLICIES = [CLUSTER_ADMIN, WILDCARDS, ESCALATION]
