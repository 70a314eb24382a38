"""What compute a resource launches: instance types (named, from launch templates, or picked by attributes) and counts.

Shapes are pulumi_aws 7.51.1's (camelCase): Auto Scaling mixedInstancesPolicy.launchTemplate.overrides[] take an
instanceType, instanceRequirements or their own launchTemplateSpecification (botocore autoscaling service-2.json,
LaunchTemplateOverrides); EC2 Fleet and Spot Fleet launchTemplateConfigs[].overrides[] the same (ec2 service-2.json,
FleetLaunchTemplateOverridesRequest, LaunchTemplateOverrides); Spot Fleet launchSpecifications[] an instanceType.
Attribute-based selection (InstanceRequirements) may pick any type whose vCPUs and memory fit, unless
allowedInstanceTypes / excludedInstanceTypes (globs with `*`) narrow it; accelerators count unless acceleratorCount.max
is 0 and bare metal is excluded by default (autoscaling service-2.json, InstanceRequirements). We keep every type of the
price table that those filters allow: a superset of what AWS may launch, never a subset.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Protocol

from infra.pricing.tables import PriceTable

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SPOT_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
EC2_FLEET = "aws:ec2/fleet:Fleet"
# EKS CreateNodegroup: without instanceTypes or a launch template's type, "t3.medium is used, by default".
NODE_GROUP_DEFAULT_TYPE = "t3.medium"
NODE_GROUP_DEFAULT_DISK_GB = 20


class View(Protocol):
    """The part of infra.pricing.cost.ResourceView this module reads."""

    type: str
    name: str
    props: Mapping[str, Any]
    property_dependencies: Mapping[str, Sequence[Any]]


def get(props: Any, *path: str) -> Any:
    """props[a][b]... or None."""
    cur = props
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list value (anything else: none)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def number(value: Any, default: float = 0.0) -> float:
    """A float, or `default` when the value is missing or not a number."""
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _in_range(value: float, bounds: Any) -> bool:
    lo, hi = get(bounds, "min"), get(bounds, "max")
    return (lo is None or value >= number(lo)) and (hi is None or value <= number(hi))


def requirement_candidates(req: Mapping[str, Any], prices: PriceTable) -> list[str]:
    """Every priced type attribute-based selection could pick for these instanceRequirements (sorted)."""
    allowed = [str(p) for p in req.get("allowedInstanceTypes") or []]
    excluded = [str(p) for p in req.get("excludedInstanceTypes") or []]
    no_accel = get(req, "acceleratorCount", "max") is not None and number(get(req, "acceleratorCount", "max")) == 0
    metal = str(req.get("bareMetal") or "excluded")
    found = []
    for name, spec in prices.instances.items():
        if allowed and not any(fnmatch.fnmatchcase(name, p) for p in allowed):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in excluded):
            continue
        if not _in_range(spec.vcpu, req.get("vcpuCount")) or not _in_range(spec.memory_gib * 1024, req.get("memoryMib")):
            continue
        if (no_accel and spec.gpus) or (spec.bare_metal and metal == "excluded") or (not spec.bare_metal and metal == "required"):
            continue
        found.append(name)
    return sorted(found)


def template_types(template: Optional[Mapping[str, Any]], prices: PriceTable) -> list[str]:
    """Types a launch template launches: its instanceType, or what its instanceRequirements may pick."""
    if not template:
        return []
    if isinstance(template.get("instanceType"), str):
        return [template["instanceType"]]
    req = template.get("instanceRequirements")
    return requirement_candidates(req, prices) if isinstance(req, Mapping) else []


def linked_templates(res: View) -> list[Any]:
    """Launch templates among a resource's property dependencies (every key: main, per-override, fleet configs)."""
    found: dict[str, Any] = {}
    for deps in res.property_dependencies.values():
        for dep in deps:
            if dep.type == LAUNCH_TEMPLATE:
                found.setdefault(getattr(dep, "urn", dep.name), dep)
    return list(found.values())


def resolve(spec: Any, templates: Sequence[Any]) -> list[Any]:
    """The templates a launch template specification names (by id or name); all of them when it cannot tell."""
    if not isinstance(spec, Mapping):
        return list(templates)
    ids = {spec.get(k) for k in ("launchTemplateId", "id")} - {None}
    names = {spec.get(k) for k in ("launchTemplateName", "name")} - {None}
    named = [t for t in templates if get(t.props, "id") in ids or get(t.props, "name") in names]
    return named or list(templates)


