"""metrics-server: upstream's objects at the release pinned per Kubernetes minor, on our system pool, highly available.

Upstream, quoted here as literals because CI has no copy: kubernetes-sigs/metrics-server at tag v0.9.0 (commit
2a7c4b2c7d46552ff47f4aeaa3a735c582587ecd) and v0.8.1 (commit 9ce65a47f9262e19e482c259ace815f01135a898), whose
manifests/ differ only in the image tag (components/release/kustomization.yaml newTag), so every literal from
manifests/base/ holds for both: manifests/base/deployment.yaml (args, port, probes, requests, securityContext,
volumes, priorityClassName, nodeSelector, strategy), manifests/base/rbac.yaml (ServiceAccount, two ClusterRoles, a
RoleBinding, two ClusterRoleBindings), manifests/base/service.yaml, manifests/base/apiservice.yaml,
manifests/base/kustomization.yaml (commonLabels k8s-app), manifests/components/high-availability/{patch,pdb}.yaml
and high-availability-1.21+/patch-pdb-version.yaml, README.md "Compatibility Matrix" and "Scaling", Dockerfile.
"""

from __future__ import annotations

import os
from typing import Any

import kubernetes_validate
import pulumi_kubernetes as k8s
import pytest

from components.metrics_server import SELECTOR, MetricsServer, documents
from infra.config.cluster import K8S_VERSIONS
from infra.config.pools import LABEL_VALUE_RE
from infra.documents import metrics_server as ms
from infra.documents.rbac import Rbac, Subject
from infra.plan.harness import Capture, evaluate
from infra.plan.manifests import manifests, write_manifests
from infra.pricing.day_one_pods import selects
from tests.pod_security import violations
from tests.test_manifests import checkov_failures, unreviewed

# README.md at v0.9.0, "Compatibility Matrix": Metrics Server line -> oldest supported Kubernetes minor.
UPSTREAM_MINIMUM = {"0.9": "1.34", "0.8": "1.31", "0.7": "1.27", "0.6": "1.25"}
# components/release/kustomization.yaml at v0.9.0 (newName) and at each tag (newTag).
UPSTREAM_IMAGE = "registry.k8s.io/metrics-server/metrics-server"
# manifests/base/deployment.yaml at v0.9.0 and v0.8.1, container metrics-server.
UPSTREAM_ARGS = ["--cert-dir=/tmp", "--secure-port=10250", "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
                 "--kubelet-use-node-status-port", "--metric-resolution=15s"]
UPSTREAM_PORTS = [{"name": "https", "containerPort": 10250, "protocol": "TCP"}]
UPSTREAM_READINESS = {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10,
                      "failureThreshold": 3, "initialDelaySeconds": 20}
UPSTREAM_LIVENESS = {"httpGet": {"path": "/livez", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10,
                     "failureThreshold": 3}
UPSTREAM_REQUESTS = {"cpu": "100m", "memory": "200Mi"}
UPSTREAM_SECURITY = {"readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 1000,
                     "allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"},
                     "capabilities": {"drop": ["ALL"]}}
UPSTREAM_MOUNTS = [{"name": "tmp-dir", "mountPath": "/tmp"}]
UPSTREAM_POD: dict[str, Any] = {"serviceAccountName": "metrics-server", "priorityClassName": "system-cluster-critical",
                "nodeSelector": {"kubernetes.io/os": "linux"}}
