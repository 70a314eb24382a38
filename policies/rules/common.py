"""Helpers shared by the rules: config with defaults, tags, globs, workload pod-spec paths, resource views."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.pricing.cost import ResourceView

AWS_PROVIDER = "pulumi:providers:aws"
# The SDK's reporter takes (message, urn=None); its published alias makes urn positional.
Report = Callable[..., None]


def schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    """A config schema whose every property has a default."""
    for name, prop in properties.items():
        assert "default" in prop and "description" in prop, name
    return PolicyConfigSchema(properties=dict(properties))


def config(args: ResourceValidationArgs | StackValidationArgs, policy_schema: PolicyConfigSchema) -> dict[str, Any]:
    """The policy's config: schema defaults overlaid by the stack's policy config."""
    merged = {k: v["default"] for k, v in policy_schema.properties.items()}
    merged.update({k: v for k, v in (args.get_config() or {}).items() if k != "enforcementLevel"})
    return merged


def resource_policy(
    name: str, description: str, validate: Callable[[ResourceValidationArgs, Report], None],
    level: EnforcementLevel, severity: Severity, config_schema: PolicyConfigSchema, remediation: str,
) -> ResourceValidationPolicy:
    """A resource rule with everything the pack's README lists."""
    return ResourceValidationPolicy(name=name, description=description, validate=validate, enforcement_level=level,
                                    config_schema=config_schema, severity=severity, remediation_steps=remediation)


def stack_policy(
    name: str, description: str, validate: Callable[[StackValidationArgs, Report], None],
    level: EnforcementLevel, severity: Severity, config_schema: PolicyConfigSchema, remediation: str,
) -> StackValidationPolicy:
    """A stack rule with everything the pack's README lists."""
    return StackValidationPolicy(name=name, description=description, validate=validate, enforcement_level=level,
                                 config_schema=config_schema, severity=severity, remediation_steps=remediation)


def is_list(value: Any) -> bool:
    """A list as the engine hands it to policies (a read-only Sequence proxy), not a string."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def maybe_json(value: Any) -> Any:
    """Provider config reaches policies JSON-encoded; decode it when it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def get(props: Any, *path: str | int) -> Any:
    """props[a][b][0]... or None when any step is missing."""
    cur = props
    for key in path:
        cur = maybe_json(cur)
        if isinstance(key, int):
            if not is_list(cur) or key >= len(cur):
                return None
        elif not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return maybe_json(cur)


def truthy(value: Any) -> bool:
    """True for True and for "true" (some pulumi_aws inputs are strings)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def tags_of(props: Mapping[str, Any]) -> dict[str, str]:
    """A resource's own tags: a map, or the Auto Scaling group list of {key, value}."""
    tags = get(props, "tags")
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    if is_list(tags):
        return {str(t.get("key")): str(t.get("value")) for t in tags if isinstance(t, Mapping)}
    return {}


def provider_default_tags(provider: Any) -> dict[str, str]:
    """Default tags of an AWS provider (applied to every resource that supports tags but ASGs)."""
    if provider is None:
        return {}
    tags = get(provider.props, "defaultTags", "tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def glob_any(value: str, patterns: Iterable[str]) -> bool:
    """True if value matches any shell-style pattern."""
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def label(res: Any) -> str:
    """How a violation names a resource: `type name`."""
    return f"{res.resource_type} {res.name!r}"


WORKLOAD_POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def namespace_of(props: Mapping[str, Any]) -> str:
    """metadata.namespace, 'default' when unset."""
    return str(get(props, "metadata", "namespace") or "default")


def view(res: PolicyResource, depth: int = 1) -> ResourceView:
    """A PolicyResource as the cost model sees it (property dependencies one level deep)."""
    deps = {
        key: [view(d, depth - 1) for d in deps_]
        for key, deps_ in (res.property_dependencies or {}).items()
    } if depth > 0 else {}
    return ResourceView(type=res.resource_type, name=res.name, urn=res.urn, props=res.props, property_dependencies=deps)
