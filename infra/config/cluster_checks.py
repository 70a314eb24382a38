"""Checks across the cluster, its node pools and the network: what EKS, EC2 and the VPC CNI would refuse.

Each section is valid on its own by the time these run; they return `ns:key.path: value ...` lines.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from infra.config.capacity import instance_facts
from infra.config.errors import key_path, render_value
from infra.config.messages import duplicate_names
from infra.config.network import NetworkConfig
from infra.config.placement import pool_zones

EKS_RESERVED_ADDRESSES = 16  # EKS user guide network-reqs: the cluster's subnets need "at least 16 IP addresses"
UNKNOWN_NODE_ADDRESSES = 15 * 50  # the most any type's default network card holds (15 ENIs x 50 addresses)


def cluster_problems(project: str, values: dict[str, Any]) -> list[str]:
    """Checks across cloudviper:cluster, cloudviper:nodeGroups and cloudviper:network."""
    problems = []
    cluster, groups = values.get("cluster"), values.get("nodeGroups") or []
    network = values.get("network") or NetworkConfig.model_validate({})
    if groups and cluster is None:
        problems.append(f"{project}:nodeGroups: node groups need a cluster; set {project}:cluster (see README)")
    if cluster is not None:
        if network.zone_count < 2:
            problems.append(f"{project}:network: the cluster needs subnets in at least two availability zones "
                            "(EKS refuses one); set azCount: 2 or name two zones in azs")
        if not any(g.role == "system" and g.min_size >= 1 for g in groups):
            problems.append(
                f"{project}:nodeGroups: the cluster needs a node group with role: system and minSize >= 1 "
                "to run its add-ons (CoreDNS, Cluster Autoscaler, Node Termination Handler)"
            )
        if ipaddress.ip_network(cluster.service_cidr).overlaps(ipaddress.ip_network(network.cidr)):
            problems.append(
                f"{key_path(project, 'cluster', ('serviceCidr',))}: {render_value(cluster.service_cidr)} overlaps "
                f"the VPC range {network.cidr}; pick a range outside it"
            )
    problems += duplicate_names(project, "nodeGroups", (), [g.name for g in groups])
    for i, g in enumerate(groups):
        problems += _capacity_type_problems(project, i, g)
        problems += _zone_problems(project, i, g, network)
    if cluster is not None:
        problems += _priority_problems(project, cluster, groups)
        problems += _address_problems(project, groups, network)
    return problems


def _capacity_type_problems(project: str, i: int, g: Any) -> list[str]:
    """A pool launches the capacity it declares: a spot pool some spot nodes, a worker pool spot above its base.

    The Auto Scaling group launches its first onDemandBase instances on-demand and, on a spot pool, the rest as spot
    (onDemandPercentageAboveBaseCapacity 0), so a base at maxSize leaves no node to be spot; the policy pack's
    spot-workers rule refuses a worker pool that is not spot above its base.
    """
    base = key_path(project, "nodeGroups", (i, "onDemandBase"))
    if g.on_demand_base > g.max_size:
        return [f"{base}: {g.on_demand_base} is larger than maxSize ({g.max_size})"]
    if g.spot and g.on_demand_base >= g.max_size:
        return [f"{base}: {g.on_demand_base} is not below maxSize ({g.max_size}), so pool {g.name} is declared spot "
                "but every node it can launch is on-demand (the group fills its on-demand base first); allowed: "
                f"0 to {g.max_size - 1} (spot above it), or spot: false" + (" with role: compute" if g.role == "worker" else "")]
    if g.role == "worker" and not g.spot:
        return [f"{key_path(project, 'nodeGroups', (i, 'spot'))}: false on pool {g.name}, a worker pool: worker pools "
                "are spot above their onDemandBase (the policy pack's spot-workers rule refuses an on-demand one); "
                "allowed: spot: true, or role: compute for an on-demand pool"]
    return []


def _zone_problems(project: str, i: int, g: Any, network: NetworkConfig) -> list[str]:
    """A pool's zones are zones of the VPC, named; per-zone groups get at least one node each."""
    problems = []
    if g.zones is not None:
        path = key_path(project, "nodeGroups", (i, "zones"))
        if network.azs is None:
            problems.append(f"{path}: {render_value(g.zones)} needs the VPC's zones by name; set "
                            f"{project}:network.azs (e.g. [us-east-1a, us-east-1b]) instead of azCount")
        else:
            unknown = [z for z in g.zones if z not in network.azs]
            if unknown or len(set(g.zones)) != len(g.zones):
                problems.append(f"{path}: {render_value(g.zones)} must name distinct zones of the VPC; "
                                f"network.azs: {', '.join(network.azs)}")
    zones = len(pool_zones(g, network))
    if g.per_zone and zones and g.max_size < zones:
        problems.append(f"{key_path(project, 'nodeGroups', (i, 'maxSize'))}: {g.max_size} cannot give each of the "
                        f"{zones} zones of a perZone pool a node; raise maxSize or name fewer zones")
    return problems


def _priority_problems(project: str, cluster: Any, groups: list[Any]) -> list[str]:
    names = {g.name for g in groups}
    return [f"{key_path(project, 'cluster', ('autoscaler', 'priorities', p))}: {render_value(pool)} is not a node "
            f"group; groups: {', '.join(sorted(names)) or 'none'}"
            for p, pools in cluster.autoscaler.priorities.items() for pool in pools if pool not in names]


def _address_problems(project: str, groups: list[Any], network: NetworkConfig) -> list[str]:
    """Each zone's private subnet must hold the addresses the VPC CNI takes at maxSize.

    The VPC CNI gives every pod an address from the node's subnet and keeps a whole spare ENI of
    addresses (WARM_ENI_TARGET=1), so a full node holds every address of every ENI it can attach.
    A pool that is one group over several zones may end up in one zone (AZRebalance is suspended),
    and EKS places its own network interfaces in these subnets too.
    """
    net = ipaddress.IPv4Network(network.cidr)
    usable = 2 ** (32 - (net.prefixlen + 3)) - 5 - EKS_RESERVED_ADDRESSES  # 1/8 of the VPC; AWS keeps 5
    demand = [0] * network.zone_count
    for g in groups:
        per_node = max(f.max_enis * f.ipv4_per_eni if (f := instance_facts().get(t)) else UNKNOWN_NODE_ADDRESSES
                       for t in g.instance_types)
        zones = pool_zones(g, network)
        for z in zones:
            nodes = math.ceil(g.max_size / len(zones)) if g.per_zone else g.max_size
            demand[z] += nodes * per_node
    worst = max(demand, default=0)
    if worst > usable:
        return [f"{key_path(project, 'network', ('cidr',))}: {render_value(network.cidr)} gives each zone's private "
                f"subnet {usable} addresses, but at maxSize the node groups can claim {worst} in one zone (the VPC "
                "CNI holds every address of each ENI a node attaches); use a larger cidr (e.g. a /16)"]
    return []
