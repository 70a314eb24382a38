"""The only place that reads Pulumi config: raw stack values in, a validated StackConfig out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import pulumi
from pydantic import TypeAdapter, ValidationError

from infra.config.arkouda import ArkoudaConfig
from infra.config.budget import BudgetConfig
from infra.config.cluster import ClusterConfig
from infra.config.cluster_checks import cluster_problems
from infra.config.dask import DaskConfig
from infra.config.errors import ConfigError, key_path, render_value, unknown
from infra.config.federation import FederationConfig
from infra.config.messages import HIDDEN, Redactor, describe_errors, duplicate_names, secret_texts, with_names
from infra.config.monitoring import MonitoringConfig, monitoring_problems
from infra.config.mpi import MpiConfig
from infra.config.namespaces import NamespaceConfig, RbacConfig, SecretConfig
from infra.config.network import BUCKET_NAME_RE, Buckets, NetworkConfig, rename_problems
from infra.config.pools import NodeGroups
from infra.config.regions import region_problem
from infra.config.robots import expand_robots
from infra.config.stack import SECRET_VALUES, StackConfig, TagsConfig
from infra.config.stackfile import SECRET_PLACEHOLDER, stack_file_secrets
from infra.config.workload_checks import workload_problems

PROJECT = "cloudviper"

# Project config keys: key -> (validator, required). The README config reference follows this table.
SECTIONS: dict[str, tuple[Any, bool]] = {
    "tags": (TagsConfig, True),
    "network": (NetworkConfig, False),
    "buckets": (TypeAdapter(Buckets), False),
    "cluster": (ClusterConfig, False),
    "nodeGroups": (TypeAdapter(NodeGroups), False),
    "namespaces": (TypeAdapter(list[NamespaceConfig]), False),
    "rbac": (RbacConfig, False),
    "secrets": (TypeAdapter(list[SecretConfig]), False),
    "dask": (DaskConfig, False),
    "federation": (FederationConfig, False),
    "arkouda": (ArkoudaConfig, False),
    "mpi": (MpiConfig, False),
    "monitoring": (MonitoringConfig, False),
    "budget": (BudgetConfig, False),
    "secretValues": (TypeAdapter(dict[str, str]), False),
}


def parse_stack_config(project: str, stack: str, raw: dict[str, Any],
                       secret_keys: Optional[set[str]] = None, plain_secrets: Sequence[str] = ()) -> StackConfig:
    """Validate decoded config values (`ns:key` -> value) into a StackConfig or raise ConfigError.

    `secret_keys` are the keys the stack stores encrypted; cloudviper:secretValues must be one. `plain_secrets` are
    the leaves of it the stack file holds in plain text (stackfile.plain_secret_leaves): each is refused.
    Secret values are never put into the model, only their names, and never into a message: the values of
    secretValues and of every secret key are hidden, whatever their shape, also where a check quotes them.
    """
    hidden = {f"{project}:{SECRET_VALUES}", *(secret_keys or ())}
    try:
        return _parse(project, stack, raw, secret_keys, plain_secrets, hidden)
    except ConfigError as exc:
        public = [project, stack, f"{project}-{stack}", json.dumps({k: v for k, v in raw.items() if k not in hidden}, default=str)]
        redact = Redactor((t for key in sorted(hidden) for t in secret_texts(raw.get(key)) if t != SECRET_PLACEHOLDER),
                          public)
        raise ConfigError([redact(p) for p in exc.problems], redact(exc.note)) from None


def _parse(project: str, stack: str, raw: dict[str, Any], secret_keys: Optional[set[str]],
           plain_secrets: Sequence[str], hidden: set[str]) -> StackConfig:
    """parse_stack_config without the last redaction; `hidden` keys' values are never rendered."""
    problems: list[str] = []
    secrets_key = f"{project}:{SECRET_VALUES}"
    if secrets_key in raw and secret_keys is not None and secrets_key not in secret_keys and not plain_secrets:
        problems.append(f"{secrets_key}: is stored in plain text; set each value with "
                        f"`pulumi config set --secret --path '{secrets_key}.NAME' VALUE`")
    for leaf in plain_secrets:  # the value itself is never repeated: it is a credential
        problems.append(f"{leaf}: is stored in plain text in Pulumi.{stack}.yaml (and so in git: rotate it); set it "
                        f"encrypted with `pulumi config set --stack {stack} --secret --path '{leaf}' VALUE`")
    named = {k: v for k, v in raw.items() if k not in hidden}  # list entries of a secret key keep their index
    values: dict[str, Any] = {}
    failed: list[str] = []  # sections that did not validate: the checks across sections are not run
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
            problems.extend(describe_errors(project, key, validator, exc, secret=full in hidden))
            failed.append(key)
    known = {f"{project}:{k}" for k in SECTIONS}
    for full in sorted(raw):
        if full.startswith(f"{project}:") and full not in known:
            problems.append(f"{full}: {unknown('key', full, known)}")
    region = raw.get("aws:region")
    if region is None:
        problems.append("aws:region is required (e.g. `pulumi config set aws:region us-east-1`)")
    elif region_problem(region):  # the pinned botocore's region names, with the closest one
        shown = HIDDEN if "aws:region" in hidden else render_value(region)
        problems.append(f"aws:region: {shown} {region_problem(region)}")
        region = None
    if failed:  # a check across sections would read a failed one as absent and point to the wrong place
        raise ConfigError([with_names(p, project, named) for p in problems],
                          f"checks across sections run once {', '.join(f'{project}:{k}' for k in failed)} "
                          f"{'is' if len(failed) == 1 else 'are'} fixed")
    network = values.get("network")
    if isinstance(region, str) and isinstance(network, NetworkConfig) and network.azs:
        for i, az in enumerate(network.azs):
            if not (az.startswith(region) and len(az) == len(region) + 1 and az[-1].isalpha()):
                problems.append(
                    f"{key_path(project, 'network', ('azs', i))}: {render_value(az)} is not a zone of "
                    f"region {region}; expected e.g. {region}a"
                )
    problems += duplicate_names(project, "buckets", (), [b.name for b in values.get("buckets") or []])
    problems += rename_problems(project, list(values.get("buckets") or []))
    for i, bucket in enumerate(values.get("buckets") or []):
        default_name = f"{project}-{stack}-{bucket.name}-123456789012"
        if bucket.bucket_name is None and not (BUCKET_NAME_RE.match(default_name) and len(default_name) <= 63):
            problems.append(
                f"{key_path(project, 'buckets', (i,))}: the default bucket name "
                f"{project}-{stack}-{bucket.name}-<account id> is not a valid S3 name (lowercase, at most 63 "
                "characters); set bucketName"
            )
    kept_keys = sorted({b.kms_key_id for b in values.get("buckets") or [] if b.kms_key_id})
    if len(kept_keys) > 1:
        problems.append(f"{project}:buckets: kmsKeyId names {len(kept_keys)} keys ({', '.join(kept_keys)}); the stack "
                        "has one data key, so every imported kms bucket must name the same one")
    problems += cluster_problems(project, values)
    problems += workload_problems(project, values, values.get(SECRET_VALUES) or {})
    problems += monitoring_problems(project, values)
    if problems or not isinstance(region, str):
        raise ConfigError([with_names(p, project, named) for p in problems])
    names = sorted(values.pop(SECRET_VALUES, {}) or {})
    values = expand_robots(values)  # a robot's podSecurity and proxy become its namespace's labels and a Secret
    try:
        return StackConfig(project=project, stack=stack, region=region, secret_value_names=names, **values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            field = err["loc"][0] if err["loc"] else ""
            name = "aws:region" if field == "region" else key_path(project, str(field))
            msg = str(err["msg"]).removeprefix("Value error, ")
            shown = HIDDEN if (name if field == "region" else f"{project}:{field}") in hidden else \
                render_value(err.get("input"))
            lines.append(f"{name}: {shown} {msg}")
        raise ConfigError(lines) from None


def load_secret_values() -> pulumi.Output[dict[str, str]]:
    """cloudviper:secretValues as one secret Output (never plain text in state or logs)."""
    value = pulumi.Config(PROJECT).get_secret_object(SECRET_VALUES)
    return pulumi.Output.secret(value if value is not None else {})


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; scalars stay text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: JSON nested past Python's recursion limit
            return value
    return value


def load_stack_config(project_dir: Optional[Path] = None) -> StackConfig:
    """Read this stack's config from the Pulumi runtime and validate it; `project_dir` holds the stack file, read
    only to find secretValues set without --secret (the runtime hands the program the decrypted whole)."""
    from pulumi.runtime import config as runtime_config  # the runtime's view of every key

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    raw: dict[str, Any] = {}
    for full in keys:
        value = runtime_config.get_config(full)
        if value is None:
            continue
        ns = full.split(":", 1)[0]
        raw[full] = value if (ns == "aws" or ":" not in full) else _decode(value)
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    plain = stack_file_secrets(project_dir, pulumi.get_stack()) if project_dir is not None else []
    return parse_stack_config(pulumi.get_project(), pulumi.get_stack(), raw, secret_keys, plain)
