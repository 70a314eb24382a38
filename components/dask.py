"""A spot-safe Dask cluster: scheduler on on-demand capacity, workers on spot, S3 through IRSA.

Workers retire through the scheduler's HTTP API in their preStop hook, so their results move to
surviving workers before a spot node goes; the Deployment recreates lost workers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.k8s_objects import container, deployment_spec, meta
from components.namespaces import create_namespace
from components.secrets import secret_data
from components.workload_identity import s3_service_account
from infra.config.namespaces import NamespaceConfig, QuotaConfig
from infra.config.pools import NodeGroupConfig
from infra.config.workloads import DaskConfig
from infra.documents.admiralty import ELECT_ANNOTATION, FEDERATED_NAMESPACE_LABEL
from infra.documents.rbac import scale_rules

SCHEDULER, WORKER, JUPYTER = "dask-scheduler", "dask-worker", "jupyter"
COMM_PORT, DASHBOARD_PORT, WORKER_PORT, NANNY_PORT, WORKER_DASHBOARD_PORT = 8786, 8787, 8788, 8789, 8790
UID = 10001  # high, so it maps to no user on the node
SCHEDULER_ROUTES = [
    "distributed.http.scheduler.prometheus", "distributed.http.scheduler.info", "distributed.http.scheduler.json",
    "distributed.http.health", "distributed.http.proxy", "distributed.http.statics",
    "distributed.http.scheduler.api",  # /api/v1/retire_workers, used by the workers' preStop hook
]
# Runs inside the worker container when Kubernetes stops the pod (spot interruption, scale-in):
# ask the scheduler to retire this worker, which copies its unique results to other workers first.
RETIRE_SCRIPT = (
    "import json, os, urllib.request\n"
    "address = 'tcp://%s:%s' % (os.environ['POD_IP'], os.environ['WORKER_PORT'])\n"
    "request = urllib.request.Request(os.environ['DASK_SCHEDULER_HTTP'] + '/api/v1/retire_workers',\n"
    "    data=json.dumps({'workers': [address]}).encode(), headers={'Content-Type': 'application/json'}, method='POST')\n"
    "print(urllib.request.urlopen(request, timeout=float(os.environ.get('RETIRE_TIMEOUT', '90'))).read().decode())\n"
)


def dask_bytes(quantity: str) -> str:
    """A Kubernetes memory quantity as Dask writes it (4Gi -> 4GiB, 500M -> 500MB)."""
    for k8s_unit, dask_unit in (("Ki", "KiB"), ("Mi", "MiB"), ("Gi", "GiB"), ("Ti", "TiB"),
                                ("k", "kB"), ("M", "MB"), ("G", "GB"), ("T", "TB")):
        if quantity.endswith(k8s_unit):
            return quantity[: -len(k8s_unit)] + dask_unit
    return quantity


def worker_args(cfg: DaskConfig, scheduler_address: str) -> list[str]:
    """Worker command line: threads and memory limit from the pod's resources."""
    return [
        "dask", "worker", scheduler_address,
        "--nthreads", str(cfg.workers.cores),
        "--memory-limit", dask_bytes(cfg.workers.memory),
        # Bind every interface of the pod, advertise the pod IP: the preStop hook names the worker by it.
        "--listen-address", "tcp://0.0.0.0:$(WORKER_PORT)",
        "--contact-address", "tcp://$(POD_IP):$(WORKER_PORT)",
        "--nanny-port", str(NANNY_PORT),
        "--dashboard-address", f":{WORKER_DASHBOARD_PORT}",
        "--name", "$(POD_NAME)",
        "--local-directory", "/tmp/dask",
    ]


