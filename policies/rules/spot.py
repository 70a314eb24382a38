"""Spot worker pools: a worker pool is spot above its on-demand base, and that base is a small share of the pool.

An Auto Scaling group launches its first onDemandBaseCapacity instances on-demand and then
onDemandPercentageAboveBaseCapacity percent of the rest (botocore autoscaling service-2.json, InstancesDistribution).
A pool whose base reaches its maxSize is all on-demand even at 0% above the base, so the share is judged at maxSize.
An EKS managed node group is spot only with capacityType SPOT.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity

from infra.pricing.compute import ASG, NODE_GROUP
from infra.pricing.cost import split_on_demand
from policies.rules.common import Report, config, get, label, resource_policy, schema, tags_of

ROLE_TAG = "cloudviper.io/pool-role"
NODE_TEMPLATE_LABEL = "k8s.io/cluster-autoscaler/node-template/label/"

SPOT_SCHEMA = schema(
    workerLabels={
        "type": "object", "default": {ROLE_TAG: "worker", "k8s.dask.org/node-purpose": "worker"},
        "description": "Tags or node labels (label=value) that mark a node group as a worker pool.",
    },
    maxOnDemandShare={
        "type": "number", "minimum": 0, "default": 0.5,
        "description": "Largest share (0 to 1) of a worker pool's nodes at maxSize that may be on-demand (its "
                       "onDemandBaseCapacity over maxSize); 1 allows an all on-demand base.",
    },
)


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def is_worker_pool(props: Mapping[str, Any], markers: Mapping[str, str]) -> bool:
    """A group is a worker pool if a marker appears as a tag or as a node-template label tag (or a node group's
    Kubernetes label)."""
    tags = tags_of(props)
    labels = get(props, "labels") if isinstance(get(props, "labels"), Mapping) else {}
    return any(tags.get(k) == v or tags.get(NODE_TEMPLATE_LABEL + k) == v or labels.get(k) == v
               for k, v in markers.items())


def group_problems(props: Mapping[str, Any], max_share: float) -> list[str]:
    """Why an Auto Scaling worker pool is not spot enough."""
    if get(props, "mixedInstancesPolicy") is None:
        return ["is a worker pool without a mixed instances policy, so every node is on-demand"]
    dist = get(props, "mixedInstancesPolicy", "instancesDistribution")
    pct = get(dist, "onDemandPercentageAboveBaseCapacity") if dist else None
    if pct is None or float(pct) != 0:
        shown = "unset (AWS default 100)" if pct is None else f"{pct}"
        return [f"is a worker pool with onDemandPercentageAboveBaseCapacity {shown}; it must be 0 (all spot above "
                "the on-demand base)"]
    size, base = int(_number(get(props, "maxSize"))), int(_number(get(dist, "onDemandBaseCapacity")))
    on_demand, _ = split_on_demand(size, base, 0)
    if size and on_demand / size > max_share:
        return [f"is a worker pool with onDemandBaseCapacity {base} of maxSize {size}: {on_demand} of {size} nodes "
                f"({on_demand / size:.0%}) on-demand at maximum, above maxOnDemandShare {max_share:g}"]
    return []


def validate_spot(args: ResourceValidationArgs, report: Report) -> None:
    """Worker pools must launch only spot instances above a small on-demand base."""
    cfg = config(args, SPOT_SCHEMA)
    if args.resource_type not in (ASG, NODE_GROUP) or not is_worker_pool(args.props, cfg["workerLabels"]):
        return
    if args.resource_type == NODE_GROUP:
        capacity = get(args.props, "capacityType") or "ON_DEMAND (the default)"
        problems = [] if capacity == "SPOT" else [f"is a worker pool with capacityType {capacity}; it must be SPOT"]
    else:
        problems = group_problems(args.props, float(cfg["maxOnDemandShare"]))
    for problem in problems:
        report(f"{label(args)} {problem}")


SPOT = resource_policy(
    "spot-workers",
    "Node groups marked as worker pools must be all spot above their on-demand base capacity, and that base at most "
    "maxOnDemandShare of maxSize.",
    validate_spot, EnforcementLevel.MANDATORY, Severity.MEDIUM, SPOT_SCHEMA,
    "Set the pool's spot settings (onDemandPercentageAboveBaseCapacity 0, a small onDemandBase) or mark it as a "
    "system pool.",
)
