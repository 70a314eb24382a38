"""The resource budgets (ResourceQuotas) of the namespaces the stack's own workloads run in.

A budget that is too small is silent: the API server refuses the pods over it and the
Deployment just shows fewer replicas. So the default budget is exactly what the stack can run at
its largest, and a budget set in config that cannot admit that is a config error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from infra.config.capacity import gib, node_capacity
from infra.config.namespaces import QuotaConfig


@dataclass(frozen=True)
class Budget:
    """CPU limits (cores), memory (GiB) and pods some set of workloads needs."""

    cpu: float
    memory_gib: float
    pods: int
    gpus: int = 0

    def __add__(self, other: Budget) -> Budget:
        return Budget(self.cpu + other.cpu, self.memory_gib + other.memory_gib, self.pods + other.pods,
                      self.gpus + other.gpus)

    def times(self, n: int) -> Budget:
        """n copies."""
        return Budget(self.cpu * n, self.memory_gib * n, self.pods * n, self.gpus * n)

    def quota(self) -> QuotaConfig:
        """A quota that admits exactly this (rounded up to whole millicores and MiB)."""
        cpu_m, mem_mi = math.ceil(round(self.cpu * 1000, 6)), math.ceil(round(self.memory_gib * 1024, 6))
        return QuotaConfig.model_validate({
            "cpu": str(cpu_m // 1000) if cpu_m % 1000 == 0 else f"{cpu_m}m",
            "memory": f"{mem_mi // 1024}Gi" if mem_mi % 1024 == 0 else f"{mem_mi}Mi",
            "pods": max(self.pods, 1),
            "gpus": self.gpus,
        })

    def shortfall(self, quota: QuotaConfig) -> list[str]:
        """What of this budget the quota does not admit ([] if it admits all)."""
        missing = []
        if cores(quota.cpu) + 1e-9 < self.cpu:
            missing.append(f"cpu {self.cpu:g} > {quota.cpu}")
        if gib(quota.memory) + 1e-9 < self.memory_gib:
            missing.append(f"memory {self.memory_gib:.1f}Gi > {quota.memory}")
        if quota.pods < self.pods:
            missing.append(f"pods {self.pods} > {quota.pods}")
        if quota.gpus < self.gpus:
            missing.append(f"gpus {self.gpus} > {quota.gpus}")
        return missing


@dataclass(frozen=True)
class SystemPod:
    """A pod the stack runs in a workload's namespace besides the workload itself (it counts against the quota)."""

    cpu_request: str
    cpu_limit: str
    memory: str  # request = limit

    def budget(self) -> Budget:
        """What it takes from the namespace's quota (limits)."""
        return Budget(cores(self.cpu_limit), gib(self.memory), 1)


OPERATOR_POD = SystemPod("100m", "500m", "256Mi")  # the dask-kubernetes operator (kopf)
CULLER_POD = SystemPod("50m", "200m", "128Mi")  # JupyterLab's idle culler (a CronJob run)


def cores(quantity: str) -> float:
    """A CPU quantity in cores (500m -> 0.5)."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def workers_per_node(dask: Any, pool: Any, ebs_csi: bool) -> int:
    """How many Dask workers one node of the worker pool holds (by requests, pod slots and local disk)."""
    cap = node_capacity(pool, ebs_csi)
    request = cores(dask.workers.cpu_request) if dask.workers.cpu_request else dask.workers.cores
    by_disk = int(cap.free_ephemeral_gib // gib(dask.workers.spill))
    return max(0, min(int(cap.free_cores // request), int(cap.free_gib // gib(dask.workers.memory)), cap.free_pods,
                      by_disk))


def replacement_headroom(workers: int) -> int:
    """Workers' worth of room for replacements: a terminating pod counts against the quota until it is
    gone (a spot drain gives it up to terminationGraceSeconds) while its replacement starts."""
    return max(1, math.ceil(workers / 10))


def dask_budget(dask: Any, local_delegates: bool = False) -> Budget:
    """Scheduler, operator, JupyterLab (and its culler), the most workers and room to replace some, by limits; the GPU
    cluster's scheduler and GPU workers likewise.

    With federation to this cluster itself (a self target) a worker that stays here is two pods of the namespace:
    Admiralty's proxy pod, which keeps the worker's requests and limits, and its delegate
    (pkg/webhooks/proxypod/proxypod.go, pkg/controllers/chaperon/controller.go @v0.17.0): both count."""
    budget = Budget(cores(dask.scheduler_cpu), gib(dask.scheduler_memory), 1) + OPERATOR_POD.budget()
    if dask.jupyter.enabled:
        budget += Budget(cores(dask.jupyter.cpu), gib(dask.jupyter.memory), 1)
        if dask.jupyter.idle_minutes:
            budget += CULLER_POD.budget()
    worker = Budget(float(dask.workers.cores), gib(dask.workers.memory), 1)
    most = dask.workers.maximum
    budget += worker.times((most + replacement_headroom(most)) * (2 if local_delegates else 1))
    g = dask.gpu_workers
    if g is not None:  # the GPU cluster: its scheduler, and its workers with one GPU each
        budget += Budget(cores(dask.scheduler_cpu), gib(dask.scheduler_memory), 1)
        budget += Budget(float(g.cores), gib(g.memory), 1, 1).times(g.maximum + replacement_headroom(g.maximum))
    return budget


def has_local_delegates(values: Any) -> bool:
    """Whether the stack's federated Dask workers may land here through a self target (stack config or its values)."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k, None)
    dask, fed = get("dask"), get("federation")
    if dask is None or fed is None or not dask.workers.federated:
        return False
    return any(t.kind == "self" and t.namespace in (None, dask.namespace) for t in fed.targets)


def arkouda_budget(ak: Any) -> Budget:
    """Every locale (the server is locale 0), each with its own threads and memory."""
    return Budget(float(ak.threads_per_locale), gib(ak.memory_per_locale), 1).times(ak.locales)
