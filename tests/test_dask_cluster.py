"""The adaptive Dask cluster as the dask-kubernetes operator (2026.3.0, pinned in requirements-dev.txt) runs it.

Sources: the installed dask-kubernetes package, operator/controller/controller.py (scheduler Service
`<cluster>-scheduler` built from our spec without a selector of its own; worker env DASK_WORKER_NAME and
DASK_SCHEDULER_ADDRESS; the autoscaler reads `/api/v1/adaptive_target` on the Service port named
`http-dashboard` and retires workers by name) and operator/deployment/helm/dask-kubernetes-operator
(crds/, templates/role.yaml, templates/deployment.yaml, values.yaml); distributed 2026.1.1
distributed/http/scheduler/api.py (adaptive_target, retire_workers) and distributed.yaml (default routes);
dask/helm-chart values.yaml (scheduler and worker probes off).
"""

from __future__ import annotations

import functools
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import dask
import dask_kubernetes
import jsonschema
import pytest
import yaml
from distributed import Client

from infra.documents import dask as d
from infra.documents.crd import CRD_ROOT, unknown_fields
from infra.documents.rbac import Rbac, Subject
from infra.plan.manifests import manifests
from tests.dask_local import dask_cluster, local_dask, scheduler_container, worker_container

CHART = Path(str(dask_kubernetes.__file__)).parent / "operator/deployment/helm/dask-kubernetes-operator"


@functools.cache
def package_schema(kind: str) -> dict[str, Any]:
    """The installed package's CRD schema of `kind` (parsed once: the DaskCluster CRD takes 0.3 s)."""
    doc = yaml.safe_load((CHART / "crds" / f"{kind.lower()}.yaml").read_text())
    (version,) = doc["spec"]["versions"]
    return dict(version["schema"]["openAPIV3Schema"])


@functools.cache
def package_validator(kind: str) -> Any:
    """A validator of the package's CRD schema, the schema checked against its meta-schema once (0.45 s for the
    DaskCluster CRD): the first two steps of jsonschema.validate (jsonschema 4.26.0 validators.py, validate)."""
    schema = package_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(body: dict[str, Any], kind: str) -> None:
    """jsonschema.validate(body, package_schema(kind)): raise the best-matching ValidationError, if any."""
    error = jsonschema.exceptions.best_match(package_validator(kind).iter_errors(body))
    if error is not None:
        raise error


@pytest.fixture
def dev_docs(stack_capture):
    return manifests(stack_capture("dev"))


@pytest.mark.parametrize("stack", ["dev", "reference", "primary"])
@pytest.mark.parametrize("kind", ["DaskCluster", "DaskAutoscaler"])
def test_custom_resources_fit_the_pinned_packages_crds(stack_capture, stack, kind):
    # The upstream validator: the CRDs inside the installed package, not our copy.
    (doc,) = [m for m in manifests(stack_capture(stack)) if m["kind"] == kind]
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    validate(body, kind)
    assert unknown_fields(body, package_schema(kind), kind) == []  # nothing the API server would prune


def test_the_validator_refuses_what_the_crd_would_prune_or_reject(dev_docs):
    doc = dask_cluster(dev_docs)
    bad = json.loads(json.dumps(doc))
    bad["spec"]["worker"]["spec"]["containers"][0]["lifecycle"]["preStop"] = {"sleep": {"seconds": 5}}  # K8s 1.29+
    assert unknown_fields(bad, package_schema("DaskCluster"), "DaskCluster")
    bad = json.loads(json.dumps(doc))
    # the CRD declares int-or-string ports as `type: string`: a number is refused
    bad["spec"]["worker"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 8790
    with pytest.raises(jsonschema.ValidationError):
        validate({"spec": bad["spec"]}, "DaskCluster")


@pytest.mark.parametrize("kind", ["daskcluster", "daskworkergroup", "daskautoscaler", "daskjob"])
def test_the_crds_we_install_are_the_packages(kind):
    assert (CRD_ROOT / "dask" / f"{kind}.yaml").read_text() == (CHART / "crds" / f"{kind}.yaml").read_text()


def test_the_operator_image_is_the_packages_release():
    # Chartpress sets image.tag to the release when the package is published (published chart 2026.3.0:
    # image.tag "2026.3.0"); the controller and the CRDs must come from the same release.
    assert d.OPERATOR_IMAGE == f"ghcr.io/dask/dask-kubernetes-operator:{dask_kubernetes.__version__}"


def chart_rules() -> list[dict[str, Any]]:
    text = "\n".join(line for line in (CHART / "templates" / "role.yaml").read_text().splitlines() if "{{" not in line)
    return list(yaml.safe_load(text)["rules"])


def test_operator_role_is_the_charts_application_rules_with_verbs_spelled_out():
    ours = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in d.operator_rules()}
    for rule in chart_rules():
        key = (tuple(rule["apiGroups"]), tuple(rule["resources"]))
        if key[0][0] in ("kopf.dev", "apiextensions.k8s.io") or "namespaces" in key[1] or "admissionregistration" in key[0][0]:
            continue  # kopf framework rules: not needed with --standalone --namespace (no peering, no webhooks)
        want = set(d.ALL_VERBS) if rule["verbs"] == ["*"] else set(rule["verbs"])
        assert ours[key] == want, key


