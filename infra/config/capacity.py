"""What one node of a pool offers to pods, for the config's fit checks."""

from __future__ import annotations

from typing import Any

from infra.pricing.tables import load_prices


def gib(quantity: str) -> float:
    """A Kubernetes quantity in GiB (memory) or cores (cpu: m suffix)."""
    units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "Pi": 2**20, "k": 1e3 / 2**30, "M": 1e6 / 2**30,
             "G": 1e9 / 2**30, "T": 1e12 / 2**30, "P": 1e15 / 2**30, "m": 1e-3}
    for suffix in sorted(units, key=len, reverse=True):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * units[suffix]
    return float(quantity) / 2**30 if float(quantity) > 4096 else float(quantity)


def node_allocatable(group: Any) -> tuple[float, float]:
    """(cores, GiB) a pod can request on one node of the group, after kubelet and system reserves."""
    spec = min((load_prices().instance(t) for t in group.instance_types), key=lambda s: (s.vcpu, s.memory_gib))
    cores = spec.vcpu // 2 if group.disable_smt else spec.vcpu
    # EKS AL2023 reserves well under 0.1 core and ~10% of memory for kubelet and system daemons.
    return cores - 0.1, spec.memory_gib * 0.9 - 0.75
