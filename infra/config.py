"""The only place that reads Pulumi config: raw stack values in, a validated StackConfig out."""

from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
from pydantic import BaseModel, TypeAdapter, ValidationError

from infra.errors import ConfigError, key_path, render_value
from infra.models import (
    BUCKET_NAME_RE,
    REGION_RE,
    Buckets,
    ClusterConfig,
    NetworkConfig,
    NodeGroups,
    StackConfig,
    TagsConfig,
)

PROJECT = "cloudviper"

# Project config keys: key -> (validator, required). The README config reference follows this table.
SECTIONS: dict[str, tuple[Any, bool]] = {
    "tags": (TagsConfig, True),
    "network": (NetworkConfig, False),
    "buckets": (TypeAdapter(Buckets), False),
    "cluster": (ClusterConfig, False),
    "nodeGroups": (TypeAdapter(NodeGroups), False),
}

_FRIENDLY = {
    "missing": "is required",
    "int_parsing": "is not allowed: expected a whole number",
    "int_type": "is not allowed: expected a whole number",
    "int_from_float": "is not allowed: expected a whole number",
    "bool_parsing": "is not allowed: expected true or false",
    "bool_type": "is not allowed: expected true or false",
    "string_type": "is not allowed: expected a string",
    "list_type": "is not allowed: expected a list",
    "dict_type": "is not allowed: expected a map of key: value",
    "model_type": "is not allowed: expected a map of key: value",
    "model_attributes_type": "is not allowed: expected a map of key: value",
}


def _allowed_keys(model: Any, loc: tuple[Any, ...]) -> Optional[list[str]]:
    """The keys a model accepts at `loc` (to list them when a key is unknown)."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next(
            (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
        )
        if field is None:
            return None
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        inner = [a for a in args if issubclass(a, BaseModel)]
        current = inner[0] if inner else ann
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return None


def _root_model(validator: Any) -> Any:
    if isinstance(validator, TypeAdapter):
        return getattr(validator.core_schema.get("items_schema", {}), "get", lambda *_: None)("cls")
    return validator


def describe_errors(namespace: str, key: str, validator: Any, exc: ValidationError) -> list[str]:
    """Turn pydantic errors into `ns:key.path: value what-is-allowed` lines."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = key_path(namespace, key, loc)
        kind = err["type"]
        if kind == "missing":
            problems.append(f"{path} is required")
            continue
        value = render_value(err.get("input"))
        if kind == "extra_forbidden":
            parent_loc = loc[:-1]
            model = _root_model(validator)
            if isinstance(validator, TypeAdapter):
                parent_loc = tuple(p for p in parent_loc if not isinstance(p, int))
            allowed = _allowed_keys(model, parent_loc) if model is not None else None
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            problems.append(f"{path}: unknown key{hint}")
            continue
        message = _FRIENDLY.get(kind)
        if message is None:
            message = str(err["msg"])
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            elif message.startswith("Input should be"):
                message = "is not allowed: expected" + message[len("Input should be"):]
            elif message.startswith("List should have"):
                message = "is not allowed: list should have" + message[len("List should have"):]
        problems.append(f"{path}: {value} {message}")
    return problems