def override_types(override: Mapping[str, Any], templates: Sequence[Any], prices: PriceTable) -> list[str]:
    """Types one override launches: its instanceType, its requirements' candidates, or its own template's types."""
    if isinstance(override.get("instanceType"), str):
        return [override["instanceType"]]
    if isinstance(override.get("instanceRequirements"), Mapping):
        return requirement_candidates(override["instanceRequirements"], prices)
    spec = override.get("launchTemplateSpecification")
    return [t for lt in resolve(spec, templates) for t in template_types(lt.props, prices)]


def group_types(asg: View, prices: PriceTable) -> list[str]:
    """Types an Auto Scaling group may launch (overrides, else its launch templates'), in first-seen order."""
    templates = linked_templates(asg)
    overrides = items(get(asg.props, "mixedInstancesPolicy", "launchTemplate", "overrides"))
    if overrides:
        types = [t for o in overrides for t in override_types(o, templates, prices)]
    else:
        types = [t for lt in templates for t in template_types(lt.props, prices)]
    return list(dict.fromkeys(types))


def fleet_types(res: View, prices: PriceTable) -> list[str]:
    """Types an EC2 Fleet or Spot Fleet may launch (launch specifications and launch template configs)."""
    templates = linked_templates(res)
    types = [str(s["instanceType"]) for s in items(res.props.get("launchSpecifications")) if s.get("instanceType")]
    for config in items(res.props.get("launchTemplateConfigs")):
        mine = resolve(config.get("launchTemplateSpecification"), templates)
        overrides = items(config.get("overrides"))
        if overrides:
            types += [t for o in overrides for t in override_types(o, mine, prices)]
        else:
            types += [t for lt in mine for t in template_types(lt.props, prices)]
    return list(dict.fromkeys(types))


def launched_types(res: View, prices: PriceTable) -> list[str]:
    """Every instance type a compute resource may launch (empty for other resources)."""
    if res.type == ASG:
        return group_types(res, prices)
    if res.type in (SPOT_FLEET, EC2_FLEET):
        return fleet_types(res, prices)
    if res.type == LAUNCH_TEMPLATE:
        return template_types(res.props, prices)
    from_templates = list(dict.fromkeys(t for lt in linked_templates(res) for t in template_types(lt.props, prices)))
    if res.type in (INSTANCE, SPOT_REQUEST):
        own = res.props.get("instanceType")
        return [own] if isinstance(own, str) else from_templates
    if res.type == NODE_GROUP:
        named = [str(t) for t in res.props.get("instanceTypes") or [] if isinstance(t, str)]
        default = [] if res.props.get("launchTemplate") is not None else [NODE_GROUP_DEFAULT_TYPE]
        return named or from_templates or default
    return []


def fleet_counts(res: View, types: Sequence[str], prices: PriceTable) -> tuple[int, int]:
    """(on-demand, spot) instances a fleet's target capacity can reach (fewest units per instance: most instances)."""
    if res.type == SPOT_FLEET:
        total = number(res.props.get("targetCapacity"))
        on_demand = number(res.props.get("onDemandTargetCapacity"))
        unit = res.props.get("targetCapacityUnitType")
    else:
        spec = res.props.get("targetCapacitySpecification") or {}
        total = number(get(spec, "totalTargetCapacity"))
        on_demand = number(get(spec, "onDemandTargetCapacity"))
        spot = number(get(spec, "spotTargetCapacity"))
        if str(get(spec, "defaultTargetCapacityType") or "") == "on-demand":
            on_demand = max(on_demand, total - spot)
        unit = get(spec, "targetCapacityUnitType")
    per_instance = _smallest_unit(res, types, prices, unit)
    od = math.ceil(min(on_demand, total) / per_instance)
    return od, max(0, math.ceil(total / per_instance) - od)


def _smallest_unit(res: View, types: Sequence[str], prices: PriceTable, unit: Any) -> float:
    """Fewest capacity units one instance can count for (weights, or vCPUs / MiB with a capacity unit type)."""
    if unit == "vcpu":
        return float(min((prices.instance(t).vcpu for t in types), default=1)) or 1.0
    if unit == "memory-mib":
        return min((prices.instance(t).memory_gib * 1024 for t in types), default=1.0) or 1.0
    weights = [number(o.get("weightedCapacity"), 1) for c in items(res.props.get("launchTemplateConfigs"))
               for o in items(c.get("overrides"))]
    weights += [number(s.get("weightedCapacity"), 1) for s in items(res.props.get("launchSpecifications"))]
    return min([w for w in weights if w > 0], default=1.0)
