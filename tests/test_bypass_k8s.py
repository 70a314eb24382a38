"""Kubernetes objects that once got past the pack, as a table: the whole pack must now refuse each one by the named
rule, naming the culprit; and their good twins, which it must let through.

Sources (also in the rules' modules): Kubernetes RBAC good practices, "privilege escalation risks"
(kubernetes.io/docs/concepts/security/rbac-good-practices/); the bootstrap ClusterRoles (kubernetes/kubernetes
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/cluster-roles.yaml); subject matching (pkg/registry/rbac/
validation/rule.go appliesToUser); Pod Security checks (staging/src/k8s.io/pod-security-admission/policy/check_*.go);
namespace labels (pod-security-admission api/helpers.go, admission/api/v1/defaults.go).
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.policy_helpers import assert_refused, refusals, res

RBAC = "kubernetes:rbac.authorization.k8s.io/v1:"
POD, DEPLOY = "kubernetes:core/v1:Pod", "kubernetes:apps/v1:Deployment"
NS = "kubernetes:core/v1:Namespace"
PODS, NAMESPACES = "k8s-no-host-access", "k8s-namespace-pod-security"
ADMIN, WILD, ESC = "k8s-no-cluster-admin-service-accounts", "k8s-no-wildcard-rbac", "k8s-no-rbac-escalation"
SA = {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}
PEOPLE = {"kind": "Group", "name": "scientists"}


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def cluster_role(name: str, rules: list[dict[str, Any]], labels: Optional[dict[str, str]] = None,
                 selectors: Optional[list[dict[str, Any]]] = None, kind: str = "ClusterRole") -> PolicyResource:
    props: dict[str, Any] = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if selectors is not None:
        props["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return res(RBAC + kind, f"cr-{name}", props)


def ns_role(name: str, ns: str, rules: list[dict[str, Any]], kind: str = "Role") -> PolicyResource:
    return res(RBAC + kind, f"{kind.lower()}-{name}", {"metadata": {"name": name, "namespace": ns}, "rules": rules})


def crb(role: str, *subjects: dict[str, Any], kind: str = "ClusterRoleBinding") -> PolicyResource:
    return res(RBAC + kind, f"crb-{role}", {"metadata": {"name": role}, "subjects": list(subjects),
                                            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                        "name": role}})


def rb(role: str, ns: str, *subjects: dict[str, Any], ref_kind: str = "ClusterRole") -> PolicyResource:
    return res(RBAC + "RoleBinding", f"rb-{ns}-{role}", {
        "metadata": {"name": role, "namespace": ns}, "subjects": list(subjects),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": role}})


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def with_role(rules: list[dict[str, Any]], *subjects: dict[str, Any]) -> list[PolicyResource]:
    """A ClusterRole with `rules` bound cluster-wide to `subjects`; the binding is last (the culprit)."""
    return [cluster_role("custom", rules), crb("custom", *subjects)]


def pod(**spec: Any) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "x:1"}], **spec}


def sc(**context: Any) -> dict[str, Any]:
    return pod(containers=[{"name": "app", "image": "x:1", "securityContext": context}])


def workload(type_token: str, body: dict[str, Any], ns: Optional[str] = "science", name: str = "w") -> PolicyResource:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return res(type_token, name, {"metadata": meta, **body})


def deployment(spec: dict[str, Any], ns: str = "science", meta: Optional[dict[str, Any]] = None) -> PolicyResource:
    return workload(DEPLOY, {"spec": {"template": {"metadata": meta or {}, "spec": spec}}}, ns)


def namespace(labels: dict[str, str], name: str = "team", kind: str = "Namespace") -> PolicyResource:
    return res(f"kubernetes:core/v1:{kind}", f"ns-{name}", {"metadata": {"name": name, "labels": labels}})


ENFORCE = "pod-security.kubernetes.io/enforce"
APPARMOR = "container.apparmor.security.beta.kubernetes.io/"
MPI = [cluster_role("mpi-operator", [rule([""], ["secrets"], ["list", "watch"]), rule([""], ["pods"], ["create"])]),
       crb("mpi-operator", {"kind": "ServiceAccount", "name": "mpi-operator", "namespace": "mpi-operator"})]

# (id, resources (the culprit last), rule, config)
BYPASSES: list[tuple[str, list[PolicyResource], str, Optional[dict[str, Any]]]] = [
    # cluster-admin to robots, however they are named (rule.go appliesToUser; serviceaccount MakeUsername)
    ("ca-all-service-accounts", [crb("cluster-admin", group("system:serviceaccounts"))], ADMIN, None),
    ("ca-namespace-service-accounts", [crb("cluster-admin", group("system:serviceaccounts:ci"))], ADMIN, None),
    ("ca-authenticated", [crb("cluster-admin", group("system:authenticated"))], ADMIN, None),
    ("ca-unauthenticated", [crb("cluster-admin", group("system:unauthenticated"))], ADMIN, None),
    ("ca-sa-written-as-user", [crb("cluster-admin", user("system:serviceaccount:ci:bot"))], ADMIN, None),
    ("ca-anonymous-user", [crb("cluster-admin", user("system:anonymous"))], ADMIN, None),
    # a subject without apiGroup is defaulted, not ignored (pkg/apis/rbac/v1/defaults.go SetDefaults_Subject)
    ("ca-group-without-api-group", [crb("cluster-admin", {"kind": "Group", "name": "system:serviceaccounts"})],
     ADMIN, None),
    # group names match exactly: System:Masters is not system:masters
    ("ca-admin-group-in-capitals", [crb("cluster-admin", group("System:Masters"))], WILD, None),
    ("ca-rolebinding-sa-without-namespace", [rb("cluster-admin", "ci", {"kind": "ServiceAccount", "name": "bot"})],
     ADMIN, None),
    ("ca-custom-full-role", with_role([rule(["*"], ["*"], ["*"])], SA), ADMIN, None),
    ("ca-aggregating-builtins", [cluster_role("agg", [], selectors=[{"matchLabels": {
        "kubernetes.io/bootstrapping": "rbac-defaults"}}]), crb("agg", SA)], ADMIN, None),
    ("ca-aggregating-everything", [cluster_role("agg", [], selectors=[{}]), crb("agg", SA)], ADMIN, None),
    ("ca-binding-patch", [crb("cluster-admin", SA, kind="ClusterRoleBindingPatch")], ADMIN, None),
    # built-in roles the stack does not define are known
    ("ca-to-people", [crb("cluster-admin", PEOPLE)], WILD, None),
    ("admin-everywhere", [crb("admin", PEOPLE)], ESC, None),
    ("edit-everywhere", [crb("edit", user("alice"))], ESC, None),
    ("edit-in-kube-system", [rb("edit", "kube-system", PEOPLE)], ESC, None),
    ("edit-where-a-powerful-sa-lives", [*MPI, rb("edit", "mpi-operator", PEOPLE)], ESC, None),
    ("pods-where-a-trusted-sa-lives", [*with_role([rule([""], ["secrets"], ["get", "list"])],
                                                  {"kind": "ServiceAccount", "name": "deployer", "namespace": "ops"}),
                                       ns_role("runner", "ops", [rule([""], ["pods"], ["create"])]),
                                       rb("runner", "ops", PEOPLE, ref_kind="Role")],
     ESC, {ESC: {"trustedServiceAccounts": ["ops/deployer"]}}),
    ("kubelet-api-admin", [crb("system:kubelet-api-admin", PEOPLE)], ESC, None),
    ("system-node-role", [crb("system:node", user("alice"))], ESC, None),
    ("unknown-controller-role", [crb("system:controller:clusterrole-aggregation-controller", PEOPLE)], ESC, None),
    # dangerous rights (rbac-good-practices sections)
    ("escalate-in-namespace", [ns_role("r", "ci", [rule(["rbac.authorization.k8s.io"], ["roles"], ["escalate"])]),
                               rb("r", "ci", SA, ref_kind="Role")], ESC, None),
    ("bind-cluster-admin-by-name", with_role([rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind"],
                                                   resourceNames=["cluster-admin"])], SA), ESC, None),
    ("impersonate-users", with_role([rule([""], ["users", "groups"], ["impersonate"])], SA), ESC, None),
    ("secrets-everywhere", with_role([rule([""], ["secrets"], ["list"])], SA), ESC, None),
    ("exec-everywhere", with_role([rule([""], ["pods/exec"], ["create"])], PEOPLE), ESC, None),
    ("nodes-proxy-get", with_role([rule([""], ["nodes/proxy"], ["get"])], SA), ESC, None),
    ("token-request-everywhere", with_role([rule([""], ["serviceaccounts/token"], ["create"])], SA), ESC, None),
    ("csr-approval", with_role([rule(["certificates.k8s.io"], ["certificatesigningrequests/approval"], ["update"]),
                                rule(["certificates.k8s.io"], ["signers"], ["approve"],
                                     resourceNames=["kubernetes.io/kube-apiserver-client"])], SA), ESC, None),
    ("webhook-writes", with_role([rule(["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"],
                                       ["create", "patch"])], SA), ESC, None),
    ("pv-create", with_role([rule([""], ["persistentvolumes"], ["create"])], SA), ESC, None),
    ("namespace-patch-via-rolebinding", [ns_role("relabel", "ci", [rule([""], ["namespaces"], ["patch"])]),
                                         rb("relabel", "ci", SA, ref_kind="Role")], ESC, None),
    ("secrets-to-namespace-sa-group", with_role([rule([""], ["secrets"], ["get"])],
                                                group("system:serviceaccounts:mpi-operator")), ESC, None),
    ("role-patch-adds-escalate", [ns_role("r", "ci", [rule([""], ["configmaps"], ["get"])]),
                                  ns_role("r", "ci", [rule(["rbac.authorization.k8s.io"], ["roles"], ["escalate"])],
                                          kind="RolePatch"),
                                  rb("r", "ci", SA, ref_kind="Role")], ESC, None),
    ("subresource-wildcard", with_role([rule([""], ["*/exec"], ["create"])], SA), WILD, None),
    # resourceNames do not defuse rights whose requests carry the object's name (rbac-good-practices: Token request,
    # Workload creation; kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources)
    ("named-token-for-a-kube-system-sa", [ns_role("tok", "kube-system", [rule([""], ["serviceaccounts/token"], [
        "create"], resourceNames=["clusterrole-aggregation-controller"])]), rb("tok", "kube-system", PEOPLE,
                                                                               ref_kind="Role")], ESC, None),
    ("named-patch-of-coredns", [ns_role("p", "kube-system", [rule(["apps"], ["deployments"], ["patch"],
                                                                  resourceNames=["coredns"])]),
                                rb("p", "kube-system", PEOPLE, ref_kind="Role")], ESC, None),
    ("named-exec-in-kube-system", [ns_role("e", "kube-system", [rule([""], ["pods/exec"], ["create"],
                                                                     resourceNames=["aws-node-abcde"])]),
                                   rb("e", "kube-system", PEOPLE, ref_kind="Role")], ESC, None),
    ("named-secret-in-kube-system", [ns_role("s", "kube-system", [rule([""], ["secrets"], ["get"],
                                                                       resourceNames=["aws-auth-token"])]),
                                     rb("s", "kube-system", PEOPLE, ref_kind="Role")], ESC, None),
    ("named-secret-where-a-powerful-sa-lives", [*MPI, ns_role("s", "mpi-operator", [rule([""], ["secrets"], ["get"],
                                                                                         resourceNames=["t"])]),
                                                rb("s", "mpi-operator", PEOPLE, ref_kind="Role")], ESC, None),
    ("named-token-everywhere", with_role([rule([""], ["serviceaccounts/token"], ["create"], resourceNames=["default"])],
                                         SA), ESC, None),
    # aggregation onto built-in roles, and changes to them
    ("aggregate-secrets-into-view", [cluster_role("peek", [rule([""], ["secrets"], ["get"])],
                                                  {"rbac.authorization.k8s.io/aggregate-to-view": "true"})], ESC, None),
    ("aggregate-escalate-into-edit", [cluster_role("esc", [rule(["rbac.authorization.k8s.io"], ["clusterroles"],
                                                                ["escalate"])],
                                                   {"rbac.authorization.k8s.io/aggregate-to-edit": "true"})], ESC, None),
    ("aggregate-wildcard-into-admin", [cluster_role("wide", [rule([""], ["configmaps"], ["*"])],
                                                    {"rbac.authorization.k8s.io/aggregate-to-admin": "true"})], ESC, None),
    ("relabel-edit-into-view", [cluster_role("edit", [], {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
                                             kind="ClusterRolePatch")], ESC, None),
    ("patch-builtin-view", [cluster_role("view", [rule([""], ["secrets"], ["list"])], kind="ClusterRolePatch")],
     ESC, None),
    # pod specs in every kind (check_privileged.go, check_hostNamespaces.go, check_hostPathVolumes.go, ...)
    ("rc-privileged", [workload("kubernetes:core/v1:ReplicationController",
                                {"spec": {"template": {"spec": sc(privileged=True)}}})], PODS, None),
    ("podtemplate-hostpath", [workload("kubernetes:core/v1:PodTemplate", {"template": {"spec": pod(
        volumes=[{"name": "root", "hostPath": {"path": "/"}}])}})], PODS, None),
    ("daskcluster-worker-privileged", [workload("kubernetes:kubernetes.dask.org/v1:DaskCluster", {"spec": {
        "scheduler": {"spec": pod()}, "worker": {"replicas": 2, "spec": sc(privileged=True)}}})], PODS, None),
    ("daskworkergroup-host-network", [workload("kubernetes:kubernetes.dask.org/v1:DaskWorkerGroup", {"spec": {
        "cluster": "c", "worker": {"spec": pod(hostNetwork=True)}}})], PODS, None),
    ("mpijob-launcher-sys-admin", [workload("kubernetes:kubeflow.org/v2beta1:MPIJob", {"spec": {"mpiReplicaSpecs": {
        "Launcher": {"template": {"spec": sc(capabilities={"add": ["SYS_ADMIN"]})}}}}})], PODS, None),
    ("job-host-pid", [workload("kubernetes:batch/v1:Job", {"spec": {"template": {"spec": pod(hostPID=True)}}})],
     PODS, None),
    ("cronjob-unsafe-sysctl", [workload("kubernetes:batch/v1:CronJob", {"spec": {"jobTemplate": {"spec": {"template": {
        "spec": pod(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]})}}}}})], PODS, None),
    ("ephemeral-container-privileged", [workload(POD, {"spec": pod(ephemeralContainers=[
        {"name": "debug", "image": "busybox", "securityContext": {"privileged": True}}])})], PODS, None),
    ("init-container-host-port", [workload(POD, {"spec": pod(initContainers=[
        {"name": "init", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}])})], PODS, None),
    ("proc-mount-unmasked", [deployment(sc(procMount="Unmasked"))], PODS, None),
    ("selinux-spc-t", [deployment(sc(seLinuxOptions={"type": "spc_t"}))], PODS, None),
    ("seccomp-unconfined-pod", [deployment(pod(securityContext={"seccompProfile": {"type": "Unconfined"}}))], PODS, None),
    ("apparmor-unconfined-field", [deployment(sc(appArmorProfile={"type": "Unconfined"}))], PODS, None),
    ("apparmor-unconfined-annotation", [deployment(pod(), meta={"annotations": {
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined"}})], PODS, None),
    ("windows-host-process", [deployment(sc(windowsOptions={"hostProcess": True}))], PODS, None),
    ("probe-host", [deployment(pod(containers=[{"name": "app", "image": "x", "livenessProbe": {
        "httpGet": {"host": "169.254.169.254", "path": "/", "port": 80}}}]))], PODS, None),
    ("capability-with-cap-prefix", [deployment(sc(capabilities={"add": ["CAP_SYS_ADMIN"]}))], PODS, None),
    ("statefulset-host-ipc", [workload("kubernetes:apps/v1:StatefulSet", {"spec": {"template": {"spec": pod(
        hostIPC=True)}}})], PODS, None),
    ("deployment-patch-privileged", [workload("kubernetes:apps/v1:DeploymentPatch", {"spec": {"template": {
        "spec": sc(privileged=True)}}})], PODS, None),
    ("unknown-image-hides-nothing", [deployment({"containers": [{"name": "app", "image": UNKNOWN_STRING_VALUE,
                                                                 "securityContext": {"privileged": True}}]})], PODS, None),
    ("no-namespace-is-default", [workload(POD, {"spec": sc(privileged=True)}, ns=None)], PODS, None),
    ("pod-spec-deep-in-a-custom-resource", [workload("kubernetes:example.org/v1:Runner", {"spec": {"runners": [
        {"podSpec": pod(hostNetwork=True)}]}})], PODS, None),
    # patches and templates setting only pod-level fields or annotations (check_hostNamespaces.go,
    # check_hostPathVolumes.go, check_seccompProfile_baseline.go, check_appArmorProfile.go reads annotations)
    ("deployment-patch-host-network-only", [workload("kubernetes:apps/v1:DeploymentPatch", {"spec": {"template": {
        "spec": {"hostNetwork": True}}}})], PODS, None),
    ("daemonset-patch-hostpath-only", [workload("kubernetes:apps/v1:DaemonSetPatch", {"spec": {"template": {"spec": {
        "volumes": [{"name": "r", "hostPath": {"path": "/"}}]}}}})], PODS, None),
    ("deployment-patch-seccomp-unconfined-only", [workload("kubernetes:apps/v1:DeploymentPatch", {"spec": {
        "template": {"spec": {"securityContext": {"seccompProfile": {"type": "Unconfined"}}}}}})], PODS, None),
    ("deployment-patch-apparmor-annotation-only", [workload("kubernetes:apps/v1:DeploymentPatch", {"spec": {
        "template": {"metadata": {"annotations": {APPARMOR + "app": "unconfined"}}}}})], PODS, None),
    ("pod-patch-apparmor-annotation-only", [res("kubernetes:core/v1:PodPatch", "p", {"metadata": {
        "name": "p", "namespace": "science", "annotations": {APPARMOR + "app": "unconfined"}}})], PODS, None),
    ("rc-patch-host-pid-only", [workload("kubernetes:core/v1:ReplicationControllerPatch", {"spec": {"template": {
        "spec": {"hostPID": True}}}})], PODS, None),
    ("podtemplate-patch-hostpath-only", [workload("kubernetes:core/v1:PodTemplatePatch", {"template": {"spec": {
        "volumes": [{"name": "r", "hostPath": {"path": "/"}}]}}})], PODS, None),
    ("custom-resource-template-host-ipc-only", [workload("kubernetes:example.org/v1:Runner", {"spec": {"template": {
        "spec": {"hostIPC": True}}}})], PODS, None),
    ("custom-resource-in-a-helm-sh-group", [workload("kubernetes:helm.sh/v1:Runner", {"spec": {"template": {
        "spec": pod(hostNetwork=True)}}})], PODS, None),
    # namespaces' Pod Security labels (api/helpers.go, admission/api/v1/defaults.go)
    ("ns-privileged", [namespace({ENFORCE: "privileged"})], NAMESPACES, None),
    ("ns-no-enforce-label", [namespace({"pod-security.kubernetes.io/warn": "restricted"})], NAMESPACES, None),
    ("ns-label-key-in-capitals", [namespace({"Pod-Security.kubernetes.io/enforce": "restricted"})], NAMESPACES, None),
    ("ns-unknown-level", [namespace({ENFORCE: "Restricted"})], NAMESPACES, None),
    ("ns-version-pinned-old", [namespace({ENFORCE: "restricted", ENFORCE + "-version": "v1.0"})], NAMESPACES, None),
    ("ns-version-not-a-version", [namespace({ENFORCE: "baseline", ENFORCE + "-version": "1.30"})], NAMESPACES, None),
    ("ns-patch-privileged", [namespace({ENFORCE: "privileged"}, name="default", kind="NamespacePatch")], NAMESPACES, None),
]

GOOD_TWINS: list[tuple[str, list[PolicyResource]]] = [
    ("edit-in-a-team-namespace", [rb("edit", "astro", PEOPLE), rb("view", "dask", PEOPLE)]),
    ("cluster-admin-to-admin-group", [crb("cluster-admin", group("cloudviper:cluster-admins"))]),
    ("aggregate-what-edit-has", [cluster_role("jobs-edit", [rule(["kubeflow.org"], ["mpijobs"], ["create", "delete"]),
                                                           rule([""], ["pods/exec"], ["create"])],
                                              {"rbac.authorization.k8s.io/aggregate-to-edit": "true"})]),
    ("aggregate-metrics-into-view", [cluster_role("metrics", [rule(["metrics.k8s.io"], ["pods", "nodes"], ["get"])],
                                                  {"rbac.authorization.k8s.io/aggregate-to-view": "true"})]),
    ("mpi-operator-is-trusted", MPI),
    ("secret-read-by-name-in-own-namespace", [ns_role("peek", "ci", [rule([""], ["secrets"], ["get"],
                                                                          resourceNames=["proxy-secret"])]),
                                              rb("peek", "ci", SA, ref_kind="Role")]),
    ("impersonate-users-in-a-rolebinding-grants-nothing", [
        ns_role("imp", "ci", [rule([""], ["users"], ["impersonate"])]), rb("imp", "ci", SA, ref_kind="Role")]),
    ("role-name-with-a-space-binds-nothing", [crb("cluster-admin ", SA)]),
    ("namespace-less-sa-with-view", [rb("view", "ci", {"kind": "ServiceAccount", "name": "bot"})]),
    ("restricted-deployment", [deployment({"securityContext": {"runAsNonRoot": True, "seccompProfile": {
        "type": "RuntimeDefault"}}, "containers": [{"name": "app", "image": "x", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]})]),
    ("node-agent-in-kube-system", [deployment(pod(hostNetwork=True, containers=[
        {"name": "agent", "image": "x", "securityContext": {"privileged": True}}]), ns="kube-system")]),
    ("unmasked-proc-in-a-user-namespace", [deployment(sc(procMount="Unmasked") | {"hostUsers": False})]),
    ("baseline-capabilities-and-safe-sysctl", [deployment(pod(
        securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
        containers=[{"name": "sshd", "image": "x", "securityContext": {"capabilities": {"add": ["SYS_CHROOT",
                                                                                                  "AUDIT_WRITE"]}}}]))]),
    ("namespaces-with-levels", [namespace({ENFORCE: "restricted", ENFORCE + "-version": "latest"}, "a"),
                                namespace({ENFORCE: "baseline", ENFORCE + "-version": "v1.35"}, "b"),
                                namespace({ENFORCE: "privileged"}, "kube-system")]),
    ("namespace-patch-of-warn-only", [namespace({"pod-security.kubernetes.io/warn": "restricted"}, "default",
                                                kind="NamespacePatch")]),
    ("crd-schema-names-containers", [res("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "crd", {
        "metadata": {"name": "things.example.org"}, "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
            "properties": {"containers": {"type": "array", "items": {"type": "object"}}}}}}]}})]),
]


@pytest.mark.parametrize(("resources", "rule_name", "config"), [b[1:] for b in BYPASSES], ids=[b[0] for b in BYPASSES])
def test_the_pack_refuses_the_bypass(resources, rule_name, config):
    assert_refused(resources, rule_name, resources[-1], config)


@pytest.mark.parametrize("resources", [g[1] for g in GOOD_TWINS], ids=[g[0] for g in GOOD_TWINS])
def test_the_pack_admits_the_good_twin(resources):
    assert refusals(resources) == {}


def test_every_bypass_is_refused_and_counted():
    refused = [b[0] for b in BYPASSES if b[1][-1].name in str(refusals(b[1], b[3]).get(b[2], []))]
    assert len(BYPASSES) >= 60 and refused == [b[0] for b in BYPASSES]
