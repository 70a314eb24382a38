"""The policy pack's contents: every rule, in the order the README lists them."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from infra.config.policy_file import RuleSpec
from policies.rules import accelerators, aws_security, cost, k8s_security, region, resource_types, spot, support, tags

PACK_NAME = "cloudviper"

POLICIES: list[Policy] = [
    region.POLICY,
    cost.BUDGET,
    spot.SPOT,
    cost.INSTANCE_TYPES,
    accelerators.POLICY,
    cost.INSTANCE_LIMITS,
    support.POLICY,
    tags.POLICY,
    resource_types.POLICY,
    *aws_security.POLICIES,
    *k8s_security.POLICIES,
]


def spec_of(policy: Policy) -> RuleSpec:
    """What a rule accepts in a policy config (its default level and its settings' schemas)."""
    level = policy.enforcement_level.value if policy.enforcement_level else EnforcementLevel.ADVISORY.value
    return RuleSpec(level, policy.config_schema.properties if policy.config_schema else {})


def pack_specs() -> dict[str, RuleSpec]:
    """What each rule of the pack accepts in a policy config (policies/config/<stack>.json)."""
    return {p.name: spec_of(p) for p in POLICIES}
