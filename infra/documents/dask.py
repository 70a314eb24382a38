"""The Dask cluster as the dask-kubernetes operator (2026.3.0) runs it: DaskCluster, DaskAutoscaler, pods (pure).

Facts from the operator's code at 2026.3.0 (dask_kubernetes/operator/controller/controller.py,
tests/test_dask_cluster.py cites them): it creates the scheduler Deployment and Service
`<cluster>-scheduler` from our specs, copying them as they are (the Service selector is ours to
write); one Deployment per worker, `<cluster>-default-worker-<id>`, to whose containers it adds
DASK_WORKER_NAME and DASK_SCHEDULER_ADDRESS; the autoscaler reads `GET /api/v1/adaptive_target`
on the scheduler Service's port named `http-dashboard` every 5 s and scales down by retiring
workers through `POST /api/v1/retire_workers`, then deleting the Deployments named after the
retired workers' names, so every worker must run with `--name $(DASK_WORKER_NAME)`.
"""

from __future__ import annotations

from typing import Any, Optional

from infra.config.base import bytes_of
from infra.config.dask import DaskConfig
from infra.config.pools import NodeGroupConfig
from infra.documents.crd import validate_custom_resource
from infra.documents.pods import restricted_security_context

API_VERSION = "kubernetes.dask.org/v1"
CLUSTER = "dask"  # the DaskCluster's name: the operator names the scheduler Service `dask-scheduler`
OPERATOR_IMAGE = "ghcr.io/dask/dask-kubernetes-operator:2026.3.0"
COMM_PORT, DASHBOARD_PORT, WORKER_PORT, NANNY_PORT, WORKER_DASHBOARD_PORT = 8786, 8787, 8788, 8789, 8790
# distributed's default routes plus the HTTP API (off by default): the operator's autoscaler and
# the workers' preStop hook use it. Setting the list replaces the defaults, so all are repeated.
SCHEDULER_ROUTES = [
    "distributed.http.scheduler.prometheus", "distributed.http.scheduler.info", "distributed.http.scheduler.json",
    "distributed.http.health", "distributed.http.proxy", "distributed.http.statics",
    "distributed.http.scheduler.api",  # /api/v1/adaptive_target, /api/v1/retire_workers
]
SCHEDULER_LABELS = {"dask.org/component": "scheduler"}
WORKER_LABELS = {"dask.org/component": "worker"}
# Runs inside the worker container when Kubernetes stops the pod (spot interruption, scale-in):
# ask the scheduler to retire this worker, which copies its unique results to other workers first.
RETIRE_SCRIPT = (
    "import json, os, urllib.request\n"
    "address = 'tcp://%s:%s' % (os.environ['POD_IP'], os.environ['WORKER_PORT'])\n"
    "request = urllib.request.Request(os.environ['DASK_SCHEDULER_HTTP'] + '/api/v1/retire_workers',\n"
    "    data=json.dumps({'workers': [address]}).encode(), headers={'Content-Type': 'application/json'}, method='POST')\n"
    "print(urllib.request.urlopen(request, timeout=float(os.environ.get('RETIRE_TIMEOUT', '90'))).read().decode())\n"
)
# Probes: readiness only. A liveness probe restarts a scheduler whose event loop is busy (a large graph
# blocks it for tens of seconds), losing every result, and a worker running a GIL-holding task; the dask
# helm chart ships both off ("could in theory make a pod crash by being too busy to respond", dask/helm-chart#368).
# Probe ports by name: the operator's CRDs declare int-or-string fields as `type: string`, so the API
# server would refuse a number there.
SCHEDULER_READINESS = {"httpGet": {"path": "/health", "port": "http-dashboard"}, "periodSeconds": 10}
WORKER_READINESS = {"httpGet": {"path": "/health", "port": "http-dashboard"}, "periodSeconds": 10}


def dask_bytes(quantity: str) -> str:
    """A Kubernetes memory quantity as Dask writes it (4Gi -> 4GiB, 500M -> 500MB)."""
    for k8s_unit, dask_unit in (("Ki", "KiB"), ("Mi", "MiB"), ("Gi", "GiB"), ("Ti", "TiB"),
                                ("k", "kB"), ("M", "MB"), ("G", "GB"), ("T", "TB")):
        if quantity.endswith(k8s_unit):
            return quantity[: -len(k8s_unit)] + dask_unit
    return quantity


