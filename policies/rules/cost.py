"""Cost rules: hourly budget, instance-type allow/deny lists, instance counts (spot pools: policies/rules/spot.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from infra.config.policy_file import DEFAULT_MAX_HOURLY_USD
from infra.pricing.compute import ASG, EC2_FLEET, INSTANCE, NODE_GROUP, SPOT_FLEET, SPOT_REQUEST, fleet_counts
from infra.pricing.cost import estimate
from infra.pricing.tables import PriceTable, PricingError, load_prices
from policies.rules.aws_common import compute_view, types_launched
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
            top = "; ".join(f"{i.type} {i.name!r} ${getattr(i, scale):.2f}/h" for i in
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


MAX_REASONS = 3


def type_verdict(itype: str, allowed: list[str], denied: list[str]) -> str | None:
    """None if the type is permitted, else the reason."""
    explicit = [p for p in allowed if p != "*"]
    if not glob_any(itype, allowed):
        return f"{itype} is not in allowedInstanceTypes ({', '.join(allowed)})"
    if glob_any(itype, denied) and not glob_any(itype, explicit):
        return f"{itype} matches deniedInstanceTypes ({', '.join(p for p in denied if glob_any(itype, [p]))})"
    return None


def instance_types_of(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Instance types a resource would launch, judged on its own props: named types, and every type its
    instanceRequirements may pick (infra/pricing/compute.py); types of launch templates it names are judged on the
    templates, which launch-templates-in-stack keeps in the stack."""
    return types_launched(resource_type, props)


def validate_types(args: ResourceValidationArgs, report: Report) -> None:
    """Every instance type a resource launches must be allowed (many refused candidates: one message)."""
    cfg = config(args, TYPES_SCHEMA)
    allowed, denied = list(cfg["allowedInstanceTypes"]), list(cfg["deniedInstanceTypes"])
    reasons = [r for t in instance_types_of(args.resource_type, args.props) if (r := type_verdict(t, allowed, denied))]
    if len(reasons) > MAX_REASONS:
        more = (f"and {len(reasons) - MAX_REASONS} more types its instanceRequirements may pick; narrow "
                "allowedInstanceTypes, vcpuCount or memoryMib there")
        reasons = ["; ".join([*reasons[:MAX_REASONS], more])]
    for reason in reasons:
        report(f"{label(args)}: {reason}")


INSTANCE_TYPES = resource_policy(
    "instance-types",
    "Instance types (named, or any an instanceRequirements block may pick) must match allowedInstanceTypes and not "
    "deniedInstanceTypes (unless explicitly allowed).",
    validate_types, EnforcementLevel.MANDATORY, Severity.HIGH, TYPES_SCHEMA,
    "Pick another type or list it explicitly in allowedInstanceTypes in the stack's policy config.",
)

# ----------------------------------------------------------------------------- instance counts

LIMITS_SCHEMA = schema(
    maxInstancesPerGroup={"type": "integer", "default": 100, "description": "Highest maxSize of one node group."},
    maxInstancesPerStack={"type": "integer", "default": 300, "description": "Highest number of instances the stack can reach."},
)


def max_instances(res: PolicyResource, prices: PriceTable) -> int:
    """How many instances a resource can run at once (0 for resources that launch none)."""
    t = res.resource_type
    if t == ASG:
        return int(get(res.props, "maxSize") or 0)
    if t == NODE_GROUP:
        return int(get(res.props, "scalingConfig", "maxSize") or 0)
    if t in (INSTANCE, SPOT_REQUEST):
        return 1
    if t in (SPOT_FLEET, EC2_FLEET):
        compute = compute_view(t, res.props, res.name, res.property_dependencies)
        try:
            return sum(fleet_counts(compute, types_launched(t, res.props, prices, res.property_dependencies), prices))
        except PricingError:
            return sum(fleet_counts(compute, [], prices))
    return 0


def validate_limits(args: StackValidationArgs, report: Report) -> None:
    """Per-group and whole-stack instance ceilings (groups, node groups, fleets, instances, spot requests)."""
    cfg = config(args, LIMITS_SCHEMA)
    per_group, per_stack = int(cfg["maxInstancesPerGroup"]), int(cfg["maxInstancesPerStack"])
    prices, total = load_prices(stack_region(args)), 0
    for res in args.resources:
        size = max_instances(res, prices)
        total += size
        if size > per_group and res.resource_type not in (INSTANCE, SPOT_REQUEST):
            report(f"{label(res)} can grow to {size} instances, above maxInstancesPerGroup {per_group}", res.urn)
    if total > per_stack:
        report(f"the stack can reach {total} instances, above maxInstancesPerStack {per_stack}")


INSTANCE_LIMITS = stack_policy(
    "instance-limits",
    "No node group, EKS node group or fleet may exceed maxInstancesPerGroup and the stack may not exceed "
    "maxInstancesPerStack instances.",
    validate_limits, EnforcementLevel.MANDATORY, Severity.MEDIUM, LIMITS_SCHEMA,
    "Lower node-group maxSize or raise the limits in the stack's policy config.",
)

__all__ = ["BUDGET", "INSTANCE_LIMITS", "INSTANCE_TYPES"]
