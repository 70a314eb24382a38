"""Region: every AWS provider and every explicit region or zone must be in allowedRegions."""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity

from infra.config.policy_file import DEFAULT_ALLOWED_REGIONS
from policies.rules.common import AWS_PROVIDER, Report, config, get, label, resource_policy, schema

ZONE_NAME = re.compile(r"^([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2})[a-z]$")

SCHEMA = schema(
    allowedRegions={
        "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_ALLOWED_REGIONS),
        "description": "AWS regions resources may be created in.",
    },
)


def _zone_region(zone: str) -> str | None:
    m = ZONE_NAME.match(zone)
    return m.group(1) if m else None


def validate(args: ResourceValidationArgs, report: Report) -> None:
    """Check the provider's region and any region or availability zone a resource names."""
    allowed = list(config(args, SCHEMA)["allowedRegions"])
    shown = ", ".join(allowed)
    if args.resource_type == AWS_PROVIDER:
        region = get(args.props, "region")
        if not region:
            report(f"{label(args)} sets no region, so it would follow the caller's environment; "
                   f"set aws:region to one of: {shown}")
        elif region not in allowed:
            report(f"{label(args)} deploys to region {region}, which is not in allowedRegions ({shown})")
        return
    if not args.resource_type.startswith("aws:"):
        return
    region = get(args.props, "region")
    if isinstance(region, str) and region and region not in allowed:
        report(f"{label(args)} sets region {region}, which is not in allowedRegions ({shown})")
    zones = get(args.props, "availabilityZones") or []
    zone = get(args.props, "availabilityZone")
    for z in ([zone] if isinstance(zone, str) else []) + [z for z in zones if isinstance(z, str)]:
        zone_region = _zone_region(z)
        if zone_region is not None and zone_region not in allowed:
            report(f"{label(args)} uses availability zone {z} in region {zone_region}, "
                   f"which is not in allowedRegions ({shown})")


POLICY = resource_policy(
    "allowed-regions",
    "AWS providers, and any region or availability zone a resource sets, must be in allowedRegions.",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, SCHEMA,
    "Set aws:region (and any zone names) to an allowed region, or extend allowedRegions in the stack's policy config.",
)
