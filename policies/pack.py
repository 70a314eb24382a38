"""The policy pack's contents: every rule, in the order the README lists them."""

from __future__ import annotations

from pulumi_policy import Policy

from policies.rules import aws_security, cost, k8s_security, region, support, tags

PACK_NAME = "cloudviper"

POLICIES: list[Policy] = [
    region.POLICY,
    cost.BUDGET,
    cost.SPOT,
    cost.INSTANCE_TYPES,
    cost.INSTANCE_LIMITS,
    support.POLICY,
    tags.POLICY,
    *aws_security.POLICIES,
    *k8s_security.POLICIES,
]
