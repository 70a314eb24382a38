"""The Kubernetes rules' pieces against their upstream sources: Pod Security checks, namespace labels, the RBAC model
(built-in roles, aggregation, subjects), the escalating rights, and the rules on the test stacks."""

from __future__ import annotations

import json

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.namespaces import pod_security_labels
from infra.plan.policy_runner import run_pack
from policies.rules import k8s_security as k8s
from policies.rules.k8s_namespaces import label_problems
from policies.rules.k8s_pods import pod_specs
from policies.rules.k8s_pss import violations
from policies.rules.k8s_rbac_model import Rbac, allows, subject_of
from policies.rules.k8s_rbac_rights import rights_in
from tests.policy_helpers import check, check_stack, res
from tests.test_bypass_k8s import (
    DEPLOY,
    MPI,
    PEOPLE,
    RBAC,
    SA,
    cluster_role,
    crb,
    group,
    pod,
    rb,
    rule,
    sc,
    with_role,
    workload,
)


def controls(spec, level="baseline", meta=None):
    return sorted({v.split(":")[0] for v in violations(spec, level, meta)})


# k8s.io/pod-security-admission policy/check_<id>.go (kubernetes/kubernetes staging/src/k8s.io/pod-security-admission):
# each row is a field the check restricts, with a value it refuses, and the control our message names.
BASELINE = [
    ("check_hostNamespaces.go", pod(hostNetwork=True), "hostNamespaces"),
    ("check_privileged.go (init containers too)", pod(initContainers=[{"name": "i", "securityContext": {"privileged": True}}]),
     "privileged"),
    ("check_capabilities_baseline.go: NET_RAW is not in the default set", sc(capabilities={"add": ["NET_RAW"]}),
     "capabilities"),
    ("check_hostPathVolumes.go", pod(volumes=[{"name": "h", "hostPath": {"path": "/var/run"}}]), "hostPathVolumes"),
    ("check_hostPorts.go", pod(containers=[{"name": "c", "ports": [{"containerPort": 1, "hostPort": 8080}]}]), "hostPorts"),
    ("check_appArmorProfile.go: field", sc(appArmorProfile={"type": "Unconfined"}), "appArmor"),
    ("check_seLinuxOptions.go: user may not be set", sc(seLinuxOptions={"user": "system_u"}), "seLinux"),
    ("check_procMount_baseline.go", sc(procMount="Unmasked"), "procMount"),
    ("check_seccompProfile_baseline.go: container", sc(seccompProfile={"type": "Unconfined"}), "seccomp"),
    ("check_sysctls.go", pod(securityContext={"sysctls": [{"name": "kernel.sem", "value": "1"}]}), "sysctls"),
    ("check_windowsHostProcess.go: pod level", pod(securityContext={"windowsOptions": {"hostProcess": True}}),
     "windowsHostProcess"),
    ("check_hostProbesAndhostLifecycle.go (1.34)", pod(containers=[{"name": "c", "lifecycle": {"preStop": {
        "tcpSocket": {"host": "10.0.0.1", "port": 22}}}}]), "hostProbes"),
]


@pytest.mark.parametrize(("source", "spec", "control"), BASELINE, ids=[b[0] for b in BASELINE])
def test_baseline_refuses_what_the_admission_check_refuses(source, spec, control):
    assert controls(spec) == [control]
    assert violations(spec, "privileged") == []