UPSTREAM_STRATEGY = {"rollingUpdate": {"maxUnavailable": 0}}
# Dockerfile at v0.9.0 and v0.8.1: FROM gcr.io/distroless/static, USER 65534.
IMAGE_USER = 65534
# manifests/base/rbac.yaml at v0.9.0 and v0.8.1 (kind, name, namespace) -> the object's rules or roleRef and subjects.
SA = [{"kind": "ServiceAccount", "name": "metrics-server", "namespace": "kube-system"}]
UPSTREAM_RBAC: dict[tuple[str, str, str], dict[str, Any]] = {
    ("ServiceAccount", "metrics-server", "kube-system"): {},
    ("ClusterRole", "system:aggregated-metrics-reader", ""): {
        "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true",
                   "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                   "rbac.authorization.k8s.io/aggregate-to-admin": "true"},
        "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]},
    ("RoleBinding", "metrics-server-auth-reader", "kube-system"): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "extension-apiserver-authentication-reader"}, "subjects": SA},
    ("ClusterRoleBinding", "metrics-server:system:auth-delegator", ""): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": SA},
    ("ClusterRole", "system:metrics-server", ""): {"rules": [
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]},
    ("ClusterRoleBinding", "system:metrics-server", ""): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:metrics-server"},
        "subjects": SA},
}
# manifests/base/service.yaml at v0.9.0 and v0.8.1 (the selector is commonLabels k8s-app).
UPSTREAM_SERVICE_PORTS = [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https", "appProtocol": "https"}]
# manifests/base/apiservice.yaml at v0.9.0 and v0.8.1.
UPSTREAM_APISERVICE = {"name": "v1beta1.metrics.k8s.io", "spec": {
    "service": {"name": "metrics-server", "namespace": "kube-system"}, "group": "metrics.k8s.io", "version": "v1beta1",
    "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100, "versionPriority": 100}}
# manifests/components/high-availability/patch.yaml and pdb.yaml at v0.9.0 (apiVersion policy/v1 from
# high-availability-1.21+/patch-pdb-version.yaml): replicas 2, maxUnavailable 1, required anti-affinity term below.
UPSTREAM_HA_REPLICAS, UPSTREAM_HA_MIN_AVAILABLE = 2, 1
UPSTREAM_HA_TERM: dict[str, Any] = {"labelSelector": {"matchLabels": {"k8s-app": "metrics-server"}}, "namespaces": ["kube-system"],
                    "topologyKey": "kubernetes.io/hostname"}

TAINT = {"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}


def by_kind(docs: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs.values() if d["kind"] == kind]
    return doc


def pod_of(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return by_kind(docs, "Deployment")["spec"]["template"]


def minor_key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


@pytest.mark.parametrize(("version", "tag"), [("1.31", "v0.8.1"), ("1.33", "v0.8.1"), ("1.34", "v0.9.0"),
                                              ("1.35", "v0.9.0"), ("1.36", "v0.9.0")])
def test_release_per_kubernetes_minor(version, tag):
    assert ms.release_for(version) == tag
    assert ms.image(version) == f"{UPSTREAM_IMAGE}:{tag}"
    (c,) = pod_of(documents(version))["spec"]["containers"]
    assert c["image"] == f"{UPSTREAM_IMAGE}:{tag}"


def test_a_minor_older_than_every_release_is_refused():
    with pytest.raises(ValueError, match=r"1\.30"):
        ms.release_for("1.30")


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_stack_version_gets_the_newest_release_that_supports_it(version):
    # README "Compatibility Matrix" at v0.9.0: the release's line must support the cluster's minor, and no newer
    # pinned line may also support it.
    tag = ms.release_for(version)
    line = ".".join(tag.removeprefix("v").split(".")[:2])
    assert ms.RELEASES[tag] == UPSTREAM_MINIMUM[line]
    assert minor_key(version) >= minor_key(UPSTREAM_MINIMUM[line])
    newer = [t for t in ms.RELEASES if minor_key(t.removeprefix("v").rsplit(".", 1)[0]) > minor_key(line)]
    assert all(minor_key(version) < minor_key(ms.RELEASES[t]) for t in newer)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_validates_against_the_upstream_schema(version):
    docs = documents(version, [TAINT])
    assert sorted(d["kind"] for d in docs.values()) == sorted([
        "APIService", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "Deployment",
        "PodDisruptionBudget", "RoleBinding", "Service", "ServiceAccount"])
    for doc in docs.values():
        kubernetes_validate.validate(doc, f"{version}.0", strict=True)


def test_every_label_is_a_valid_label_value():
    # The schema types labels as plain strings; the API server also checks the value syntax (no ':').
    docs = documents("1.35")
    for doc in [*docs.values(), pod_of(docs)]:
        for key, value in doc["metadata"].get("labels", {}).items():
            assert LABEL_VALUE_RE.match(value), (doc["metadata"].get("name"), key, value)
        assert doc["metadata"].get("labels", {}).get("k8s-app") == "metrics-server"  # kustomization commonLabels


def test_container_is_upstreams():
    (c,) = pod_of(documents("1.35"))["spec"]["containers"]
    assert c["name"] == "metrics-server" and c["imagePullPolicy"] == "IfNotPresent"
    assert c["args"] == UPSTREAM_ARGS
    assert c["ports"] == UPSTREAM_PORTS
    assert c["readinessProbe"] == UPSTREAM_READINESS and c["livenessProbe"] == UPSTREAM_LIVENESS
    assert c["volumeMounts"] == UPSTREAM_MOUNTS
    # Upstream's requests; the repo's add-on convention adds limits: memory = request, one core of CPU.
    assert c["resources"] == {"requests": UPSTREAM_REQUESTS, "limits": {"cpu": "1", "memory": "200Mi"}}
    # Upstream's security context but the uid: the image's own USER (Dockerfile), not base/deployment.yaml's 1000.
    sc = c["securityContext"]
    assert {k: v for k, v in sc.items() if k not in ("runAsUser", "runAsGroup")} == {
        k: v for k, v in UPSTREAM_SECURITY.items() if k != "runAsUser"}
    assert sc["runAsUser"] == sc["runAsGroup"] == IMAGE_USER


def test_pod_runs_restricted_on_the_system_pool():
    template = pod_of(documents("1.35", [TAINT, dict(TAINT)]))
    spec = template["spec"]
    assert violations(spec, "restricted") == []
    assert spec["serviceAccountName"] == UPSTREAM_POD["serviceAccountName"]
    assert spec["priorityClassName"] == UPSTREAM_POD["priorityClassName"]
    assert spec["nodeSelector"] == {"cloudviper.io/pool-role": "system", **UPSTREAM_POD["nodeSelector"]}
    assert spec["tolerations"] == [TAINT]  # the system pools' taints, each once
    assert "tolerations" not in pod_of(documents("1.35"))["spec"]  # an untainted system pool needs none
    (tmp,) = spec["volumes"]
    assert tmp["name"] == "tmp-dir" and set(tmp) == {"name", "emptyDir"}
    assert spec["automountServiceAccountToken"] is True  # it reads nodes and pods and serves an aggregated API


def test_high_availability_follows_upstream_but_prefers_spreading():
    docs = documents("1.35")
    deploy, pdb = by_kind(docs, "Deployment"), by_kind(docs, "PodDisruptionBudget")
    labels = pod_of(docs)["metadata"]["labels"]
    assert deploy["spec"]["replicas"] == UPSTREAM_HA_REPLICAS
    assert pdb["apiVersion"] == "policy/v1" and pdb["metadata"]["namespace"] == "kube-system"
    assert pdb["spec"]["minAvailable"] == UPSTREAM_HA_MIN_AVAILABLE and selects(pdb["spec"]["selector"], labels)
    assert selects(deploy["spec"]["selector"], labels)
    # Upstream's term (one replica per hostname, kube-system pods of the add-on), as a preference: a one-node
    # system pool still runs both replicas. Upstream's selector (k8s-app) and ours select the same pods.
    (preferred,) = pod_of(docs)["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in pod_of(docs)["spec"]["affinity"]["podAntiAffinity"]
    term = preferred["podAffinityTerm"]
    assert preferred["weight"] == 100 and selects(term["labelSelector"], labels)
    assert selects(UPSTREAM_HA_TERM["labelSelector"], labels)
    assert {k: v for k, v in term.items() if k != "labelSelector"} == {
        k: v for k, v in UPSTREAM_HA_TERM.items() if k != "labelSelector"}
    # base/deployment.yaml's strategy: with a preferred term a surge pod always fits, so no replica stops first.
    assert deploy["spec"]["strategy"]["rollingUpdate"] == UPSTREAM_STRATEGY["rollingUpdate"]


def test_rbac_is_upstreams():
    docs = documents("1.35")
    found = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace", "")): d for d in docs.values()
             if d["kind"] in ("ServiceAccount", "ClusterRole", "RoleBinding", "ClusterRoleBinding")}
    assert set(found) == set(UPSTREAM_RBAC)
    for key, want in UPSTREAM_RBAC.items():
        doc = found[key]
        for field in ("rules", "roleRef", "subjects"):
            assert doc.get(field) == want.get(field), (key, field)
        assert doc["metadata"]["labels"].items() >= want.get("labels", {}).items(), key


def test_service_account_may_do_what_metrics_server_needs_and_no_more():
    rbac = Rbac(list(documents("1.35").values()))
    sa = Subject("ServiceAccount", "metrics-server", "kube-system")
    assert rbac.can(sa, "get", "nodes/metrics")
    assert all(rbac.can(sa, verb, res, "default") for verb in ("get", "list", "watch") for res in ("pods", "nodes"))
    assert not rbac.can(sa, "get", "secrets", "kube-system") and not rbac.can(sa, "delete", "pods", "default")
    assert not rbac.can(sa, "create", "pods/eviction", "default") and not rbac.can(sa, "update", "nodes")


def test_service_and_apiservice_are_upstreams():
    docs = documents("1.35")
    svc, api = by_kind(docs, "Service"), by_kind(docs, "APIService")
    assert svc["metadata"]["name"] == "metrics-server" and svc["metadata"]["namespace"] == "kube-system"
    assert svc["spec"]["ports"] == UPSTREAM_SERVICE_PORTS
    assert svc["spec"]["selector"] == SELECTOR and selects({"matchLabels": SELECTOR}, pod_of(docs)["metadata"]["labels"])
    assert api["metadata"]["name"] == UPSTREAM_APISERVICE["name"] and api["spec"] == UPSTREAM_APISERVICE["spec"]
    assert "namespace" not in api["metadata"]


def run_component(version: str = "1.35") -> Capture:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        MetricsServer("metrics-server", version, provider, [TAINT])

    return evaluate(program, project="cloudviper", stack="metrics-server-test", config={})


@pytest.fixture(scope="module")
def graph() -> Capture:
    return run_component()


def test_component_registers_exactly_the_documents(graph):
    comp = graph.one("cloudviper:addons:MetricsServer", "metrics-server")
    provider = graph.one("pulumi:providers:kubernetes", "k8s")
    children = [r for r in graph.resources if r.type.startswith("kubernetes:")]
    assert children and all(r.parent == comp.urn and r.provider_urn == provider.urn for r in children)
    # Registration order follows dependencies, so compare by kind and name.
    def keyed(docs):
        return {(d["kind"], d["metadata"]["name"]): d for d in docs}

    assert keyed(manifests(graph)) == keyed(documents("1.35", [TAINT]).values())
    assert len(manifests(graph)) == len(documents("1.35"))
    assert sorted(r.name for r in children) == sorted(f"metrics-server-{key}" for key in documents("1.35"))


def test_component_orders_its_objects(graph):
    deploy = graph.one("kubernetes:apps/v1:Deployment", "metrics-server-deploy")
    api = graph.one("kubernetes:apiregistration.k8s.io/v1:APIService", "metrics-server-apiservice")
    # The APIService is registered once pods serve it, and is removed before them.
    assert graph.waits_for(api, deploy)
    assert graph.waits_for(api, graph.one("kubernetes:core/v1:Service", "metrics-server-svc"))
    for binding in (graph.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "metrics-server-crb"),
                    graph.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "metrics-server-auth-delegator"),
                    graph.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "metrics-server-auth-reader")):
        assert graph.waits_for(deploy, binding)
    assert graph.waits_for(deploy, graph.one("kubernetes:core/v1:ServiceAccount", "metrics-server-sa"))


# What checkov reports that tests/checkov_skips.yaml does not yet review for metrics-server: it calls the API (its
# token), and kube-system has no NetworkPolicies (the API server must reach it). Once the component is wired into the
# stacks, these resources are added to those skips' lists, and then nothing is left.
EXPECTED_UNTIL_REVIEWED = {
    "CKV_K8S_38 Deployment.kube-system.metrics-server: Ensure that Service Account Tokens are only mounted where necessary",
    "CKV2_K8S_6 Pod.kube-system.metrics-server.k8s-app-metrics-server.app.kubernetes.io/name-metrics-server: "
    "Minimize the admission of pods which lack an associated NetworkPolicy",
}


def test_checkov_finds_nothing_else(graph, tmp_path, monkeypatch, repo_root):
    # The same checkov run and reviewed list as tests/test_manifests.py.
    if not os.environ.get("CHECKOV") and (repo_root / ".venv-checkov/bin/checkov").exists():
        monkeypatch.setenv("CHECKOV", str(repo_root / ".venv-checkov/bin/checkov"))
    write_manifests(graph, tmp_path)
    assert set(unreviewed(checkov_failures(tmp_path))) <= EXPECTED_UNTIL_REVIEWED


def test_metrics_server_runs_in_every_cluster_after_the_system_pool(cluster_capture: Any) -> None:
    comp = cluster_capture.one("cloudviper:addons:MetricsServer", "metrics-server")
    deploy = cluster_capture.one("kubernetes:apps/v1:Deployment", "metrics-server-deploy")
    api = cluster_capture.one("kubernetes:apiregistration.k8s.io/v1:APIService", "metrics-server-apiservice")
    assert deploy.parent == comp.urn and deploy.provider_urn == api.provider_urn
    (c,) = deploy.props["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "registry.k8s.io/metrics-server/metrics-server:v0.9.0"  # the default version, 1.35
    system = cluster_capture.one("cloudviper:cluster:NodeGroup", "pool-system")
    assert cluster_capture.waits_for(deploy, system) and cluster_capture.waits_for(api, deploy)
