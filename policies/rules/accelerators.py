"""Accelerated pools: GPU types and EFA node groups only in the instance families the policy config allows."""

from __future__ import annotations

import json
from typing import Any, Optional

from pulumi_policy import EnforcementLevel, PolicyResource, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from infra.config.accelerators import EFA_RESOURCE
from infra.pricing.compute import ASG, INSTANCE, LAUNCH_TEMPLATE
from infra.pricing.tables import PriceTable, PricingError, load_prices
from policies.rules.aws_common import Templates
from policies.rules.common import Report, config, get, glob_any, is_list, label, schema, stack_policy
from policies.rules.cost import instance_types_of, stack_region

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_TEMPLATE_RESOURCES = "k8s.io/cluster-autoscaler/node-template/resources/"
EFA_TAG = NODE_TEMPLATE_RESOURCES + EFA_RESOURCE  # what components/nodegroup.py tags an EFA pool with
EFA_INTERFACES = ("efa", "efa-only")
CONFIG_FILE = "policies/config/<stack>.json"
MAX_SHOWN = 3  # GPU types named one by one; the rest in one message
# Resources that launch from a launch template, and where they name it: (id path, name path).
LT_USERS = (ASG, INSTANCE, NODE_GROUP)
LT_REFS = ((("mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification", "launchTemplateId"),
            ("mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification", "launchTemplateName")),
           (("launchTemplate", "id"), ("launchTemplate", "name")))

SCHEMA = schema(
    allowedGpuFamilies={
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Glob patterns of instance families (the part before the first '.', e.g. g5, g6*) whose GPU "
                       "types may be launched; a type with GPUs in the price table is refused unless its family "
                       "matches.",
    },
    allowedEfaFamilies={
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Glob patterns of instance families a node group with EFA network interfaces may launch; "
                       "the group is refused unless every instance type's family matches.",
    },
)


def read(props: Any, *path: str | int) -> Any:
    """get(props, *path), or None when the value is unknown during preview."""
    try:
        return get(props, *path)
    except UnknownValueError:
        return None


def family(itype: str) -> str:
    """An instance type's family: the part before the first '.' (g5 of g5.xlarge)."""
    return itype.split(".")[0]


def gpus(itype: str, prices: PriceTable) -> int:
    """GPUs of a type per the price table; 0 for a type it lacks (max-hourly-cost refuses those)."""
    try:
        return prices.instance(itype).gpus
    except PricingError:
        return 0


def how_to_allow(setting: str, allowed: list[str], itype: str) -> str:
    """`setting is [...]; add "fam" to setting in policies/config/<stack>.json`."""
    return f"{setting} is {json.dumps(allowed)}; add {json.dumps(family(itype))} to {setting} in {CONFIG_FILE}"


def has_efa(lt: PolicyResource) -> bool:
    """A launch template with at least one EFA network interface."""
    ifaces = get(lt.props, "networkInterfaces")
    return any(get(i, "interfaceType") in EFA_INTERFACES for i in (ifaces if is_list(ifaces) else []))


def efa_tag(res: PolicyResource) -> Optional[str]:
    """The EFA node-template tag's value of an Auto Scaling group (tags unknown during preview are skipped)."""
    tags = read(res.props, "tags")
    for i in range(len(tags) if is_list(tags) else 0):
        if read(tags, i, "key") == EFA_TAG:
            return str(read(tags, i, "value"))
    return None


def linked_templates(res: PolicyResource, templates: Templates) -> list[PolicyResource]:
    """The templates a group, instance or EKS node group launches from (by dependency, id or name), in stack order."""
    deps = res.property_dependencies or {}
    found = templates.at_urns(d.urn for key in ("mixedInstancesPolicy", "launchTemplate") for d in deps.get(key, ()))
    for ids, names in LT_REFS:
        found |= templates.named("id", read(res.props, *ids)) | templates.named("name", read(res.props, *names))
    return templates.in_order(found)


def efa_types(res: PolicyResource, templates: Templates) -> tuple[Optional[str], list[str]]:
    """(why the resource is an EFA pool, or None; the instance types it launches)."""
    own = instance_types_of(res.resource_type, res.props)
    if res.resource_type == LAUNCH_TEMPLATE:
        return ("it has EFA network interfaces" if has_efa(res) else None), own
    if res.resource_type not in LT_USERS:
        return None, own
    linked = linked_templates(res, templates)
    efa = [lt for lt in linked if has_efa(lt)]
    tag = efa_tag(res)
    why = (f"launch template {label(efa[0])} has EFA network interfaces" if efa
           else f"tag {EFA_TAG} = {tag}" if tag is not None else None)
    # without types of its own it launches its templates' types; an EFA template's are reported on the template
    return why, own or [t for lt in linked if not has_efa(lt) for t in instance_types_of(LAUNCH_TEMPLATE, lt.props)]


def validate(args: StackValidationArgs, report: Report) -> None:
    """Every GPU type and every EFA pool's types must be in an allowed family; reported on the resource."""
    cfg = config(args, SCHEMA)
    gpu_ok, efa_ok = list(cfg["allowedGpuFamilies"]), list(cfg["allowedEfaFamilies"])
    prices = load_prices(stack_region(args))
    templates = Templates(args.resources)
    for res in args.resources:
        why, types = efa_types(res, templates)
        refused = [t for t in dict.fromkeys(instance_types_of(res.resource_type, res.props))
                   if gpus(t, prices) and not glob_any(family(t), gpu_ok)]
        for itype in refused[:MAX_SHOWN]:
            n = gpus(itype, prices)
            report(f"{label(res)}: {itype} (family {family(itype)}, {n} GPU{'s' if n > 1 else ''}) is a GPU type "
                   f"and {how_to_allow('allowedGpuFamilies', gpu_ok, itype)}", res.urn)
        if len(refused) > MAX_SHOWN:
            report(f"{label(res)}: and {len(refused) - MAX_SHOWN} more GPU types its instanceRequirements may pick "
                   f"({', '.join(sorted({family(t) for t in refused}))}); set acceleratorCount.max 0 there or allow "
                   "the families", res.urn)
        for itype in dict.fromkeys(types if why else []):
            if not glob_any(family(itype), efa_ok):
                report(f"{label(res)}: {itype} (family {family(itype)}) is in an EFA pool ({why}) "
                       f"and {how_to_allow('allowedEfaFamilies', efa_ok, itype)}", res.urn)


POLICY = stack_policy(
    "accelerated-pools",
    "GPU and EFA pools are allowed only when the policy config allows their families: a type with GPUs needs its "
    "family in allowedGpuFamilies, a node group with EFA network interfaces every type's family in allowedEfaFamilies.",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, SCHEMA,
    "Add the family (e.g. g5) to allowedGpuFamilies or allowedEfaFamilies in the stack's policy config, or pick "
    "types without GPUs and launch templates without EFA interfaces.",
)

__all__ = ["POLICY"]
