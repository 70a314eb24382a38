"""The RBAC rights that let a subject escalate, and wildcards, found in a list of PolicyRules.

The list follows kubernetes.io/docs/concepts/security/rbac-good-practices/ ("Kubernetes RBAC - privilege escalation
risks"); each right names its section. Scope says where a grant is dangerous:
- "any": also through a RoleBinding (escalate and bind break RBAC's own guard; patching a Namespace relabels its
  Pod Security level: "Namespace modification ... through a namespaced RoleBinding");
- "cluster": cluster-scoped objects, so only a ClusterRoleBinding grants them;
- "namespace": in one namespace these give the rights of that namespace's service accounts ("Workload creation":
  pods run as any service account of the namespace; a token or impersonation is that account); granted in every
  namespace at once (a ClusterRoleBinding) they reach every service account of the cluster.
`named` rights stay dangerous when the rule lists resourceNames: those requests carry the object's name (a token for
the named service account, a patch of the named Deployment, exec into the named pod, the named Secret), so the rule
matches them (kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources). Creating a workload is
not: a create request carries no name, so a rule with resourceNames never allows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.rules.common import get
from policies.rules.k8s_builtin_roles import RBAC_GROUP
from policies.rules.k8s_rbac_model import RuleMatcher, strings

DOC = "kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks"
WRITE = ("create", "update", "patch", "delete", "deletecollection")
TEMPLATES = ("pods", "replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets",
             "apps/daemonsets", "batch/cronjobs", "pods/ephemeralcontainers")


@dataclass(frozen=True)
class Right:
    """A dangerous right: any of `verbs` on any of `targets` ("group/resource", core group without a slash prefix)."""

    what: str
    section: str
    verbs: tuple[str, ...]
    targets: tuple[str, ...]
    scope: str
    named: bool = False  # resourceNames do not make it harmless (naming cluster-admin, a user, a pod is the danger)


RIGHTS = (
    Right("escalate roles", "Escalate verb", ("escalate",), (f"{RBAC_GROUP}/roles", f"{RBAC_GROUP}/clusterroles"),
          "any", True),
    Right("bind roles", "Bind verb", ("bind",), (f"{RBAC_GROUP}/roles", f"{RBAC_GROUP}/clusterroles"), "any", True),
    Right("patch or update namespaces (their Pod Security labels)", "Namespace modification", ("patch", "update"),
          ("namespaces",), "any"),
    Right("impersonate users, groups or uids", "Impersonate verb", ("impersonate",),
          ("users", "groups", "authentication.k8s.io/uids", "authentication.k8s.io/userextras/scopes"), "cluster", True),
    Right("create PersistentVolumes (hostPath)", "Persistent volume creation", ("create",), ("persistentvolumes",),
          "cluster"),
    Right("use nodes/proxy (the kubelet API)", "Access to proxy subresource of Nodes", ("get", "create", "*"),
          ("nodes/proxy",), "cluster"),
    Right("approve CertificateSigningRequests", "CSRs and certificate issuing", ("update", "patch"),
          ("certificates.k8s.io/certificatesigningrequests/approval",), "cluster"),
    Right("write admission webhook configurations", "Control admission webhooks", WRITE,
          ("admissionregistration.k8s.io/validatingwebhookconfigurations",
           "admissionregistration.k8s.io/mutatingwebhookconfigurations"), "cluster"),
    Right("read Secrets", "Listing secrets", ("get", "list", "watch"), ("secrets",), "namespace", True),
    Right("create workloads", "Workload creation", ("create",),
          ("pods", "replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets",
           "apps/daemonsets", "batch/jobs", "batch/cronjobs"), "namespace"),
    Right("change pod templates", "Workload creation", ("update", "patch"), TEMPLATES, "namespace", True),
    Right("exec or attach into pods", "Workload creation", ("create", "get"), ("pods/exec", "pods/attach"), "namespace",
          True),
    Right("impersonate service accounts", "Impersonate verb", ("impersonate",), ("serviceaccounts",), "namespace", True),
    Right("create service account tokens", "Token request", ("create",), ("serviceaccounts/token",), "namespace",
          True),
)


def target(t: str) -> tuple[str, str]:
    """(API group, resource) of a "group/resource" target; the core group's resources have no group part."""
    head, _, rest = t.partition("/")
    return (head, rest) if "." in head or head in ("apps", "batch") else ("", t)


def _grants(rules: list[RuleMatcher], right: Right) -> bool:
    return any(rule.allows(verb, *target(t), named=right.named)
               for rule in rules for verb in right.verbs for t in right.targets)


def rights_in(rules: Iterable[Mapping[str, Any]]) -> list[Right]:
    """The dangerous rights a set of rules grants (CSR approval only with `approve` on a signer as well)."""
    matchers = [RuleMatcher.of(rule) for rule in rules]
    found = [right for right in RIGHTS if _grants(matchers, right)]
    signer = any(rule.allows("approve", "certificates.k8s.io", "signers", named=True) for rule in matchers)
    return [right for right in found if right.section != "CSRs and certificate issuing" or signer]


def wildcards(rules: Iterable[Mapping[str, Any]]) -> list[str]:
    """`*` in verbs, API groups or non-resource URLs, and resources with a `*` (`*`, `*/scale`)."""
    found = set()
    for rule in rules:
        for key in ("verbs", "apiGroups", "nonResourceURLs"):
            if "*" in strings(get(rule, key)):
                found.add(f"{key} '*'")
        found.update(f"resources {x!r}" for x in strings(get(rule, "resources")) if "*" in x)
    return sorted(found)


def full_access(rules: Iterable[Mapping[str, Any]]) -> bool:
    """Some rule allows every verb on every resource of every API group (what cluster-admin grants)."""
    return any(all("*" in strings(get(r, k)) for k in ("verbs", "apiGroups", "resources")) for r in rules)
