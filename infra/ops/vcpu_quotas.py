"""Which EC2 vCPU quota a stack's node groups count against, and how many vCPUs they can reach."""

from __future__ import annotations

from typing import Optional

from infra.config.stack import StackConfig
from infra.pricing.cost import split_on_demand
from infra.pricing.tables import PriceTable

# EC2 vCPU quotas by instance family (first letters of the type): (on-demand, spot) quota codes.
QUOTAS = {
    "standard": ("L-1216C47A", "L-34B43A08"),  # A, C, D, H, I, M, R, T, Z
    "g": ("L-DB2E81BA", "L-3819A6DF"),  # G and VT
    "p": ("L-417A185B", "L-7212CCBC"),
    "x": ("L-7295265B", "L-E3A00192"),
}
STANDARD_FAMILIES = tuple("acdhimrtz")


def quota_family(instance_type: str) -> Optional[str]:
    """Which vCPU quota an instance type counts against (None: not checked here)."""
    family = instance_type.split(".")[0]
    if family.startswith("vt") or family[0] == "g":
        return "g"
    if family[0] in ("p", "x"):
        return family[0]
    if family[0] in STANDARD_FAMILIES:
        return "standard"
    return None


def max_vcpus(cfg: StackConfig, prices: PriceTable) -> dict[tuple[str, str], int]:
    """vCPUs the stack can reach, by (quota family, on-demand|spot), every group at maxSize."""
    totals: dict[tuple[str, str], int] = {}
    for g in cfg.node_groups:
        vcpu = max(prices.instance(t).vcpu for t in g.instance_types)
        family = quota_family(g.instance_types[0]) or "other"
        n_od, n_spot = split_on_demand(g.max_size, g.on_demand_base, 0 if g.spot else 100)
        totals[(family, "on-demand")] = totals.get((family, "on-demand"), 0) + n_od * vcpu
        totals[(family, "spot")] = totals.get((family, "spot"), 0) + n_spot * vcpu
    return totals
