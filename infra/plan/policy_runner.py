"""Run the policy pack offline over a captured stack, the way the Pulumi engine would.

Builds the public `pulumi_policy` argument classes (ResourceValidationArgs, StackValidationArgs,
PolicyResource, PolicyProviderResource) with camelCase props deserialized and wrapped exactly as
the analyzer does, and config = each rule's schema defaults merged with the stack's policy
config file (policies/config/<stack>.json, the same file `--policy-pack-config` takes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

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
from infra.config.policy_file import POLICY_CONFIG_DIR, PolicyConfig, load_policy_config, rule_settings
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


def rule_config(policy: Policy, raw: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(enforcement level, config with schema defaults) of one rule's entry, or ConfigError naming what is wrong."""
    from policies.pack import spec_of

    level, settings, problems = rule_settings(policy.name, spec_of(policy), raw, f"{where}: {policy.name}")
    if problems:
        raise ConfigError(problems)
    return level, settings


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
        # Each resource's validation arguments, deserialized and wrapped once: only `config` differs between rules.
        self._inputs = {id(r): (_props(r.inputs), _options(r), self.providers.get(r.provider_urn or "")) for r in self.custom}

    def resource_args(self, r: CapturedResource, cfg: dict[str, Any]) -> ResourceValidationArgs:
        props, opts, provider = self._inputs[id(r)]
        return ResourceValidationArgs(resource_type=r.type, props=props, urn=r.urn, name=r.name, opts=opts,
                                      provider=provider, config=cfg)


def run_policies(capture: Capture, policies: list[Policy], config: PolicyConfig) -> PolicyReport:
    """Evaluate every rule over the captured stack with a validated policy config."""
    graph = _Graph(capture)
    report = PolicyReport(rules=len(policies))
    for policy in policies:
        level, cfg = config.rules.get(policy.name) or rule_config(policy, None, "defaults")
        if level == EnforcementLevel.REMEDIATE.value:  # no rule of ours remediates: the analyzer reports a violation
            level = EnforcementLevel.MANDATORY.value     # at remediate as mandatory (pulumi_policy/policy.py Analyze)
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
    """The whole cloudviper pack with the stack's policy config (validated: a mistake is a ConfigError)."""
    from policies.pack import POLICIES, pack_specs

    config = load_policy_config(stack, directory, pack_specs())
    report = run_policies(capture, POLICIES, config)
    report.config_file = f"policies/config/{config.path.name}" if config.path else None
    return report