def parse_stack_config(project: str, stack: str, raw: dict[str, Any]) -> StackConfig:
    """Validate decoded config values (`ns:key` -> value) into a StackConfig or raise ConfigError."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, (validator, required) in SECTIONS.items():
        full = f"{project}:{key}"
        if full not in raw:
            if required:
                problems.append(f"{full} is required (see README, 'Config reference')")
            continue
        try:
            if isinstance(validator, TypeAdapter):
                values[key] = validator.validate_python(raw[full])
            else:
                values[key] = validator.model_validate(raw[full])
        except ValidationError as exc:
            problems.extend(describe_errors(project, key, validator, exc))
    known = {f"{project}:{k}" for k in SECTIONS}
    for full in sorted(raw):
        if full.startswith(f"{project}:") and full not in known:
            problems.append(
                f"{full}: unknown key; allowed keys: {', '.join(sorted(known))}"
            )
    region = raw.get("aws:region")
    if region is None:
        problems.append("aws:region is required (e.g. `pulumi config set aws:region us-east-1`)")
    elif not (isinstance(region, str) and REGION_RE.match(region)):
        problems.append(f"aws:region: {render_value(region)} is not an AWS region name; expected e.g. us-east-1")
        region = None
    network = values.get("network")
    if isinstance(region, str) and isinstance(network, NetworkConfig) and network.azs:
        for i, az in enumerate(network.azs):
            if not (az.startswith(region) and len(az) == len(region) + 1 and az[-1].isalpha()):
                problems.append(
                    f"{key_path(project, 'network', ('azs', i))}: {render_value(az)} is not a zone of "
                    f"region {region}; expected e.g. {region}a"
                )
    seen: dict[str, int] = {}
    for i, bucket in enumerate(values.get("buckets") or []):
        if bucket.name in seen:
            problems.append(
                f"{key_path(project, 'buckets', (i, 'name'))}: {render_value(bucket.name)} is already "
                f"used by buckets[{seen[bucket.name]}]; bucket names must be unique"
            )
        seen.setdefault(bucket.name, i)
        default_name = f"{project}-{stack}-{bucket.name}-123456789012"
        if bucket.bucket_name is None and not (BUCKET_NAME_RE.match(default_name) and len(default_name) <= 63):
            problems.append(
                f"{key_path(project, 'buckets', (i,))}: the default bucket name "
                f"{project}-{stack}-{bucket.name}-<account id> is not a valid S3 name (lowercase, at most 63 "
                "characters); set bucketName"
            )
    problems += _cluster_problems(project, values)
    if problems or not isinstance(region, str):
        raise ConfigError(problems)
    try:
        return StackConfig(project=project, stack=stack, region=region, **values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            field = err["loc"][0] if err["loc"] else ""
            name = "aws:region" if field == "region" else key_path(project, str(field))
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}: {render_value(err.get('input'))} {msg}")
        raise ConfigError(lines) from None


def _cluster_problems(project: str, values: dict[str, Any]) -> list[str]:
    """Checks across cloudviper:cluster, cloudviper:nodeGroups and cloudviper:network."""
    import ipaddress

    problems = []
    cluster, groups = values.get("cluster"), values.get("nodeGroups") or []
    network = values.get("network") or NetworkConfig.model_validate({})
    if groups and cluster is None:
        problems.append(f"{project}:nodeGroups: node groups need a cluster; set {project}:cluster (see README)")
    if cluster is not None:
        if not any(g.role == "system" and g.min_size >= 1 for g in groups):
            problems.append(
                f"{project}:nodeGroups: the cluster needs a node group with role: system and minSize >= 1 "
                "to run its add-ons (CoreDNS, Cluster Autoscaler, Node Termination Handler)"
            )
        if ipaddress.ip_network(cluster.service_cidr).overlaps(ipaddress.ip_network(network.cidr)):
            problems.append(
                f"{key_path(project, 'cluster', ('serviceCidr',))}: {render_value(cluster.service_cidr)} overlaps "
                f"the VPC range {network.cidr}; pick a range outside it"
            )
    seen: dict[str, int] = {}
    for i, g in enumerate(groups):
        if g.name in seen:
            problems.append(f"{key_path(project, 'nodeGroups', (i, 'name'))}: {render_value(g.name)} is already "
                            f"used by nodeGroups[{seen[g.name]}]")
        seen.setdefault(g.name, i)
        if g.on_demand_base > g.max_size:
            problems.append(f"{key_path(project, 'nodeGroups', (i, 'onDemandBase'))}: {g.on_demand_base} is larger "
                            f"than maxSize ({g.max_size})")
    return problems


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; scalars stay text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_stack_config() -> StackConfig:
    """Read this stack's config from the Pulumi runtime and validate it."""
    from pulumi.runtime import config as runtime_config  # the runtime's view of every key

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    raw: dict[str, Any] = {}
    for full in keys:
        value = runtime_config.get_config(full)
        if value is None:
            continue
        ns = full.split(":", 1)[0]
        raw[full] = value if (ns == "aws" or ":" not in full) else _decode(value)
    return parse_stack_config(pulumi.get_project(), pulumi.get_stack(), raw)
