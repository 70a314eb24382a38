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
    ArkoudaConfig,
    Buckets,
    ClusterConfig,
    DaskConfig,
    FederationConfig,
    NamespaceConfig,
    NetworkConfig,
    NodeGroups,
    RbacConfig,
    SecretConfig,
    StackConfig,
    TagsConfig,
)
from infra.placement import arkouda_pool, dask_scheduler_pool, dask_worker_pool

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
    "secretValues": (TypeAdapter(dict[str, str]), False),
}
SECRET_VALUES = "secretValues"

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


def duplicate_names(project: str, key: str, prefix: tuple[Any, ...], names: list[str]) -> list[str]:
    """`ns:key...[i].name: "x" is already used by ...[j]` for every repeated name in a list."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    label = key + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in prefix)
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{key_path(project, key, (*prefix, i, 'name'))}: {render_value(name)} is already used "
                            f"by {label}[{seen[name]}]; names must be unique")
        seen.setdefault(name, i)
    return problems


def parse_stack_config(project: str, stack: str, raw: dict[str, Any],
                       secret_keys: Optional[set[str]] = None) -> StackConfig:
    """Validate decoded config values (`ns:key` -> value) into a StackConfig or raise ConfigError.

    `secret_keys` are the keys the stack stores encrypted; cloudviper:secretValues must be one.
    Secret values are never put into the model, only their names.
    """
    problems: list[str] = []
    secrets_key = f"{project}:{SECRET_VALUES}"
    if secrets_key in raw and secret_keys is not None and secrets_key not in secret_keys:
        problems.append(f"{secrets_key}: is stored in plain text; set each value with "
                        f"`pulumi config set --secret --path '{secrets_key}.NAME' VALUE`")
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
    problems += duplicate_names(project, "buckets", (), [b.name for b in values.get("buckets") or []])
    for i, bucket in enumerate(values.get("buckets") or []):
        default_name = f"{project}-{stack}-{bucket.name}-123456789012"
        if bucket.bucket_name is None and not (BUCKET_NAME_RE.match(default_name) and len(default_name) <= 63):
            problems.append(
                f"{key_path(project, 'buckets', (i,))}: the default bucket name "
                f"{project}-{stack}-{bucket.name}-<account id> is not a valid S3 name (lowercase, at most 63 "
                "characters); set bucketName"
            )
    problems += _cluster_problems(project, values)
    problems += _workload_problems(project, values, values.get(SECRET_VALUES) or {})
    if problems or not isinstance(region, str):
        raise ConfigError(problems)
    names = sorted(values.pop(SECRET_VALUES, {}) or {})
    try:
        return StackConfig(project=project, stack=stack, region=region, secret_value_names=names, **values)
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
    problems += duplicate_names(project, "nodeGroups", (), [g.name for g in groups])
    for i, g in enumerate(groups):
        if g.on_demand_base > g.max_size:
            problems.append(f"{key_path(project, 'nodeGroups', (i, 'onDemandBase'))}: {g.on_demand_base} is larger "
                            f"than maxSize ({g.max_size})")
    return problems


def gib(quantity: str) -> float:
    """A Kubernetes quantity in GiB (memory) or cores (cpu: m suffix)."""
    units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "Pi": 2**20, "k": 1e3 / 2**30, "M": 1e6 / 2**30,
             "G": 1e9 / 2**30, "T": 1e12 / 2**30, "P": 1e15 / 2**30, "m": 1e-3}
    for suffix in sorted(units, key=len, reverse=True):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * units[suffix]
    return float(quantity) / 2**30 if float(quantity) > 4096 else float(quantity)


def node_allocatable(group: Any) -> tuple[float, float]:
    """(cores, GiB) a pod can request on one node of the group, after kubelet and system reserves."""
    from infra.pricing import load_prices

    spec = min((load_prices().instance(t) for t in group.instance_types), key=lambda s: (s.vcpu, s.memory_gib))
    cores = spec.vcpu // 2 if group.disable_smt else spec.vcpu
    # EKS AL2023 reserves well under 0.1 core and ~10% of memory for kubelet and system daemons.
    return cores - 0.1, spec.memory_gib * 0.9 - 0.75


def _workload_problems(project: str, values: dict[str, Any], raw_secrets: Optional[dict[str, Any]] = None) -> list[str]:
    """Checks across namespaces, RBAC, secrets, Dask and the node groups."""
    problems: list[str] = []
    namespaces = {n.name for n in values.get("namespaces") or []}
    dask = values.get("dask")
    known = namespaces | ({dask.namespace} if dask else set())
    problems += duplicate_names(project, "namespaces", (), [n.name for n in values.get("namespaces") or []])
    rbac = values.get("rbac")
    if rbac is not None:
        for kind, entries in (("namespaceAccess", rbac.namespace_access), ("jobRobots", rbac.job_robots)):
            for i, e in enumerate(entries):
                if e.namespace not in known:
                    problems.append(f"{key_path(project, 'rbac', (kind, i, 'namespace'))}: {render_value(e.namespace)} "
                                    f"is not a namespace of this stack; declared: {', '.join(sorted(known)) or 'none'}")
    secret_names = set(values.get(SECRET_VALUES) or {})
    raw_secrets = raw_secrets or {}
    for i, sec in enumerate(values.get("secrets") or []):
        if sec.namespace not in known:
            problems.append(f"{key_path(project, 'secrets', (i, 'namespace'))}: {render_value(sec.namespace)} is not a "
                            f"namespace of this stack; declared: {', '.join(sorted(known)) or 'none'}")
        for key, ref in sec.values.items():
            if ref not in secret_names:
                problems.append(f"{key_path(project, 'secrets', (i, 'values', key))}: {render_value(ref)} is not in "
                                f"{project}:{SECRET_VALUES}; set it with `pulumi config set --secret --path "
                                f"'{project}:{SECRET_VALUES}.{ref}' VALUE`")
    if dask is not None:
        problems += _dask_problems(project, dask, values, secret_names)
    arkouda = values.get("arkouda")
    if arkouda is not None:
        problems += _arkouda_problems(project, arkouda, values)
    federation = values.get("federation")
    if federation is not None:
        problems += _federation_problems(project, federation, values, known, secret_names, raw_secrets)
    return problems


def _arkouda_problems(project: str, ak: Any, values: dict[str, Any]) -> list[str]:
    """Arkouda needs a cluster and a pool whose nodes fit one locale each."""
    groups = values.get("nodeGroups") or []
    if values.get("cluster") is None:
        return [f"{project}:arkouda: Arkouda needs a cluster; set {project}:cluster and {project}:nodeGroups"]
    by_name = {g.name: g for g in groups}
    pool = arkouda_pool(ak, groups)
    if pool is None:
        return [f"{key_path(project, 'arkouda', ('pool',))}: {render_value(ak.pool)} is not a node group; "
                f"groups: {', '.join(by_name) or 'none'}"]
    cores, mem = node_allocatable(pool)
    if ak.threads_per_locale > cores or gib(ak.memory_per_locale) > mem:
        return [f"{key_path(project, 'arkouda', ('threadsPerLocale',))}: {ak.threads_per_locale} cores / "
                f"{ak.memory_per_locale} per locale is more than a node of pool {pool.name} offers (about {cores:g} "
                f"cores / {mem:.1f} GiB allocatable)"]
    if ak.locales > pool.max_size:
        return [f"{key_path(project, 'arkouda', ('locales',))}: {ak.locales} locales need {ak.locales} nodes, but "
                f"pool {pool.name} has maxSize {pool.max_size}"]
    return []


def _federation_problems(project: str, fed: Any, values: dict[str, Any], namespaces: set[str], secret_names: set[str],
                         raw_secrets: dict[str, Any]) -> list[str]:
    """Federation needs a cluster; names unique; namespaces known; external kubeconfigs well formed."""
    from infra.kubeconfig import KubeconfigError, check_kubeconfig

    if values.get("cluster") is None:
        return [f"{project}:federation: federation needs a cluster; set {project}:cluster"]
    problems = []
    for kind, entries in (("sources", fed.sources), ("targets", fed.targets)):
        problems += duplicate_names(project, "federation", (kind,), [e.name for e in entries])
        for i, e in enumerate(entries):
            if e.namespace is not None and e.namespace not in namespaces:
                problems.append(f"{key_path(project, 'federation', (kind, i, 'namespace'))}: {render_value(e.namespace)} "
                                f"is not a namespace of this stack; declared: {', '.join(sorted(namespaces)) or 'none'}")
    for i, t in enumerate(fed.targets):
        ref = t.kubeconfig_secret_value
        if t.kind != "external" or ref is None:
            continue
        path = key_path(project, "federation", ("targets", i, "kubeconfigSecretValue"))
        if ref not in secret_names:
            problems.append(f"{path}: {render_value(ref)} is not in {project}:{SECRET_VALUES}; set it with "
                            f"`pulumi config set --secret --path '{project}:{SECRET_VALUES}.{ref}' \"$(cat kubeconfig)\"`")
            continue
        try:
            check_kubeconfig(raw_secrets.get(ref), t.context)
        except KubeconfigError as exc:
            problems.append(f"{path}: the kubeconfig in {project}:{SECRET_VALUES}.{ref} {exc}")
    return problems


def _dask_problems(project: str, dask: Any, values: dict[str, Any], secret_names: set[str]) -> list[str]:
    groups = values.get("nodeGroups") or []
    if values.get("cluster") is None:
        return [f"{project}:dask: Dask needs a cluster; set {project}:cluster and {project}:nodeGroups"]
    problems = []
    by_name = {g.name: g for g in groups}
    workers = dask_worker_pool(dask, groups)
    if workers is None:
        problems.append(f"{key_path(project, 'dask', ('workers', 'pool'))}: {render_value(dask.workers.pool)} is not a "
                        f"node group; groups: {', '.join(by_name) or 'none'}")
    else:
        cores, mem = node_allocatable(workers)
        request = gib(dask.workers.cpu_request) if dask.workers.cpu_request else dask.workers.cores
        if request > dask.workers.cores:
            problems.append(f"{key_path(project, 'dask', ('workers', 'cpuRequest'))}: "
                            f"{render_value(dask.workers.cpu_request)} is more than cores ({dask.workers.cores})")
        elif request > cores or gib(dask.workers.memory) > mem:
            problems.append(f"{key_path(project, 'dask', ('workers',))}: {request:g} cores / {dask.workers.memory} "
                            f"does not fit a node of pool {workers.name} (about {cores:g} cores / {mem:.1f} GiB "
                            "allocatable); lower cores (or set cpuRequest) or memory")
    sched = dask_scheduler_pool(dask, groups)
    if sched is None:
        problems.append(f"{key_path(project, 'dask', ('schedulerPool',))}: {render_value(dask.scheduler_pool)} is not a "
                        f"node group; groups: {', '.join(by_name) or 'none'}")
    elif sched.spot:
        problems.append(f"{key_path(project, 'dask', ('schedulerPool',))}: pool {sched.name} is spot; the scheduler "
                        "needs a pool with spot: false (losing it loses the computation; an on-demand base does not "
                        "pin the scheduler to the on-demand node)")
    else:
        cores, mem = node_allocatable(sched)
        need_cpu, need_mem = gib(dask.scheduler_cpu), gib(dask.scheduler_memory)
        if dask.jupyter.enabled:  # JupyterLab runs on the scheduler's pool too
            need_cpu, need_mem = need_cpu + gib(dask.jupyter.cpu), need_mem + gib(dask.jupyter.memory)
        if need_cpu > cores or need_mem > mem:
            what = "scheduler" + (" + JupyterLab" if dask.jupyter.enabled else "")
            problems.append(f"{key_path(project, 'dask', ('schedulerMemory',))}: the {what} need {need_cpu:g} CPU / "
                            f"{need_mem:.1f} GiB, more than a node of pool {sched.name} offers (about {cores:g} cores / "
                            f"{mem:.1f} GiB allocatable); use a bigger schedulerPool or smaller requests")
    if dask.jupyter.enabled and dask.jupyter.token_secret_value not in secret_names:
        problems.append(f"{key_path(project, 'dask', ('jupyter', 'tokenSecretValue'))}: "
                        f"{render_value(dask.jupyter.token_secret_value)} is not in {project}:{SECRET_VALUES}; set it with "
                        f"`pulumi config set --secret --path '{project}:{SECRET_VALUES}.{dask.jupyter.token_secret_value}' TOKEN`")
    return problems


def load_secret_values() -> pulumi.Output[dict[str, str]]:
    """cloudviper:secretValues as one secret Output (never plain text in state or logs)."""
    value = pulumi.Config(PROJECT).get_secret_object(SECRET_VALUES)
    return pulumi.Output.secret(value if value is not None else {})


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
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    return parse_stack_config(pulumi.get_project(), pulumi.get_stack(), raw, secret_keys)