def test_baseline_admits_the_allowed_values():
    # the allowed values each check lists: default capabilities, container_* SELinux types, RuntimeDefault/Localhost
    # profiles, runtime/default and localhost/* AppArmor annotations, hostPort 0, the safe sysctls, Default procMount
    spec = pod(securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
                                "seLinuxOptions": {"type": "container_init_t", "level": "s0:c1"},
                                "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]},
               containers=[{"name": "c", "ports": [{"containerPort": 80, "hostPort": 0}], "securityContext": {
                   "capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE", "SETPCAP"]}, "procMount": "Default",
                   "appArmorProfile": {"type": "RuntimeDefault"}, "seLinuxOptions": {"type": "container_kvm_t"}}}])
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "localhost/my-profile"}}
    assert violations(spec, "baseline", meta) == []
    assert controls(spec, meta={"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}}) \
        == ["appArmor"]


def test_proc_mount_is_relaxed_in_a_user_namespace_only():
    # check_procMount_baseline.go 1.35: allowed when the pod sets hostUsers: false, refused otherwise
    assert violations({**sc(procMount="Unmasked"), "hostUsers": False}, "baseline") == []
    assert controls({**sc(procMount="Unmasked"), "hostUsers": True}) == ["procMount"]


def test_restricted_adds_its_controls_and_admits_a_hardened_pod():
    hardened = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "volumes": [{"name": "v", "emptyDir": {}}],
                "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                                 "capabilities": {"drop": ["ALL"],
                                                                                  "add": ["NET_BIND_SERVICE"]}}}]}
    assert violations(hardened, "restricted") == []
    assert controls(pod(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]), "restricted") == [
        "allowPrivilegeEscalation", "capabilities", "runAsNonRoot", "seccomp", "volumeTypes"]
    with pytest.raises(ValueError, match="unknown Pod Security level 'strict'"):
        violations(hardened, "strict")


def test_pod_specs_are_found_in_every_kind_and_deep_in_custom_resources():
    dask = workload("kubernetes:kubernetes.dask.org/v1:DaskCluster", {"spec": {
        "scheduler": {"service": {"type": "ClusterIP"}, "spec": pod()}, "worker": {"spec": pod()}}})
    assert sorted(p for p, _, _ in pod_specs(dask.props)) == ["spec.scheduler.spec", "spec.worker.spec"]
    cron = workload("kubernetes:batch/v1:CronJob", {"spec": {"jobTemplate": {"spec": {"template": {
        "metadata": {"annotations": {"a": "b"}}, "spec": pod()}}}}})
    ((path, _, meta),) = pod_specs(cron.props)
    assert path == "spec.jobTemplate.spec.template.spec" and meta is not None and dict(meta) == {"annotations": {"a": "b"}}
    ephemeral_only = {"metadata": {"name": "p"}, "spec": {"ephemeralContainers": [{"name": "dbg"}]}}
    assert [p for p, _, _ in pod_specs(ephemeral_only)] == ["spec"]


def test_the_rule_reports_every_pod_spec_with_its_path_and_skips_allowed_namespaces():
    dask = {"metadata": {"name": "d", "namespace": "dask"}, "spec": {"scheduler": {"spec": sc(privileged=True)},
                                                                     "worker": {"spec": pod(hostPID=True)}}}
    msgs = check(k8s.PODS, "kubernetes:kubernetes.dask.org/v1:DaskCluster", dask, name="dc")
    assert msgs == [
        "kubernetes:kubernetes.dask.org/v1:DaskCluster 'dc' in namespace dask, pod spec spec.scheduler.spec: "
        "privileged: container 'app' (Pod Security Standards baseline)",
        "kubernetes:kubernetes.dask.org/v1:DaskCluster 'dc' in namespace dask, pod spec spec.worker.spec: "
        "hostNamespaces: hostPID (Pod Security Standards baseline)"]
    assert check(k8s.PODS, "kubernetes:kubernetes.dask.org/v1:DaskCluster", dask, config={"allowedNamespaces": ["dask"]}) == []
    # a Helm release's values are chart inputs, not pods of the plan
    helm = {"metadata": {"namespace": "x"}, "values": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}}
    assert check(k8s.PODS, "kubernetes:helm.sh/v3:Release", helm) == []


