"""The ClusterRoles every Kubernetes API server creates at start-up, with their rules, labels and aggregation rules.

Transcribed from kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/cluster-roles.yaml
@ 025f2834a128 (the bootstrap policy as policy.go builds it; the roles our clusters bind or could be bound to).
`admin`, `edit` and `view` have no rules of their own: the aggregation controller fills them with the rules of
every ClusterRole whose labels their `aggregationRule` selects (the `system:aggregate-to-*` roles below, each
other built-in role with such a label, and any ClusterRole a stack labels so). Every name starting with
`system:` is reserved for Kubernetes (kubernetes.io/docs/reference/access-authn-authz/rbac/, Default roles and
role bindings); the ones not listed here (e.g. `system:controller:*`) are judged unknown.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, Any]
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
RBAC_GROUP = "rbac.authorization.k8s.io"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}  # on every built-in role
AGGREGATE = {level: f"{RBAC_GROUP}/aggregate-to-{level}" for level in ("admin", "edit", "view")}


def r(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> Rule:
    """One PolicyRule."""
    out: Rule = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    return {**out, "resourceNames": names} if names else out


def urls(paths: list[str], verbs: list[str]) -> Rule:
    """A non-resource PolicyRule."""
    return {"nonResourceURLs": paths, "verbs": verbs}


_EDIT_CORE = ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale",
              "secrets", "serviceaccounts", "services", "services/proxy"]
_APPS = ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale",
         "statefulsets", "statefulsets/scale"]
_VIEW_CORE = ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
              "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status",
              "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
              "replicationcontrollers/status", "resourcequotas", "resourcequotas/status", "namespaces"]
_VIEW_APPS = ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
              "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
              "statefulsets/scale", "statefulsets/status"]
_VIEW_EXT = ["daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "ingresses",
             "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale", "replicasets/status",
             "replicationcontrollers/scale"]
_EVENTS = r(["", "events.k8s.io"], ["events"], ["create", "patch", "update"])


def _approver(signer: str) -> Rule:
    return r(["certificates.k8s.io"], ["signers"], ["approve"], [signer])


# name -> (labels, aggregation label selected or None, rules)
BUILTIN_CLUSTER_ROLES: dict[str, tuple[dict[str, str], str | None, list[Rule]]] = {
    "cluster-admin": ({}, None, [r(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
    "admin": ({}, AGGREGATE["admin"], []),
    "edit": ({AGGREGATE["admin"]: "true"}, AGGREGATE["edit"], []),
    "view": ({AGGREGATE["edit"]: "true"}, AGGREGATE["view"], []),
    "system:aggregate-to-admin": ({AGGREGATE["admin"]: "true"}, None, [
        r(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
        r([RBAC_GROUP], ["rolebindings", "roles"], READ + WRITE)]),
    "system:aggregate-to-edit": ({AGGREGATE["edit"]: "true"}, None, [
        r([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
        r([""], ["serviceaccounts"], ["impersonate"]),
        r([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
        r([""], ["pods/eviction"], ["create"]),
        r([""], _EDIT_CORE, WRITE),
        r([""], ["serviceaccounts/token"], ["create"]),
        r(["apps"], _APPS, WRITE),
        r(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
        r(["batch"], ["cronjobs", "jobs"], WRITE),
        r(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                           "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"], WRITE),
        r(["policy"], ["poddisruptionbudgets"], WRITE),
        r(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
        r(["coordination.k8s.io"], ["leases"], READ + WRITE)]),
    "system:aggregate-to-view": ({AGGREGATE["view"]: "true"}, None, [
        r([""], _VIEW_CORE, READ),
        r(["discovery.k8s.io"], ["endpointslices"], READ),
        r(["apps"], _VIEW_APPS, READ),
        r(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
        r(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
        r(["extensions"], _VIEW_EXT, READ),
        r(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
        r(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ)]),
    "system:auth-delegator": ({}, None, [r(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                                         r(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"])]),
    "system:basic-user": ({}, None, [
        r(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
        r(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
    "system:discovery": ({}, None, [urls(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                          "/openapi/*", "/readyz", "/version", "/version/"], ["get"])]),
    "system:public-info-viewer": ({}, None, [urls(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])]),
    "system:monitoring": ({}, None, [urls(["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis",
                                           "/readyz", "/readyz/*"], ["get"])]),
    "system:service-account-issuer-discovery": ({}, None, [urls(["/.well-known/openid-configuration",
                                                                 "/openid/v1/jwks"], ["get"])]),
    "system:heapster": ({}, None, [r([""], ["events", "namespaces", "nodes", "pods"], READ),
                                   r(["extensions"], ["deployments"], READ)]),
    "system:kube-aggregator": ({}, None, [r([""], ["endpoints", "services"], READ)]),
    "system:kube-dns": ({}, None, [r([""], ["endpoints", "services"], ["list", "watch"])]),
    "system:kube-controller-manager": ({}, None, [
        _EVENTS, r(["coordination.k8s.io"], ["leases"], ["create"]),
        r(["coordination.k8s.io"], ["leases"], ["get", "update"], ["kube-controller-manager"]),
        r([""], ["secrets", "serviceaccounts"], ["create"]), r([""], ["secrets"], ["delete"]),
        r([""], ["configmaps", "namespaces", "secrets", "serviceaccounts"], ["get"]),
        r([""], ["secrets", "serviceaccounts"], ["update"]),
        r(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        r(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        r(["*"], ["*"], ["list", "watch"]), r([""], ["serviceaccounts/token"], ["create"])]),
    "system:kubelet-api-admin": ({}, None, [r([""], ["nodes"], READ), r([""], ["nodes"], ["proxy"]),
                                            r([""], ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], ["*"])]),
    "system:node": ({}, None, [
        r(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        r(["authorization.k8s.io"], ["localsubjectaccessreviews", "subjectaccessreviews"], ["create"]),
        r([""], ["services"], READ), r([""], ["nodes"], ["create", *READ]), r([""], ["nodes/status"], ["patch", "update"]),
        r([""], ["nodes"], ["patch", "update"]), r([""], ["events"], ["create", "patch", "update"]),
        r([""], ["pods"], READ), r([""], ["pods"], ["create", "delete"]), r([""], ["pods/status"], ["patch", "update"]),
        r([""], ["pods/eviction"], ["create"]), r([""], ["configmaps", "secrets"], READ),
        r([""], ["persistentvolumeclaims", "persistentvolumes"], ["get"]), r([""], ["endpoints"], ["get"]),
        r(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", *READ]),
        r(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "patch", "update"]),
        r(["storage.k8s.io"], ["volumeattachments"], ["get"]), r([""], ["serviceaccounts/token"], ["create"]),
        r([""], ["persistentvolumeclaims/status"], ["get", "patch", "update"]),
        r(["storage.k8s.io"], ["csidrivers"], READ),
        r(["storage.k8s.io"], ["csinodes"], ["create", "delete", "get", "patch", "update"]),
        r(["node.k8s.io"], ["runtimeclasses"], READ)]),
    "system:node-bootstrapper": ({}, None, [r(["certificates.k8s.io"], ["certificatesigningrequests"],
                                              ["create", *READ])]),
    "system:node-problem-detector": ({}, None, [r([""], ["nodes"], ["get"]), r([""], ["nodes/status"], ["patch"]),
                                                _EVENTS]),
    "system:node-proxier": ({}, None, [r([""], ["endpoints", "services"], ["list", "watch"]), r([""], ["nodes"], READ),
                                       _EVENTS, r(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"])]),
    "system:persistent-volume-provisioner": ({}, None, [
        r([""], ["persistentvolumes"], ["create", "delete", *READ]),
        r([""], ["persistentvolumeclaims"], ["get", "list", "update", "watch"]),
        r(["storage.k8s.io"], ["storageclasses"], READ), r([""], ["events"], ["watch"]), _EVENTS]),
    "system:volume-scheduler": ({}, None, [r([""], ["persistentvolumes"], [*READ, "patch", "update"]),
                                           r(["storage.k8s.io"], ["storageclasses"], READ),
                                           r([""], ["persistentvolumeclaims"], [*READ, "patch", "update"])]),
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": ({}, None, [
        r(["certificates.k8s.io"], ["certificatesigningrequests/nodeclient"], ["create"])]),
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": ({}, None, [
        r(["certificates.k8s.io"], ["certificatesigningrequests/selfnodeclient"], ["create"])]),
    "system:certificates.k8s.io:kube-apiserver-client-approver": ({}, None, [
        _approver("kubernetes.io/kube-apiserver-client")]),
    "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver": ({}, None, [
        _approver("kubernetes.io/kube-apiserver-client-kubelet")]),
    "system:certificates.k8s.io:kubelet-serving-approver": ({}, None, [_approver("kubernetes.io/kubelet-serving")]),
    "system:certificates.k8s.io:legacy-unknown-approver": ({}, None, [_approver("kubernetes.io/legacy-unknown")]),
}


def is_reserved(name: str) -> bool:
    """A ClusterRole name Kubernetes reserves (`system:`), whose rights the API server, not the stack, defines."""
    return name.startswith("system:")
