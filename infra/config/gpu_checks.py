"""Checks for the GPU Dask cluster: a GPU pool to run on, and a worker that fits one of its nodes (pure)."""

from __future__ import annotations

import math
from typing import Any

from infra.config.capacity import gib, node_capacity
from infra.config.errors import key_path, render_value
from infra.config.placement import dask_gpu_pool
from infra.config.quotas import cores


def gpu_worker_problems(project: str, dask: Any, groups: list[Any], ebs_csi: bool) -> list[str]:
    """gpuWorkers needs a GPU pool whose node holds at least one worker (CPU, memory, disk, a GPU) and enough of
    them for `maximum` (one worker per GPU at most)."""
    g = dask.gpu_workers
    if g is None:
        return []
    pool = dask_gpu_pool(dask, groups)
    where = key_path(project, "dask", ("gpuWorkers", "pool"))
    if pool is None:
        gpu_pools = [p.name for p in groups if p.gpu]
        return [f"{where}: {render_value(g.pool)} is not a GPU node group; pools with gpu: true: "
                f"{', '.join(gpu_pools) or 'none (add one)'}"]
    if not pool.gpu:
        return [f"{where}: pool {pool.name} has no GPUs (gpu: false); name a pool with gpu: true"]
    cap = node_capacity(pool, ebs_csi)
    request = cores(g.cpu_request) if g.cpu_request else float(g.cores)
    if request > g.cores:
        return [f"{key_path(project, 'dask', ('gpuWorkers', 'cpuRequest'))}: {render_value(g.cpu_request)} is more than "
                f"cores ({g.cores})"]
    per_node = min(cap.gpus, int(cap.free_cores // request), int(cap.free_gib // gib(g.memory)), cap.free_pods,
                   int(cap.free_ephemeral_gib // gib(g.spill)))
    if per_node == 0:
        return [f"{key_path(project, 'dask', ('gpuWorkers',))}: a worker ({request:g} cores, {g.memory}, {g.spill} spill, "
                f"1 GPU) does not fit a node of pool {pool.name} (about {cap.free_cores:g} cores, {cap.free_gib:.1f} GiB, "
                f"{cap.free_ephemeral_gib:.0f} GiB disk, {cap.gpus} GPU after the DaemonSets); lower cores/cpuRequest, "
                "memory or spill, or use bigger GPU types"]
    if g.maximum > per_node * pool.max_size:
        return [f"{key_path(project, 'dask', ('gpuWorkers', 'maximum'))}: {g.maximum} GPU workers need "
                f"{math.ceil(g.maximum / per_node)} nodes of pool {pool.name} ({per_node} per node), but its maxSize "
                f"is {pool.max_size}"]
    return []