def test_restricted_namespaces_are_judged_at_restricted():
    d = {"metadata": {"name": "w", "namespace": "team-a"}, "spec": {"template": {"spec": pod()}}}
    assert check(k8s.PODS, DEPLOY, d) == []
    msgs = check(k8s.PODS, DEPLOY, d, config={"restrictedNamespaces": ["team-*"]})
    assert {m.split(": ")[1] for m in msgs} == {"allowPrivilegeEscalation", "runAsNonRoot", "seccomp", "capabilities"}
    assert all(m.endswith("(Pod Security Standards restricted)") for m in msgs)


def test_an_unknown_value_elsewhere_in_the_object_hides_no_violation():
    spec = {"containers": [{"name": "c", "image": UNKNOWN_STRING_VALUE, "securityContext": {"privileged": True}}],
            "serviceAccountName": UNKNOWN_STRING_VALUE}
    assert check(k8s.PODS, "kubernetes:core/v1:Pod", {"metadata": {"name": "p"}, "spec": spec}, name="p") == [
        "kubernetes:core/v1:Pod 'p' in namespace default, pod spec spec: privileged: container 'c' (Pod Security Standards "
        "baseline)"]


# -- namespaces
@pytest.mark.parametrize(("level", "warn", "ok"), [("restricted", None, True), ("baseline", "restricted", True),
                                                   ("privileged", None, False)])
def test_the_namespaces_component_labels_pass_unless_privileged(level, warn, ok):
    assert (label_problems(pod_security_labels(level, warn), patch=False) == []) is ok


