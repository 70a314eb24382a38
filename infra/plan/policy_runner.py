"""Run the policy pack offline over a captured stack, the way the Pulumi engine would.

Builds the public `pulumi_policy` argument classes (ResourceValidationArgs, StackValidationArgs,
PolicyResource, PolicyProviderResource) with camelCase props deserialized and wrapped exactly as
the analyzer does, and config = each rule's schema defaults merged with the stack's policy
config file (policies/config/<stack>.json, the same file `--policy-pack-config` takes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import jsonschema
from pulumi_policy import (
    EnforcementLevel,
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
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from infra.config.errors import ConfigError
from infra.config.policy_file import POLICY_CONFIG_DIR, load_policy_config
from infra.plan.harness import Capture, CapturedResource


@dataclass(frozen=True)
class Violation:
    """One reported violation."""

    policy: str
    level: str
    severity: str
    message: str
    urn: Optional[str]


@dataclass
class PolicyReport:
    """Every violation of one run, and which rules could not decide (unknown values)."""

    violations: list[Violation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rules: int = 0
    config_file: Optional[str] = None

    def at(self, level: str) -> list[Violation]:
        """Violations at one enforcement level."""
        return [v for v in self.violations if v.level == level]

    @property
    def mandatory(self) -> list[Violation]:
        """The violations that stop a deployment."""
        return self.at("mandatory")


def _rule_settings(policy: Policy, raw: Any, path: str) -> tuple[str, dict[str, Any]]:
    """(enforcement level, config with schema defaults) for one rule."""
    level = policy.enforcement_level.value if policy.enforcement_level else EnforcementLevel.ADVISORY.value
    settings: dict[str, Any] = {}
    if isinstance(raw, str):
        level = raw
    elif isinstance(raw, dict):
        settings = {k: v for k, v in raw.items() if k != "enforcementLevel"}
        level = raw.get("enforcementLevel", level)
    elif raw is not None:
        raise ConfigError([f"{path}: {policy.name}: expected an enforcement level or a map of settings"])
    allowed_levels = {e.value for e in EnforcementLevel}
    if level not in allowed_levels:
        raise ConfigError([f"{path}: {policy.name}.enforcementLevel: {json.dumps(level)} is not one of {sorted(allowed_levels)}"])
    known = set(policy.config_schema.properties) if policy.config_schema else set()
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError([f"{path}: {policy.name}.{unknown[0]}: unknown setting; allowed: {', '.join(sorted(known)) or 'none'}"])
    props = policy.config_schema.properties if policy.config_schema else {}
    for key, value in settings.items():  # as the Pulumi CLI checks a pack's config against its schema
        rule = {k: v for k, v in props[key].items() if k not in ("default", "description")}
        try:
            jsonschema.validate(value, rule)
        except jsonschema.ValidationError:
            raise ConfigError([f"{path}: {policy.name}.{key}: {json.dumps(value)} is not valid: expected "
                               f"{json.dumps(rule)}"]) from None
    defaults = {k: v.get("default") for k, v in props.items()}
    return level, {**defaults, **settings}


def _options(res: CapturedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=res.protect, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[], parent=res.parent,
    )


def _props(bag: dict[str, Any]) -> Any:
    return unknown_checking_proxy(deserialize_properties(bag))


class _Graph:
    """Captured resources as the policy SDK's objects."""

    def __init__(self, capture: Capture) -> None:
        self.custom = [r for r in capture.resources if r.custom]
        self.providers = {
            r.urn: PolicyProviderResource(r.type, _props(r.inputs), r.urn, r.name)
            for r in self.custom if r.type.startswith("pulumi:providers:")
        }
        self.stack_resources: dict[str, PolicyResource] = {}
        for r in self.custom:
            self.stack_resources[r.urn] = PolicyResource(
                resource_type=r.type, props=_props(r.outputs or r.inputs), urn=r.urn, name=r.name,
                opts=_options(r), provider=self.providers.get(r.provider_urn or ""), parent=None,
                dependencies=[], property_dependencies={},
            )
        for r in self.custom:
            pr = self.stack_resources[r.urn]
            pr.parent = self.stack_resources.get(r.parent or "")
            pr.dependencies = [self.stack_resources[u] for u in r.dependencies if u in self.stack_resources]
            pr.property_dependencies = {
                k: [self.stack_resources[u] for u in urns if u in self.stack_resources]
                for k, urns in r.property_dependencies.items()
            }

    def resource_args(self, r: CapturedResource, cfg: dict[str, Any]) -> ResourceValidationArgs:
        return ResourceValidationArgs(
            resource_type=r.type, props=_props(r.inputs), urn=r.urn, name=r.name, opts=_options(r),
            provider=self.providers.get(r.provider_urn or ""), config=cfg,
        )


def run_policies(capture: Capture, policies: list[Policy], policy_config: dict[str, Any],
                 config_path: str = "policy config") -> PolicyReport:
    """Evaluate every rule over the captured stack."""
    graph = _Graph(capture)
    report = PolicyReport(rules=len(policies))
    for policy in policies:
        level, cfg = _rule_settings(policy, policy_config.get(policy.name), config_path)
        if level == EnforcementLevel.DISABLED.value:
            continue
        severity = policy.severity.value if policy.severity else "medium"

        def reporter(urn_default: Optional[str], name: str = policy.name, level: str = level,
                     severity: str = severity) -> Any:
            def report_violation(message: str, urn: Optional[str] = None) -> None:
                report.violations.append(Violation(name, level, severity, message, urn or urn_default))
            return report_violation

        if isinstance(policy, ResourceValidationPolicy):
            for r in graph.custom:
                try:
                    policy.validate(graph.resource_args(r, cfg), reporter(r.urn))
                except UnknownValueError:
                    report.skipped.append(f"{policy.name}: {r.urn} (unknown value)")
        elif isinstance(policy, StackValidationPolicy):
            try:
                policy.validate(StackValidationArgs(list(graph.stack_resources.values()), cfg), reporter(None))
            except UnknownValueError:
                report.skipped.append(f"{policy.name}: stack (unknown value)")
    return report


def run_pack(capture: Capture, stack: str, directory: Path = POLICY_CONFIG_DIR) -> PolicyReport:
    """The whole cloudviper pack with the stack's policy config."""
    from policies.pack import POLICIES

    policy_config, path = load_policy_config(stack, directory)
    report = run_policies(capture, POLICIES, policy_config, path.name if path else "policy config")
    report.config_file = f"policies/config/{path.name}" if path else None
    return report