def test_operator_runs_standalone_in_the_dask_namespace_only(stack_capture):
    cap = stack_capture("dev")
    deploy = cap.one("kubernetes:apps/v1:Deployment", "dask-operator-deploy").props
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["--liveness=http://0.0.0.0:8080/healthz", "--standalone", "--namespace=dask"]
    assert deploy["metadata"]["namespace"] == "dask" and c["securityContext"]["readOnlyRootFilesystem"] is True
    assert not cap.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding") or all(
        "dask" not in b.props["metadata"]["name"] for b in cap.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"))
    crds = {r.props["metadata"]["name"] for r in cap.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")}
    assert crds == {"daskclusters.kubernetes.dask.org", "daskworkergroups.kubernetes.dask.org",
                    "daskautoscalers.kubernetes.dask.org", "daskjobs.kubernetes.dask.org"}


def test_workers_follow_the_operators_naming_and_the_autoscaler_its_range(dev_docs):
    cluster = dask_cluster(dev_docs)
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert worker["args"][:5] == ["dask", "worker", "$(DASK_SCHEDULER_ADDRESS)", "--name", "$(DASK_WORKER_NAME)"]
    names = {e["name"] for e in worker["env"]}
    assert not names & {"DASK_SCHEDULER_ADDRESS", "DASK_WORKER_NAME"}  # the operator adds them only if absent
    service = cluster["spec"]["scheduler"]["service"]
    assert service["selector"] == {"dask.org/cluster-name": "dask", "dask.org/component": "scheduler"}
    assert {p["name"]: p["port"] for p in service["ports"]} == {"tcp-comm": 8786, "http-dashboard": 8787}
    (scaler,) = [m for m in dev_docs if m["kind"] == "DaskAutoscaler"]
    assert scaler["spec"] == {"cluster": "dask", "minimum": 0, "maximum": 4}
    assert cluster["spec"]["worker"]["replicas"] == 0


def test_the_scheduler_serves_the_http_api_and_keeps_the_default_routes(dev_docs):
    env = {e["name"]: e.get("value") for e in dask_cluster(dev_docs)["spec"]["scheduler"]["spec"]["containers"][0]["env"]}
    routes = json.loads(env["DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES"])
    assert "distributed.http.scheduler.api" in routes
    assert set(dask.config.get("distributed.scheduler.http.routes")) <= set(routes)  # the variable replaces the list


def test_no_liveness_probe_can_kill_a_busy_scheduler_or_worker(dev_docs):
    spec = dask_cluster(dev_docs)["spec"]
    for pod in (spec["scheduler"]["spec"], spec["worker"]["spec"]):
        (c,) = pod["containers"]
        assert "livenessProbe" not in c and c["readinessProbe"]["httpGet"]["path"] == "/health"


def test_spill_is_bounded_and_requested(dev_docs):
    pod = dask_cluster(dev_docs)["spec"]["worker"]["spec"]
    (tmp,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    (c,) = pod["containers"]
    assert tmp["emptyDir"]["sizeLimit"] == c["resources"]["requests"]["ephemeral-storage"] == "20Gi"
    assert c["args"][c["args"].index("--local-directory") + 1].startswith("/tmp/")
    # distributed stops spilling before the kubelet would evict the pod for exceeding sizeLimit
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert int(env["DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL"]) == int(0.8 * 20 * 2**30)


def test_a_real_worker_takes_the_spill_cap_from_its_environment(stack_capture, tmp_path):
    # the manifests' exact worker command line and env: distributed's worker_memory.py reads
    # distributed.worker.memory.max-spill (default false: no limit)
    cap = stack_capture("dev")
    with local_dask(cap, 1, tmp_path, Path(sys.executable).parent) as cluster, \
            Client(cluster.address, timeout=60) as client:
        client.wait_for_workers(1, timeout=60)
        caps = client.run(lambda dask_worker: dask_worker.memory_manager.max_spill)
    assert list(caps.values()) == [int(0.8 * 20 * 2**30)]


def test_client_namespaces_and_users_reach_the_scheduler(stack_capture, dev_docs):
    cap = stack_capture("dev")
    policy = cap.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "dask-dask-scheduler-ingress").props
    sources = policy["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "astro"}}} in sources
    workers = cap.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "dask-dask-worker-ingress").props
    assert workers["spec"]["ingress"][0]["from"] == [{"podSelector": {}}]
    rbac = Rbac(dev_docs)
    scientist = Subject("User", "alice", groups=("astro-scientists",))
    # what `kubectl port-forward svc/...` asks for (kubectl: get service, list/get pods; the stream: get over
    # WebSocket up to 1.34, create over SPDY and, since 1.35, always: kubernetes/kubernetes#134577)
    assert rbac.can(scientist, "create", "pods/portforward", "dask")
    assert rbac.can(scientist, "get", "pods/portforward", "dask")
    assert rbac.can(scientist, "get", "services", "dask")
    for verb in ("get", "list", "watch"):
        assert rbac.can(scientist, verb, "pods", "dask")
    assert rbac.can(scientist, "patch", "daskautoscalers", "dask", api_group="kubernetes.dask.org", name="dask")
    assert not rbac.can(scientist, "create", "pods/exec", "dask")
    assert not rbac.can(scientist, "get", "secrets", "dask")
    assert not rbac.can(Subject("User", "mallory", groups=("other",)), "create", "pods/portforward", "dask")


def adaptive_target(http: str) -> int:
    with urllib.request.urlopen(f"{http}/api/v1/adaptive_target", timeout=10) as r:
        return int(json.load(r)["workers"])


def test_the_real_scheduler_answers_the_adaptive_target_and_it_rises_when_tasks_queue(stack_capture, tmp_path):
    # The exact scheduler command line and environment of the DaskCluster, on 127.0.0.1, no workers.
    cap = stack_capture("dev")
    assert scheduler_container(cap)["args"][:2] == ["dask", "scheduler"] and worker_container(cap)
    with local_dask(cap, 0, tmp_path, Path(sys.executable).parent) as cluster:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert adaptive_target(cluster.http) == 0  # idle: the operator may go down to minimum 0
                break
            except OSError:
                assert time.monotonic() < deadline, "scheduler did not start"
                time.sleep(0.5)
        with Client(cluster.address, timeout=60) as client:
            futures = client.map(time.sleep, [1.0] * 200, pure=False)
            deadline = time.monotonic() + 30
            while adaptive_target(cluster.http) < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert adaptive_target(cluster.http) >= 1
            client.cancel(futures)


def test_the_operators_scale_down_request_names_the_workers_deployments(stack_capture, tmp_path):
    # dask_kubernetes/operator/controller/controller.py retire_workers (2026.3.0): POST {"n": k} to the
    # scheduler's /api/v1/retire_workers, then delete the Deployments named by the answer's "name" fields.
    cap = stack_capture("dev")
    with local_dask(cap, 2, tmp_path, Path(sys.executable).parent) as cluster, \
            Client(cluster.address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        request = urllib.request.Request(f"{cluster.http}/api/v1/retire_workers", data=json.dumps({"n": 1}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as r:
            retired = json.load(r)
        names = [w["name"] for w in retired.values()]
        assert len(names) == 1 and names[0] in {"dask-default-worker-w0", "dask-default-worker-w1"}
        deadline = time.monotonic() + 30
        while len(client.scheduler_info()["workers"]) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [w["name"] for w in client.scheduler_info()["workers"].values()]
        assert len(left) == 1 and names[0] not in left


def test_a_new_cluster_gets_a_new_autoscaler_and_the_range_is_not_in_the_clusters_spec(stack_capture, dev_docs):
    # controller.py daskautoscaler_create makes the DaskCluster the autoscaler's owner: deleting the cluster
    # (every spec change replaces it) deletes the autoscaler, so Pulumi must re-create it with the cluster.
    cap = stack_capture("dev")
    cluster = cap.one("kubernetes:kubernetes.dask.org/v1:DaskCluster")
    scaler = cap.one("kubernetes:kubernetes.dask.org/v1:DaskAutoscaler")
    assert cluster.delete_before_replace and "spec" in cluster.replace_on_changes
    assert scaler.replace_with == [cluster.urn] and scaler.delete_before_replace
    # minimum and maximum live in the autoscaler only: changing them never re-creates the cluster
    assert dask_cluster(dev_docs)["spec"]["worker"]["replicas"] == 0
    assert scaler.props["spec"] == {"cluster": "dask", "minimum": 0, "maximum": 4}
