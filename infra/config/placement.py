"""Where things run: which node group a workload uses, and which zones a pool uses (one rule for checks and assembly)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from infra.config.arkouda import ArkoudaConfig
from infra.config.dask import DaskConfig
from infra.config.network import NetworkConfig
from infra.config.pools import NodeGroupConfig


def _named_or_first(groups: Sequence[NodeGroupConfig], name: Optional[str], *roles: str) -> Optional[NodeGroupConfig]:
    if name:
        return next((g for g in groups if g.name == name), None)
    for role in roles:  # by default never a GPU pool: those are for what asks for GPUs (or is named)
        found = next((g for g in groups if g.role == role and not g.gpu), None)
        if found is not None:
            return found
    return None


def dask_scheduler_pool(dask: DaskConfig, groups: Sequence[NodeGroupConfig]) -> Optional[NodeGroupConfig]:
    """schedulerPool, else the first scheduler pool, else the first system pool."""
    return _named_or_first(groups, dask.scheduler_pool, "scheduler", "system")


def dask_worker_pool(dask: DaskConfig, groups: Sequence[NodeGroupConfig]) -> Optional[NodeGroupConfig]:
    """workers.pool, else the first worker pool."""
    return _named_or_first(groups, dask.workers.pool, "worker")


def dask_gpu_pool(dask: DaskConfig, groups: Sequence[NodeGroupConfig]) -> Optional[NodeGroupConfig]:
    """gpuWorkers.pool, else the first GPU pool (None without gpuWorkers)."""
    if dask.gpu_workers is None:
        return None
    if dask.gpu_workers.pool:
        return next((g for g in groups if g.name == dask.gpu_workers.pool), None)
    return next((g for g in groups if g.gpu), None)


def arkouda_pool(ak: ArkoudaConfig, groups: Sequence[NodeGroupConfig]) -> Optional[NodeGroupConfig]:
    """pool, else the first compute pool."""
    return _named_or_first(groups, ak.pool, "compute")


def pool_zones(pool: NodeGroupConfig, network: NetworkConfig) -> list[int]:
    """Indices (in network.azs order) of the zones a pool's nodes run in: its zones, else all of the VPC's."""
    if pool.zones is None:
        return list(range(network.zone_count))
    names = network.azs or []
    return [names.index(z) for z in pool.zones if z in names]


def zone_label(index: int) -> str:
    """How a zone is named in resource names (z0, z1, ...; the subnets and NAT gateways use the same)."""
    return f"z{index}"