def test_namespace_messages_say_what_the_admission_does():
    (msg,) = check(k8s.NAMESPACES, "kubernetes:core/v1:Namespace", {"metadata": {"name": "lab", "labels": {}}}, name="ns")
    assert msg == ("kubernetes:core/v1:Namespace 'ns' (namespace lab): sets no pod-security.kubernetes.io/enforce label, "
                   "so the cluster default applies: privileged")
    bad = {"metadata": {"name": "lab", "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                                  "pod-security.kubernetes.io/warn-version": "v1.x"}}}
    (msg,) = check(k8s.NAMESPACES, "kubernetes:core/v1:Namespace", bad)
    assert "warn-version='v1.x' is not 'latest' or 'v1.<minor>'; the API server refuses it" in msg
    assert check(k8s.NAMESPACES, "kubernetes:core/v1:Namespace",
                 {"metadata": {"name": "gpu-agents", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
                 config={"allowedNamespaces": ["gpu-agents"]}) == []


# -- the RBAC model
def test_builtin_roles_are_their_bootstrap_aggregation():
    # cluster-roles.yaml: edit = system:aggregate-to-edit + view (labelled aggregate-to-edit); admin adds roles and
    # rolebindings; view reads no Secrets
    rbac = Rbac([])
    edit, _ = rbac.rules_of("ClusterRole", "edit", "")
    view, _ = rbac.rules_of("ClusterRole", "view", "")
    admin, _ = rbac.rules_of("ClusterRole", "admin", "")
    assert any(allows(r, "create", "", "serviceaccounts/token") for r in edit)
    assert any(allows(r, "watch", "apps", "statefulsets") for r in edit)  # from view, through its label
    assert not any(allows(r, "get", "", "secrets") for r in view)
    assert any(allows(r, "create", "rbac.authorization.k8s.io", "rolebindings") for r in admin)
    assert not any(allows(r, "create", "rbac.authorization.k8s.io", "rolebindings") for r in edit)


def test_a_stack_role_labelled_for_edit_reaches_edit_and_admin_not_view():
    extra = cluster_role("jobs", [rule(["kubeflow.org"], ["mpijobs"], ["create"])],
                         {"rbac.authorization.k8s.io/aggregate-to-edit": "true"})
    rbac = Rbac([extra])
    for name, reached in (("edit", True), ("admin", True), ("view", False)):
        assert any(allows(r, "create", "kubeflow.org", "mpijobs") for r in rbac.rules_of("ClusterRole", name, "")[0]) is reached


def test_match_expressions_select_as_label_selectors_do():
    picked = cluster_role("picked", [rule([""], ["secrets"], ["get"])], {"tier": "gold"})
    agg = cluster_role("agg", [], selectors=[{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}])
    assert {d.name for d in Rbac([picked, agg]).rules_of("ClusterRole", "agg", "")[1]} == {"agg", "picked"}
    # DoesNotExist selects every other ClusterRole, cluster-admin among them
    agg_not = cluster_role("agg", [], selectors=[{"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}])
    used = {d.name for d in Rbac([picked, agg_not]).rules_of("ClusterRole", "agg", "")[1]}
    assert "picked" not in used and "cluster-admin" in used


def test_subjects_resolve_as_the_authorizer_matches_them():
    # rule.go appliesToUser: a ServiceAccount without namespace is the RoleBinding's namespace's
    assert subject_of({"kind": "ServiceAccount", "name": "bot"}, "ci").service_account() == ("ci", "bot")
    assert subject_of({"kind": "User", "name": "system:serviceaccount:ci:bot"}, "").service_account() == ("ci", "bot")
    assert subject_of({"kind": "Group", "name": "system:serviceaccounts:ci"}, "").covers_service_accounts()
    assert not subject_of({"kind": "User", "name": "system:serviceaccount"}, "").covers_service_accounts()
    assert not subject_of({"kind": "Group", "name": "scientists"}, "").covers_service_accounts()


def test_rights_follow_rbac_matching():
    # rbac/v1 helpers.go ResourceMatches: `*/exec` matches pods/exec, `pods/*` matches nothing
    assert [r.what for r in rights_in([rule([""], ["*/exec"], ["create"])])] == ["exec or attach into pods"]
    assert rights_in([rule([""], ["pods/*"], ["create"])]) == []
    # resourceNames do not narrow a bind (naming cluster-admin is the danger), nor requests that carry the object's
    # name: the named Secret, a token for the named service account, exec into the named pod, a patch of the named
    # Deployment; a create carries no name, so a named create never matches
    # (kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources)
    named = {"resourceNames": ["x"]}
    assert [r.what for r in rights_in([rule([""], ["secrets"], ["get"], **named)])] == ["read Secrets"]
    assert [r.what for r in rights_in([rule([""], ["serviceaccounts/token"], ["create"], **named)])] == [
        "create service account tokens"]
    assert [r.what for r in rights_in([rule([""], ["pods/exec"], ["create"], **named)])] == ["exec or attach into pods"]
    assert [r.what for r in rights_in([rule(["apps"], ["deployments"], ["patch"], **named)])] == ["change pod templates"]
    assert rights_in([rule(["apps"], ["deployments"], ["create"], **named)]) == []
    assert [r.what for r in rights_in([rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind"],
                                            resourceNames=["cluster-admin"])])] == ["bind roles"]
    # approving a CSR needs update on approval and approve on a signer (rbac-good-practices: CSRs)
    assert rights_in([rule(["certificates.k8s.io"], ["certificatesigningrequests/approval"], ["update"])]) == []


def test_the_escalation_message_names_binding_role_subject_right_and_source():
    (msg,) = check_stack(k8s.ESCALATION, [crb("edit", group("scientists"))])
    assert msg.startswith("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding 'crb-edit' grants built-in "
                          "ClusterRole 'edit' to Group scientists: read Secrets in every namespace (Listing secrets); ")
    assert "kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks" in msg


def test_a_namespace_editor_inherits_its_service_accounts_rights():
    (msg,) = check_stack(k8s.ESCALATION, [*MPI, rb("edit", "mpi-operator", PEOPLE)])
    assert ("in namespace mpi-operator, whose service accounts it can act as: mpi-operator/mpi-operator can read "
            "Secrets in every namespace") in msg
    assert check_stack(k8s.ESCALATION, [*MPI, rb("edit", "astro", PEOPLE)]) == []


def test_trusted_service_accounts_and_allowed_aggregations_are_settings():
    assert check_stack(k8s.ESCALATION, MPI) == []
    (msg,) = check_stack(k8s.ESCALATION, MPI, config={"trustedServiceAccounts": []})
    assert "to ServiceAccount mpi-operator/mpi-operator: read Secrets in every namespace" in msg
    peek = [cluster_role("peek", [rule([""], ["secrets"], ["get"])], {"rbac.authorization.k8s.io/aggregate-to-view": "true"})]
    (msg,) = check_stack(k8s.ESCALATION, peek)
    assert "ClusterRole 'cr-peek' adds read Secrets to the built-in ClusterRole 'view'" in msg
    assert check_stack(k8s.ESCALATION, peek, config={"allowedAggregations": ["peek"]}) == []


def test_a_binding_with_unknown_values_is_left_for_pulumi_up_and_others_are_still_judged():
    unknown = res(RBAC + "ClusterRoleBinding", "later", {"metadata": {"name": "later"}, "subjects": [SA],
                                                         "roleRef": {"kind": "ClusterRole", "name": UNKNOWN_STRING_VALUE}})
    msgs = check_stack(k8s.CLUSTER_ADMIN, [unknown, crb("cluster-admin", group("system:serviceaccounts"))])
    assert msgs == ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding 'crb-cluster-admin' binds cluster-admin "
                    "to Group system:serviceaccounts"]
    assert check_stack(k8s.WILDCARDS, with_role([rule(["*"], ["pods"], ["get"])], SA)) != []


def test_the_gpu_test_stack_needs_its_operator_trusted(stack_capture, tmp_path):
    capture = stack_capture("gpu")
    (tmp_path / "gpu.json").write_text("{}")
    report = run_pack(capture, "gpu", tmp_path)
    assert [v.message for v in report.mandatory if v.policy.startswith("k8s-")] == []
    (tmp_path / "gpu.json").write_text(json.dumps({"k8s-no-rbac-escalation": {"trustedServiceAccounts": []}}))
    (v,) = [v for v in run_pack(capture, "gpu", tmp_path).mandatory if v.policy == "k8s-no-rbac-escalation"]
    assert "ServiceAccount mpi-operator/mpi-operator: read Secrets in every namespace" in v.message


def test_restricted_admits_image_volumes():
    # kubernetes/kubernetes PR #130394 (v1.33), check_restrictedVolumes.go: `volume.Image != nil` is allowed
    spec = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "model", "image": {"reference": "registry/model:1"}}],
            "containers": [{"name": "app", "image": "x", "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}
    assert violations(spec, "restricted") == []
    assert controls({**spec, "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}, "restricted") == [
        "volumeTypes"]


def test_pod_specs_of_patches_are_found_at_their_known_path():
    # a patch may carry only pod-level fields or the template's annotations
    annotations = {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
    patch = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
    ((path, spec, meta),) = pod_specs(patch, "kubernetes:apps/v1:DeploymentPatch")
    assert (path, dict(spec), dict(meta or {})) == ("spec.template.spec", {}, {"annotations": annotations})
    assert list(pod_specs({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}},
                          "kubernetes:apps/v1:DeploymentPatch")) == []
    assert [p for p, _, _ in pod_specs({"template": {"spec": {"hostPID": True}}},
                                       "kubernetes:core/v1:PodTemplatePatch")] == ["template.spec"]
    # elsewhere, a `template`'s spec with pod-level fields is a pod spec; other `spec`s are not
    assert [p for p, _, _ in pod_specs({"spec": {"template": {"spec": {"volumes": []}}}})] == ["spec.template.spec"]
    assert list(pod_specs({"spec": {"securityContext": {}}}, "kubernetes:example.org/v1:Thing")) == []


def test_helm_and_crd_types_are_skipped_by_exact_type():
    values = {"metadata": {"name": "r", "namespace": "science"}, "values": {"spec": {"template": {"spec": pod(
        hostNetwork=True)}}}}
    for skipped in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"):
        assert check(k8s.PODS, skipped, values) == []
    assert check(k8s.PODS, "kubernetes:helm.sh/v1:Runner", values) != []
