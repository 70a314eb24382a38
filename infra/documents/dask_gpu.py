"""The GPU Dask cluster's workers: dask-cuda, one GPU each, with the CPU workers' retirement hook (pure).

dask-cuda 26.04 (rapidsai/dask-cuda dask_cuda/cli.py @v26.04.00): `dask cuda worker [SCHEDULER]` starts one
worker process per visible GPU; with one GPU per pod its `--name` is kept as given (more GPUs suffix it, and
the operator could no longer match a retired worker to its Deployment). `--listen-address`/`--contact-address`
name the worker by the pod's address, as the preStop hook expects; there is no --nanny-port, so the nanny
listens on a random port (the NetworkPolicy admits every port from the namespace's pods).
"""

from __future__ import annotations

from typing import Any

from infra.config.accelerators import GPU_RESOURCE
from infra.config.base import bytes_of
from infra.config.dask import DaskConfig
from infra.config.dask_gpu import HOST_CACHE_SHARE, DaskGpuWorkersConfig
from infra.documents.dask import (
    RETIRE_SCRIPT,
    TMP_MOUNT,
    WORKER_DASHBOARD_PORT,
    WORKER_PORT,
    WORKER_READINESS,
)
from infra.documents.pods import restricted_security_context

GPU_CLUSTER = "dask-gpu"  # the second DaskCluster's name: its scheduler Service is dask-gpu-scheduler


def gpu_worker_args(g: DaskGpuWorkersConfig) -> list[str]:
    """dask-cuda's command line: the operator's name and scheduler address, threads, memory, the pod's address."""
    args = [
        "dask", "cuda", "worker", "$(DASK_SCHEDULER_ADDRESS)",
        "--name", "$(DASK_WORKER_NAME)",
        "--nthreads", str(g.threads),
        # the host cache (device_host_file.py), spilled to disk when full: below the pod's limit, or the kernel kills
        # the worker before anything spills
        "--memory-limit", str(int(bytes_of(g.memory) * HOST_CACHE_SHARE)),
        "--resources", "GPU=1",  # for `client.submit(..., resources={"GPU": 1})`
        "--listen-address", "tcp://0.0.0.0:$(WORKER_PORT)",
        "--contact-address", "tcp://$(POD_IP):$(WORKER_PORT)",
        "--dashboard-address", f":{WORKER_DASHBOARD_PORT}",
        "--local-directory", "/tmp/dask",
    ]
    if g.rmm_pool_size:
        args += ["--rmm-pool-size", g.rmm_pool_size]
    return args


def gpu_worker_container(cfg: DaskConfig, g: DaskGpuWorkersConfig, image: str, region: str, uid: int,
                         scheduler_http: str) -> dict[str, Any]:
    """A dask-cuda worker asking for one GPU (request = limit, as extended resources must), spill disk, the hook."""
    requests = {"cpu": g.cpu_request or str(g.cores), "memory": g.memory, "ephemeral-storage": g.spill,
                GPU_RESOURCE: "1"}
    return {
        "name": "worker", "image": image, "imagePullPolicy": "IfNotPresent",
        "args": gpu_worker_args(g),
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "WORKER_PORT", "value": str(WORKER_PORT)},
            {"name": "DASK_SCHEDULER_HTTP", "value": scheduler_http},
            {"name": "RETIRE_TIMEOUT", "value": str(cfg.termination_grace_seconds - 10)},
            {"name": "AWS_REGION", "value": region},
            {"name": "HOME", "value": "/tmp"},
        ],
        "ports": [{"name": "tcp-worker", "containerPort": WORKER_PORT},
                  {"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT}],
        "resources": {"requests": requests, "limits": {"cpu": str(g.cores), "memory": g.memory, GPU_RESOURCE: "1"}},
        "lifecycle": {"preStop": {"exec": {"command": ["python", "-c", RETIRE_SCRIPT]}}},
        "readinessProbe": WORKER_READINESS,
        "securityContext": {k: v for k, v in restricted_security_context(uid).items() if k != "runAsGroup"},
        **TMP_MOUNT,
    }
