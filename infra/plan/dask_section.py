"""The plan's Dask section: the adaptive range, what it adds up to at its maximum, and what its nodes cost."""

from __future__ import annotations

import math
from typing import Any, Optional

from infra.config.capacity import gib
from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.placement import dask_gpu_pool, dask_worker_pool
from infra.config.quotas import workers_per_node
from infra.plan.cost_section import stack_estimate
from infra.plan.report import Plan, Section
from infra.pricing.tables import PricingError


def _worker_nodes_cost(plan: Plan, pool: str) -> Optional[tuple[float, float]]:
    """$/hour of the worker pool's Auto Scaling groups at idle and at maximum."""
    try:
        items = [i for i in stack_estimate(plan).items
                 if i.type == "aws:autoscaling/group:Group" and i.name.startswith(f"pool-{pool}-")]
    except PricingError:
        return None
    return round(sum(i.idle for i in items), 4), round(sum(i.max for i in items), 4)


def dask_section(plan: Plan) -> Optional[Section]:
    """Workers between minimum and maximum, threads / memory / spill at maximum, the worker nodes' cost."""
    stack = plan.stack
    try:
        cfg = parse_stack_config(stack.project, stack.stack, stack.values)
    except ConfigError:
        return None  # the program already failed with the config error
    if cfg.dask is None:
        return None
    dask, groups = cfg.dask, cfg.node_groups
    pool = dask_worker_pool(dask, groups)
    if pool is None:
        return None
    w = dask.workers
    per_node = workers_per_node(dask, pool, cfg.needs_ebs_csi)
    nodes = math.ceil(w.maximum / per_node) if per_node else 0
    at_max = {"threads": w.maximum * w.cores, "memoryGiB": round(w.maximum * gib(w.memory), 1),
              "spillGiB": round(w.maximum * gib(w.spill), 1)}
    data: dict[str, Any] = {
        "minimum": w.minimum, "maximum": w.maximum, "pool": pool.name, "workersPerNode": per_node,
        "nodesAtMaximum": nodes, "atMaximum": at_max, "image": dask.image,
    }
    lines = [
        f"workers: adaptive {w.minimum}..{w.maximum} (DaskAutoscaler follows the scheduler's adaptive target), "
        f"{w.cores} threads / {w.memory} / {w.spill} spill each",
        f"pool {pool.name}: {per_node} worker(s) per node, {nodes} node(s) at maximum (maxSize {pool.max_size}"
        + (f"; the cost's max counts all {pool.max_size}" if pool.max_size > nodes else "") + ")",
        f"at maximum: {at_max['threads']} threads, {at_max['memoryGiB']:g} GiB memory, {at_max['spillGiB']:g} GiB spill",
        f"image: {dask.image}",
    ]
    cost = _worker_nodes_cost(plan, pool.name)
    if cost is not None:
        data["workerNodesPerHour"] = {"idle": cost[0], "max": cost[1]}
        lines.append(f"worker nodes: ${cost[0]:.4f}/hour idle, ${cost[1]:.4f}/hour at maximum")
    gpu_pool, g = dask_gpu_pool(dask, groups), dask.gpu_workers
    if g is not None and gpu_pool is not None:
        data["gpuWorkers"] = {"minimum": g.minimum, "maximum": g.maximum, "pool": gpu_pool.name, "image": g.image,
                              "scheduler": "dask-gpu"}
        lines.append(f"GPU workers (cluster dask-gpu): adaptive {g.minimum}..{g.maximum} dask-cuda workers, 1 GPU / "
                     f"{g.cores} cores / {g.memory} each, on pool {gpu_pool.name} ({g.image})")
        gpu_cost = _worker_nodes_cost(plan, gpu_pool.name)
        if gpu_cost is not None:
            data["gpuWorkerNodesPerHour"] = {"idle": gpu_cost[0], "max": gpu_cost[1]}
            lines.append(f"GPU nodes: ${gpu_cost[0]:.4f}/hour idle, ${gpu_cost[1]:.4f}/hour at maximum")
    return Section("Dask", lines, data)
