"""Cost rules: hourly budget, spot worker pools, instance-type allow/deny lists, instance counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from infra.config.policy_file import DEFAULT_MAX_HOURLY_USD
from infra.pricing.cost import ASG, INSTANCE, LAUNCH_TEMPLATE, estimate
from infra.pricing.tables import PricingError, load_prices
from policies.rules.common import (
    AWS_PROVIDER,
    Report,
    config,
    get,
    glob_any,
    label,
    resource_policy,
    schema,
    stack_policy,
    tags_of,
    view,
)

# ----------------------------------------------------------------------------- budget

BUDGET_SCHEMA = schema(
    maxHourlyUsd={
        "type": "number", "default": DEFAULT_MAX_HOURLY_USD,
        "description": "Highest estimated $/hour of the whole stack at maximum scale.",
    },
    maxDayOneHourlyUsd={
        "type": ["number", "null"], "default": None,
        "description": "Highest estimated $/hour right after `pulumi up` (the nodes the stack's own pods need); "
                       "null: no cap.",
    },
    maxIdleHourlyUsd={
        "type": ["number", "null"], "default": None,
        "description": "Highest estimated $/hour with every pool at its minimum; null: no cap.",
    },
)
# (config key, cost scale, what the scale means): each cap is checked on its own
CAPS = (("maxIdleHourlyUsd", "idle", "at idle"), ("maxDayOneHourlyUsd", "day_one", "on day one"),
        ("maxHourlyUsd", "max", "at maximum scale"))


def stack_region(args: StackValidationArgs) -> str:
    """Region of the stack's AWS provider (the price table to use)."""
    for res in args.resources:
        if res.resource_type == AWS_PROVIDER and isinstance(get(res.props, "region"), str):
            return str(get(res.props, "region"))
    return "us-east-1"


def validate_budget(args: StackValidationArgs, report: Report) -> None:
    """Price the stack at idle, day one and maximum scale; compare each with its cap."""
    cfg = config(args, BUDGET_SCHEMA)
    prices = load_prices(stack_region(args))
    try:
        est = estimate([view(r) for r in args.resources], prices)
    except PricingError as exc:
        report(f"cannot price the stack: {exc}; unknown prices are an error, not zero")
        return
    for key, scale, when in CAPS:
        if cfg.get(key) is None:
            continue
        limit, total = float(cfg[key]), est.total(scale)
        if total > limit:
            top = "; ".join(f"{i.name} ${getattr(i, scale):.2f}/h" for i in
                            sorted(est.items, key=lambda i: -getattr(i, scale))[:5])
            report(f"estimated ${total:.2f}/hour {when} (idle ${est.total('idle'):.2f}, day one "
                   f"${est.total('day_one'):.2f}, max ${est.total('max'):.2f}) exceeds {key} ${limit:.2f}; "
                   f"biggest items: {top}")


BUDGET = stack_policy(
    "max-hourly-cost",
    "The stack's estimated hourly cost must not exceed maxHourlyUsd at maximum scale, nor maxDayOneHourlyUsd and "
    "maxIdleHourlyUsd (when set) right after `pulumi up` and at idle.",
    validate_budget, EnforcementLevel.MANDATORY, Severity.HIGH, BUDGET_SCHEMA,
    "Lower node-group maxSize or minSize, fewer or smaller day-one pods, cheaper or spot instance types, or raise the "
    "cap in the stack's policy config.",
)

# ----------------------------------------------------------------------------- spot workers

ROLE_TAG = "cloudviper.io/pool-role"
NODE_TEMPLATE_LABEL = "k8s.io/cluster-autoscaler/node-template/label/"

SPOT_SCHEMA = schema(
    workerLabels={
        "type": "object", "default": {ROLE_TAG: "worker", "k8s.dask.org/node-purpose": "worker"},
        "description": "Tags or node labels (label=value) that mark a node group as a worker pool.",
    },
)


def is_worker_pool(props: Mapping[str, Any], markers: Mapping[str, str]) -> bool:
    """A group is a worker pool if a marker appears as a tag or as a node-template label tag."""
    tags = tags_of(props)
    return any(tags.get(k) == v or tags.get(NODE_TEMPLATE_LABEL + k) == v for k, v in markers.items())


def validate_spot(args: ResourceValidationArgs, report: Report) -> None:
    """Worker pools must launch only spot instances above their on-demand base."""
    if args.resource_type != ASG or not is_worker_pool(args.props, config(args, SPOT_SCHEMA)["workerLabels"]):
        return
    dist = get(args.props, "mixedInstancesPolicy", "instancesDistribution")
    if get(args.props, "mixedInstancesPolicy") is None:
        report(f"{label(args)} is a worker pool without a mixed instances policy, so every node is on-demand")
        return
    pct = get(dist, "onDemandPercentageAboveBaseCapacity") if dist else None
    if pct is None or float(pct) != 0:
        shown = "unset (AWS default 100)" if pct is None else f"{pct}"
        report(f"{label(args)} is a worker pool with onDemandPercentageAboveBaseCapacity {shown}; "
               "it must be 0 (all spot above the on-demand base)")