def tolerations(pool: NodeGroupConfig) -> list[dict[str, str]]:
    """Tolerate exactly the pool's own taints."""
    return [{"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in pool.all_taints]


def pod_spec(service_account: str, pool: NodeGroupConfig, containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A restricted pod on one node pool, with a writable /tmp."""
    return {
        "serviceAccountName": service_account,
        "nodeSelector": {"cloudviper.io/pool": pool.name},
        "tolerations": tolerations(pool),
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "containers": containers,
        **extra,
    }


TMP_MOUNT: dict[str, Any] = {"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}


@dataclass(frozen=True)
class DaskArgs:
    """What the Dask cluster is built from."""

    config: DaskConfig
    control_plane: ControlPlane
    scheduler_pool: NodeGroupConfig
    worker_pool: NodeGroupConfig
    bucket_arns: Sequence[pulumi.Input[str]]
    kms_key_arn: Optional[pulumi.Input[str]]
    secret_values: pulumi.Output[dict[str, str]]
    region: str
    quota: QuotaConfig  # the namespace's budget (config, or what the stack runs at its largest)


class DaskCluster(pulumi.ComponentResource):
    """Namespace, IRSA service accounts, scheduler, workers and (optionally) JupyterLab."""

    def __init__(self, name: str, args: DaskArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:DaskCluster", name, None, opts)
        cfg, cp, ns = args.config, args.control_plane, args.config.namespace
        k = pulumi.ResourceOptions(parent=self, provider=cp.k8s_provider)
        federated = FEDERATED_NAMESPACE_LABEL if cfg.workers.federated else None
        namespace = create_namespace(f"{name}-ns", NamespaceConfig.model_validate({"name": ns, "quota": args.quota}), k, federated)
        k = k.merge(pulumi.ResourceOptions(depends_on=[namespace]))
        scheduler_host = f"{SCHEDULER}.{ns}.svc.cluster.local"
        self.scheduler_address = f"tcp://{scheduler_host}:{COMM_PORT}"

        dask_sa = self._service_account(name, "dask", args, k)
        self._scheduler(name, cfg, args.scheduler_pool, k)
        self._workers(name, cfg, args, dask_sa, scheduler_host, k)
        self._network_policy(name, ns, k)
        if cfg.jupyter.enabled:
            self._jupyter(name, cfg, args, k)
        self.register_outputs({"schedulerAddress": self.scheduler_address})

    def _service_account(self, name: str, sa_name: str, args: DaskArgs, k: pulumi.ResourceOptions) -> k8s.core.v1.ServiceAccount:
        """A service account whose IAM role can use only this stack's buckets."""
        return s3_service_account(name, args.config.namespace, sa_name, args.control_plane, args.bucket_arns,
                                  args.kms_key_arn, self, k)

    def _scheduler(self, name: str, cfg: DaskConfig, pool: NodeGroupConfig, k: pulumi.ResourceOptions) -> None:
        probe = {"httpGet": {"path": "/health", "port": DASHBOARD_PORT}, "periodSeconds": 10}
        c = container(SCHEDULER, cfg.image, cpu=cfg.scheduler_cpu, memory=cfg.scheduler_memory, uid=UID,
                      args=["dask", "scheduler", "--port", str(COMM_PORT), "--dashboard-address", f":{DASHBOARD_PORT}"],
                      env=[{"name": "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES", "value": json.dumps(SCHEDULER_ROUTES)},
                           {"name": "HOME", "value": "/tmp"}],
                      ports=[{"name": "tcp-comm", "containerPort": COMM_PORT}, {"name": "http-dashboard", "containerPort": DASHBOARD_PORT}],
                      readinessProbe=probe, livenessProbe={**probe, "initialDelaySeconds": 30}, **TMP_MOUNT)
        spec = deployment_spec(SCHEDULER, pod_spec("dask", pool, [c], automountServiceAccountToken=False),
                               labels={"app.kubernetes.io/component": "scheduler"})
        spec["strategy"] = {"type": "Recreate"}
        k8s.apps.v1.Deployment(f"{name}-scheduler", metadata=meta(SCHEDULER, cfg.namespace), spec=spec, opts=k)
        k8s.core.v1.Service(f"{name}-scheduler", metadata=meta(SCHEDULER, cfg.namespace), spec={
            "selector": {"app.kubernetes.io/name": SCHEDULER},
            "ports": [{"name": "tcp-comm", "port": COMM_PORT, "targetPort": COMM_PORT},
                      {"name": "http-dashboard", "port": DASHBOARD_PORT, "targetPort": DASHBOARD_PORT}],
        }, opts=k)

    def _workers(self, name: str, cfg: DaskConfig, args: DaskArgs, sa: k8s.core.v1.ServiceAccount, scheduler_host: str,
                 k: pulumi.ResourceOptions) -> None:
        env: list[dict[str, Any]] = [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "WORKER_PORT", "value": str(WORKER_PORT)},
            {"name": "DASK_SCHEDULER_HTTP", "value": f"http://{scheduler_host}:{DASHBOARD_PORT}"},
            {"name": "RETIRE_TIMEOUT", "value": str(cfg.termination_grace_seconds - 10)},
            {"name": "AWS_REGION", "value": args.region},
            {"name": "HOME", "value": "/tmp"},
        ]
        c = container(WORKER, cfg.image, cpu=cfg.workers.cpu_request or str(cfg.workers.cores),
                      cpu_limit=str(cfg.workers.cores), memory=cfg.workers.memory, uid=UID,
                      args=worker_args(cfg, f"tcp://{scheduler_host}:{COMM_PORT}"), env=env,
                      ports=[{"name": "tcp-worker", "containerPort": WORKER_PORT}, {"name": "tcp-nanny", "containerPort": NANNY_PORT},
                             {"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT}],
                      lifecycle={"preStop": {"exec": {"command": ["python", "-c", RETIRE_SCRIPT]}}},
                      livenessProbe={"httpGet": {"path": "/health", "port": WORKER_DASHBOARD_PORT}, "periodSeconds": 20,
                                     "initialDelaySeconds": 30},
                      readinessProbe={"httpGet": {"path": "/health", "port": WORKER_DASHBOARD_PORT}, "periodSeconds": 10},
                      **TMP_MOUNT)
        # The IRSA web-identity token is mounted by EKS on its own; workers never call the Kubernetes API.
        pod = pod_spec("dask", args.worker_pool, [c], terminationGracePeriodSeconds=cfg.termination_grace_seconds,
                       automountServiceAccountToken=False)
        spec = deployment_spec(WORKER, pod, replicas=cfg.workers.replicas, labels={"app.kubernetes.io/component": "worker"})
        # No surge: the namespace quota admits the workers the pool holds, not 25 % more during an update.
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}}
        if cfg.workers.federated:  # Admiralty may run elected workers in federated clusters
            spec["template"]["metadata"]["annotations"] = {ELECT_ANNOTATION: ""}
        # replicas is the starting count: scaling by kubectl or from JupyterLab survives the next `pulumi up`.
        self.workers = k8s.apps.v1.Deployment(f"{name}-workers", metadata=meta(WORKER, cfg.namespace), spec=spec,
                                              opts=k.merge(pulumi.ResourceOptions(depends_on=[sa],
                                                                                  ignore_changes=["spec.replicas"])))

    def _network_policy(self, name: str, ns: str, k: pulumi.ResourceOptions) -> None:
        """Only pods of the Dask namespace reach the scheduler (its HTTP API can retire workers) and workers."""
        same_namespace: list[dict[str, Any]] = [{"podSelector": {}}]
        for target, ports in ((SCHEDULER, [COMM_PORT, DASHBOARD_PORT]), (WORKER, [WORKER_PORT, NANNY_PORT, WORKER_DASHBOARD_PORT])):
            k8s.networking.v1.NetworkPolicy(f"{name}-{target}-ingress", metadata=meta(f"{target}-ingress", ns), spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": target}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": same_namespace, "ports": [{"protocol": "TCP", "port": p} for p in ports]}],
            }, opts=k)

    def _jupyter(self, name: str, cfg: DaskConfig, args: DaskArgs, k: pulumi.ResourceOptions) -> None:
        """JupyterLab on the scheduler pool: token from a Secret, may resize the workers and nothing else."""
        ns, j = cfg.namespace, cfg.jupyter
        sa = self._service_account(name, JUPYTER, args, k)
        token = k8s.core.v1.Secret(f"{name}-jupyter-token", metadata=meta("jupyter-token", ns), type="Opaque",
                                   string_data=secret_data(args.secret_values, {"token": j.token_secret_value}), opts=k)
        k8s.rbac.v1.Role(f"{name}-jupyter-scale", metadata=meta("scale-dask-workers", ns), rules=scale_rules(WORKER), opts=k)
        k8s.rbac.v1.RoleBinding(f"{name}-jupyter-scale", metadata=meta("scale-dask-workers", ns), role_ref={
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "scale-dask-workers"},
            subjects=[{"kind": "ServiceAccount", "name": JUPYTER, "namespace": ns}], opts=k)
        c = container(JUPYTER, j.image, cpu=j.cpu, memory=j.memory, uid=UID,
                      args=["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"],
                      env=[{"name": "JUPYTER_TOKEN", "valueFrom": {"secretKeyRef": {"name": "jupyter-token", "key": "token"}}},
                           {"name": "DASK_SCHEDULER_ADDRESS", "value": self.scheduler_address},
                           {"name": "HOME", "value": "/tmp"}],
                      ports=[{"name": "http", "containerPort": 8888}],
                      readinessProbe={"httpGet": {"path": "/api", "port": 8888}, "periodSeconds": 10},
                      livenessProbe={"httpGet": {"path": "/api", "port": 8888}, "periodSeconds": 30, "initialDelaySeconds": 30},
                      **TMP_MOUNT)
        jupyter_spec = deployment_spec(JUPYTER, pod_spec(JUPYTER, args.scheduler_pool, [c]))
        jupyter_spec["strategy"] = {"type": "Recreate"}  # one notebook server; no second pod over the quota
        k8s.apps.v1.Deployment(f"{name}-jupyter", metadata=meta(JUPYTER, ns), spec=jupyter_spec,
                               opts=k.merge(pulumi.ResourceOptions(depends_on=[sa, token])))
        k8s.core.v1.Service(f"{name}-jupyter", metadata=meta(JUPYTER, ns), spec={
            "selector": {"app.kubernetes.io/name": JUPYTER}, "ports": [{"name": "http", "port": 8888, "targetPort": 8888}]},
            opts=k)
