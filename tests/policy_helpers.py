"""Build the policy SDK's public argument classes the way the engine does, for rule tests."""

from __future__ import annotations

from typing import Any, Optional

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from infra.plan.policy_runner import rule_config

DEFAULT_TAGS = {"project": "cloudviper", "stack": "t", "owner": "o", "cost-center": "c"}


def provider(region: Optional[str] = "us-east-1", tags: Optional[dict[str, str]] = None) -> PolicyProviderResource:
    """An AWS provider as the engine shows it (object-typed config JSON-encoded)."""
    import json

    props: dict[str, Any] = {}
    if region:
        props["region"] = region
    if tags is not None:
        props["defaultTags"] = json.dumps({"tags": tags})
    return PolicyProviderResource("pulumi:providers:aws", props, "urn:pulumi:t::p::pulumi:providers:aws::aws", "aws")


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def check(policy: Policy, type_token: str, props: dict[str, Any], *, name: str = "r",
          prov: Optional[PolicyProviderResource] = None, config: Optional[dict[str, Any]] = None) -> list[str]:
    """Violations a resource rule reports for one resource."""
    _, cfg = rule_config(policy, config, "test")
    found: list[str] = []
    args = ResourceValidationArgs(type_token, unknown_checking_proxy(props), f"urn:pulumi:t::p::{type_token}::{name}",
                                  name, _opts(), prov if prov is not None else provider(tags=DEFAULT_TAGS), cfg)
    policy.validate(args, lambda msg, urn=None: found.append(msg))  # type: ignore[attr-defined]
    return found


def res(type_token: str, name: str, props: dict[str, Any], **prop_deps: list[PolicyResource]) -> PolicyResource:
    """A PolicyResource for stack rules."""
    return PolicyResource(type_token, unknown_checking_proxy(props), f"urn:pulumi:t::p::{type_token}::{name}", name,
                          _opts(), provider(tags=DEFAULT_TAGS), None, [d for ds in prop_deps.values() for d in ds],
                          dict(prop_deps))


def check_stack(policy: Policy, resources: list[PolicyResource], config: Optional[dict[str, Any]] = None) -> list[str]:
    """Violations a stack rule reports."""
    _, cfg = rule_config(policy, config, "test")
    found: list[str] = []
    policy.validate(StackValidationArgs(resources, cfg), lambda msg, urn=None: found.append(msg))  # type: ignore[attr-defined]
    return found