SPOT = resource_policy(
    "spot-workers",
    "Node groups marked as worker pools must be all spot above their on-demand base capacity.",
    validate_spot, EnforcementLevel.MANDATORY, Severity.MEDIUM, SPOT_SCHEMA,
    "Set the pool's spot settings (onDemandPercentageAboveBaseCapacity 0) or mark it as a system pool.",
)

# ----------------------------------------------------------------------------- instance types

TYPES_SCHEMA = schema(
    allowedInstanceTypes={
        "type": "array", "items": {"type": "string"}, "default": ["*"],
        "description": "Glob patterns of permitted types. A pattern other than `*` also overrides deniedInstanceTypes.",
    },
    deniedInstanceTypes={
        "type": "array", "items": {"type": "string"},
        "default": ["p4d.*", "p4de.*", "p5.*", "p5e.*", "p5en.*", "p6*", "u-*", "u7*", "trn*", "dl1.*", "x2iedn.*"],
        "description": "Glob patterns of types refused unless allowedInstanceTypes names them explicitly.",
    },
)


def type_verdict(itype: str, allowed: list[str], denied: list[str]) -> str | None:
    """None if the type is permitted, else the reason."""
    explicit = [p for p in allowed if p != "*"]
    if not glob_any(itype, allowed):
        return f"{itype} is not in allowedInstanceTypes ({', '.join(allowed)})"
    if glob_any(itype, denied) and not glob_any(itype, explicit):
        return f"{itype} matches deniedInstanceTypes ({', '.join(p for p in denied if glob_any(itype, [p]))})"
    return None


def instance_types_of(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Instance types a resource would launch."""
    if resource_type in (INSTANCE, LAUNCH_TEMPLATE):
        t = get(props, "instanceType")
        return [t] if isinstance(t, str) else []
    if resource_type == ASG:
        overrides = get(props, "mixedInstancesPolicy", "launchTemplate", "overrides") or []
        return [o["instanceType"] for o in overrides if isinstance(o, Mapping) and isinstance(o.get("instanceType"), str)]
    if resource_type == "aws:eks/nodeGroup:NodeGroup":
        return [t for t in (get(props, "instanceTypes") or []) if isinstance(t, str)]
    return []


def validate_types(args: ResourceValidationArgs, report: Report) -> None:
    """Every instance type a resource launches must be allowed."""
    cfg = config(args, TYPES_SCHEMA)
    for itype in instance_types_of(args.resource_type, args.props):
        reason = type_verdict(itype, list(cfg["allowedInstanceTypes"]), list(cfg["deniedInstanceTypes"]))
        if reason:
            report(f"{label(args)}: {reason}")


INSTANCE_TYPES = resource_policy(
    "instance-types",
    "Instance types must match allowedInstanceTypes and not deniedInstanceTypes (unless explicitly allowed).",
    validate_types, EnforcementLevel.MANDATORY, Severity.HIGH, TYPES_SCHEMA,
    "Pick another type or list it explicitly in allowedInstanceTypes in the stack's policy config.",
)

# ----------------------------------------------------------------------------- instance counts

LIMITS_SCHEMA = schema(
    maxInstancesPerGroup={"type": "integer", "default": 100, "description": "Highest maxSize of one node group."},
    maxInstancesPerStack={"type": "integer", "default": 300, "description": "Highest number of instances the stack can reach."},
)


def validate_limits(args: StackValidationArgs, report: Report) -> None:
    """Per-group and whole-stack instance ceilings."""
    cfg = config(args, LIMITS_SCHEMA)
    per_group, per_stack = int(cfg["maxInstancesPerGroup"]), int(cfg["maxInstancesPerStack"])
    total = 0
    for res in args.resources:
        if res.resource_type == ASG:
            size = int(get(res.props, "maxSize") or 0)
            total += size
            if size > per_group:
                report(f"{label(res)} can grow to {size} instances, above maxInstancesPerGroup {per_group}", res.urn)
        elif res.resource_type == INSTANCE:
            total += 1
    if total > per_stack:
        report(f"the stack can reach {total} instances, above maxInstancesPerStack {per_stack}")


INSTANCE_LIMITS = stack_policy(
    "instance-limits",
    "No node group may exceed maxInstancesPerGroup and the stack may not exceed maxInstancesPerStack instances.",
    validate_limits, EnforcementLevel.MANDATORY, Severity.MEDIUM, LIMITS_SCHEMA,
    "Lower node-group maxSize or raise the limits in the stack's policy config.",
)

__all__ = ["BUDGET", "INSTANCE_LIMITS", "INSTANCE_TYPES", "SPOT"]