def scheduler_host(cluster: str, namespace: str) -> str:
    """The scheduler Service's in-cluster name (the operator names it `<cluster>-scheduler`)."""
    return f"{cluster}-scheduler.{namespace}.svc.cluster.local"


def worker_args(cfg: DaskConfig) -> list[str]:
    """Worker command line: threads and memory from the pod's resources, the operator's name and address."""
    return [
        "dask", "worker", "$(DASK_SCHEDULER_ADDRESS)",
        "--name", "$(DASK_WORKER_NAME)",  # the operator retires workers by this name on scale-down
        "--nthreads", str(cfg.workers.cores),
        "--memory-limit", dask_bytes(cfg.workers.memory),
        # Bind every interface of the pod, advertise the pod IP: the preStop hook names the worker by it.
        "--listen-address", "tcp://0.0.0.0:$(WORKER_PORT)",
        "--contact-address", "tcp://$(POD_IP):$(WORKER_PORT)",
        "--nanny-port", str(NANNY_PORT),
        "--dashboard-address", f":{WORKER_DASHBOARD_PORT}",
        "--local-directory", "/tmp/dask",
    ]


def tolerations(pool: NodeGroupConfig) -> list[dict[str, str]]:
    """Tolerate exactly the pool's own taints."""
    return [{"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in pool.all_taints]


def pod_spec(service_account: str, pool: NodeGroupConfig, containers: list[dict[str, Any]], uid: int,
             gid: Optional[int], tmp_size: str, **extra: Any) -> dict[str, Any]:
    """A restricted pod on one node pool with a bounded writable /tmp (an emptyDir of tmp_size); without a gid the
    pod sets no group, so the image's user keeps the groups the image gives it."""
    group = {} if gid is None else {"runAsGroup": gid, "fsGroup": gid}
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,  # the IRSA token is mounted by EKS on its own
        "nodeSelector": {"cloudviper.io/pool": pool.name},
        "tolerations": tolerations(pool),
        "securityContext": {"runAsNonRoot": True, "runAsUser": uid, **group, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": tmp_size}}],
        "containers": containers,
        **extra,
    }


def scheduler_clients(cfg: DaskConfig) -> list[dict[str, Any]]:
    """NetworkPolicy peers that may reach a scheduler: the Dask namespace's pods and the client namespaces."""
    return [{"podSelector": {}}, *[{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}}
                                   for n in cfg.client_namespaces]]


TMP_MOUNT: dict[str, Any] = {"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}


def scheduler_container(cfg: DaskConfig, image: str, uid: int, gid: int) -> dict[str, Any]:
    """The scheduler: comm and dashboard ports, the HTTP API on, readiness only."""
    res = {"cpu": cfg.scheduler_cpu, "memory": cfg.scheduler_memory}
    return {
        "name": "scheduler", "image": image, "imagePullPolicy": "IfNotPresent",
        "args": ["dask", "scheduler", "--port", str(COMM_PORT), "--dashboard-address", f":{DASHBOARD_PORT}"],
        "env": [{"name": "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES", "value": repr_routes()},
                {"name": "HOME", "value": "/tmp"}],
        "ports": [{"name": "tcp-comm", "containerPort": COMM_PORT}, {"name": "http-dashboard", "containerPort": DASHBOARD_PORT}],
        "resources": {"requests": dict(res), "limits": dict(res)},
        "readinessProbe": SCHEDULER_READINESS,
        "securityContext": restricted_security_context(uid, gid),
        **TMP_MOUNT,
    }


def repr_routes() -> str:
    """The routes list as Dask reads it from an environment variable (a Python/JSON literal)."""
    import json

    return json.dumps(SCHEDULER_ROUTES)


MAX_SPILL_SHARE = 0.8


def max_spill_bytes(spill: str) -> int:
    """What a worker may spill: most of its spill volume."""
    return int(bytes_of(spill) * MAX_SPILL_SHARE)


def worker_container(cfg: DaskConfig, image: str, region: str, uid: int, gid: int, scheduler_http: str) -> dict[str, Any]:
    """A worker: resources, spill disk, the retirement hook; readiness only."""
    w = cfg.workers
    requests = {"cpu": w.cpu_request or str(w.cores), "memory": w.memory, "ephemeral-storage": w.spill}
    return {
        "name": "worker", "image": image, "imagePullPolicy": "IfNotPresent",
        "args": worker_args(cfg),
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "WORKER_PORT", "value": str(WORKER_PORT)},
            {"name": "DASK_SCHEDULER_HTTP", "value": scheduler_http},
            {"name": "RETIRE_TIMEOUT", "value": str(cfg.termination_grace_seconds - 10)},
            {"name": "AWS_REGION", "value": region},
            {"name": "HOME", "value": "/tmp"},
            # Stop spilling before the volume's sizeLimit: past it the kubelet evicts the pod at once (no grace,
            # so no retirement); distributed's max-spill defaults to no limit (distributed.yaml @2026.1.1).
            # HOME and the worker's own files share the volume, hence the 20 % margin.
            {"name": "DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL", "value": str(max_spill_bytes(w.spill))},
        ],
        "ports": [{"name": "tcp-worker", "containerPort": WORKER_PORT}, {"name": "tcp-nanny", "containerPort": NANNY_PORT},
                  {"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT}],
        "resources": {"requests": requests, "limits": {"cpu": str(w.cores), "memory": w.memory}},
        "lifecycle": {"preStop": {"exec": {"command": ["python", "-c", RETIRE_SCRIPT]}}},
        "readinessProbe": WORKER_READINESS,
        "securityContext": restricted_security_context(uid, gid),
        **TMP_MOUNT,
    }


def dask_cluster(name: str, namespace: str, scheduler_pod: dict[str, Any], worker_pod: dict[str, Any],
                 worker_annotations: dict[str, str], worker_labels: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """A DaskCluster, validated against the operator's CRD (no field the API server would prune).

    Its workers start at 0 replicas, always: the DaskAutoscaler raises them to its minimum within
    seconds, so the spec (whose every change re-creates the cluster) does not hold the range."""
    obj = {
        "apiVersion": API_VERSION, "kind": "DaskCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "worker": {"replicas": 0, "metadata": {"labels": {"app.kubernetes.io/name": "dask-worker", **(worker_labels or {})},
                                                         **({"annotations": worker_annotations} if worker_annotations else {})},
                       "spec": worker_pod},
            "scheduler": {
                "metadata": {"labels": {"app.kubernetes.io/name": "dask-scheduler"}},
                "spec": scheduler_pod,
                "service": {
                    "type": "ClusterIP",
                    "selector": {"dask.org/cluster-name": name, **SCHEDULER_LABELS},
                    "ports": [{"name": "tcp-comm", "protocol": "TCP", "port": COMM_PORT, "targetPort": "tcp-comm"},
                              {"name": "http-dashboard", "protocol": "TCP", "port": DASHBOARD_PORT,
                               "targetPort": "http-dashboard"}],
                },
            },
        },
    }
    validate_custom_resource(obj)
    return obj


