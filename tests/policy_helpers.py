"""Build the policy SDK's public argument classes the way the engine does, for rule tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
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


@dataclass(frozen=True)
class Verdict:
    """One violation the whole pack reports: the rule, its level, the message and the resource it names."""

    rule: str
    level: str
    message: str
    urn: Optional[str]


def pack_verdicts(resources: list[PolicyResource], config: Optional[dict[str, Any]] = None) -> list[Verdict]:
    """Every violation the whole pack (policies/pack.py, with its defaults overlaid by `config`) reports on a stack.

    Resource rules see each resource the way the engine hands it to them; stack rules see all of them.
    """
    from policies.pack import POLICIES

    found: list[Verdict] = []
    for policy in POLICIES:
        level, cfg = rule_config(policy, (config or {}).get(policy.name), "test")
        if level == "disabled":
            continue

        def reporter(default_urn: Optional[str], rule: str = policy.name, lvl: str = level) -> Any:
            return lambda msg, urn=None: found.append(Verdict(rule, lvl, msg, urn or default_urn))

        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, r.opts, r.provider, cfg)
                policy.validate(args, reporter(r.urn))
        elif isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(resources, cfg), reporter(None))
    return found


def refusals(resources: list[PolicyResource], config: Optional[dict[str, Any]] = None) -> dict[str, list[str]]:
    """Mandatory violations of the whole pack, by rule name."""
    out: dict[str, list[str]] = {}
    for v in pack_verdicts(resources, config):
        if v.level == "mandatory":
            out.setdefault(v.rule, []).append(v.message)
    return out


def assert_refused(resources: list[PolicyResource], rule: str, culprit: PolicyResource,
                   config: Optional[dict[str, Any]] = None) -> None:
    """The pack refuses the stack by `rule` (mandatory), and the message names the culprit resource (`type 'name'`)."""
    found = refusals(resources, config)
    named = f"{culprit.resource_type} {culprit.name!r}"
    assert any(named in m for m in found.get(rule, [])), (
        f"{rule} did not refuse {named}; mandatory violations: {found}")