def dask_autoscaler(name: str, namespace: str, minimum: int, maximum: int) -> dict[str, Any]:
    """A DaskAutoscaler that keeps the cluster's default workers at the scheduler's adaptive target."""
    obj = {"apiVersion": API_VERSION, "kind": "DaskAutoscaler", "metadata": {"name": name, "namespace": namespace},
           "spec": {"cluster": name, "minimum": minimum, "maximum": maximum}}
    validate_custom_resource(obj)
    return obj


# The operator's namespaced Role (chart templates/role.yaml at 2026.3.0), with `*` written out. kopf's
# framework rules for cluster-scoped objects (peerings, CRDs, namespaces, webhooks) are not needed with
# `--standalone --namespace=<ns>`: no peering, one namespace, no admission webhooks.
ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]


def operator_rules() -> list[dict[str, Any]]:
    """What the operator may do in the Dask namespace."""
    return [
        {"apiGroups": ["kubernetes.dask.org"], "resources": [
            "daskclusters", "daskworkergroups", "daskjobs", "daskjobs/status", "daskautoscalers", "daskworkergroups/scale"],
         "verbs": ["get", "list", "watch", "patch", "create", "delete"]},
        {"apiGroups": [""], "resources": ["pods", "pods/status"], "verbs": list(ALL_VERBS)},
        {"apiGroups": [""], "resources": ["services", "services/status"], "verbs": list(ALL_VERBS)},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/status"], "verbs": list(ALL_VERBS)},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": list(ALL_VERBS)},
    ]


def operator_args(namespace: str) -> list[str]:
    """The chart's args, with kopf limited to one namespace and no peering."""
    return ["--liveness=http://0.0.0.0:8080/healthz", "--standalone", f"--namespace={namespace}"]
