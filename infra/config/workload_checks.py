"""Checks across config sections for what runs in the cluster: namespaces, RBAC, secrets, Dask, Arkouda, federation.

Each section is valid on its own by the time these run; they check what one section
needs from another, and return `ns:key.path: value ...` problem lines.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any, Optional

from infra.config.capacity import gib, node_allocatable, node_capacity
from infra.config.cidrs import MAX_OPEN_V4_PREFIX, too_open
from infra.config.errors import key_path, render_value
from infra.config.federation import ADMIRALTY_TESTED_KUBERNETES
from infra.config.gpu_checks import gpu_worker_problems
from infra.config.kubeconfig_check import KubeconfigError, check_kubeconfig
from infra.config.messages import duplicate_names
from infra.config.namespaces import privileged_problems
from infra.config.network import NetworkConfig
from infra.config.placement import arkouda_pool, dask_gpu_pool, dask_scheduler_pool, dask_worker_pool, pool_zones
from infra.config.quotas import arkouda_budget, dask_budget, has_local_delegates, replacement_headroom, workers_per_node
from infra.config.quotas import cores as cores_of
from infra.config.robots import robot_problems
from infra.config.stack import SECRET_VALUES, needs_ebs_csi


def uses_ebs_csi(values: dict[str, Any]) -> bool:
    """Whether the stack installs the EBS CSI driver (whose node pod then runs on every node)."""
    return needs_ebs_csi(values.get("arkouda"), values.get("dask"), values.get("monitoring"))


def workload_problems(project: str, values: dict[str, Any], raw_secrets: Optional[dict[str, Any]] = None) -> list[str]:
    """Checks across namespaces, RBAC, secrets, Dask and the node groups."""
    problems: list[str] = []
    namespaces = {n.name for n in values.get("namespaces") or []}
    dask = values.get("dask")
    known = namespaces | ({dask.namespace} if dask else set())
    problems += duplicate_names(project, "namespaces", (), [n.name for n in values.get("namespaces") or []])
    rbac = values.get("rbac")
    secret_names = set(values.get(SECRET_VALUES) or {})
    if rbac is not None:
        for i, e in enumerate(rbac.namespace_access):
            if e.namespace not in known:
                problems.append(f"{key_path(project, 'rbac', ('namespaceAccess', i, 'namespace'))}: {render_value(e.namespace)} "
                                f"is not a namespace of this stack; declared: {', '.join(sorted(known)) or 'none'}")
        problems += robot_problems(project, values, secret_names)  # job robots: each in a namespace of its own
    robots = {r.namespace for r in rbac.job_robots} if rbac is not None else set()
    problems += privileged_problems(project, values.get("namespaces") or [], robots)
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
    cores, mem = node_allocatable(pool, ebs_csi=uses_ebs_csi(values))
    if ak.threads_per_locale > cores or gib(ak.memory_per_locale) > mem:
        return [f"{key_path(project, 'arkouda', ('threadsPerLocale',))}: {ak.threads_per_locale} cores / "
                f"{ak.memory_per_locale} per locale is more than a node of pool {pool.name} offers (about {cores:g} "
                f"cores / {mem:.1f} GiB allocatable)"]
    if ak.locales > pool.max_size:
        return [f"{key_path(project, 'arkouda', ('locales',))}: {ak.locales} locales need {ak.locales} nodes, but "
                f"pool {pool.name} has maxSize {pool.max_size}"]
    short = arkouda_budget(ak).shortfall(ak.quota) if ak.quota is not None else []
    if short:
        return [f"{key_path(project, 'arkouda', ('quota',))}: does not admit the {ak.locales} locales "
                f"({'; '.join(short)}); raise it or leave it out (the default admits them)"]
    return []


def _federation_problems(project: str, fed: Any, values: dict[str, Any], namespaces: set[str], secret_names: set[str],
                         raw_secrets: dict[str, Any]) -> list[str]:
    """Federation needs a cluster; names unique; namespaces known; external kubeconfigs well formed."""
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
    return problems + _federation_network_problems(project, fed, values)


def _federation_network_problems(project: str, fed: Any, values: dict[str, Any]) -> list[str]:
    """Admiralty's tested Kubernetes versions; a network path for every target that runs Dask workers; no
    overlapping networks."""
    problems = []
    version = values["cluster"].version
    if version not in ADMIRALTY_TESTED_KUBERNETES and not fed.allow_untested_kubernetes:
        problems.append(f"{key_path(project, 'cluster', ('version',))}: {render_value(version)} is not a Kubernetes "
                        f"version Admiralty {fed.admiralty_version} was tested on ({', '.join(ADMIRALTY_TESTED_KUBERNETES)}); "
                        f"choose one of those, or set {project}:federation.allowUntestedKubernetes: true to accept it "
                        "(README: Federation, Kubernetes versions)")
    cluster, network = values["cluster"], network_of(values)
    if network.nat_strategy == "none" and any(t.kind == "stack" for t in fed.targets):
        problems.append(f"{key_path(project, 'network', ('natStrategy',))}: \"none\": Admiralty here calls each target "
                        "stack's API from this VPC's NAT addresses (its egressCidrs); with no NAT it cannot reach them")
    for i, s in enumerate(fed.sources):
        if s.stack and not cluster.endpoint_public_access:
            problems.append(f"{key_path(project, 'federation', ('sources', i, 'stack'))}: the source calls this cluster's "
                            f"public API endpoint, but {project}:cluster.endpointPublicAccess is false")
    dask = values.get("dask")
    own = [ipaddress.IPv4Network(network_of(values).cidr), ipaddress.IPv4Network(values["cluster"].service_cidr)]
    for i, t in enumerate(fed.targets):
        runs_dask = dask is not None and dask.workers.federated and t.namespace in (None, dask.namespace)
        if runs_dask and t.path == "none":
            problems.append(f"{key_path(project, 'federation', ('targets', i, 'network'))}: {render_value(t.network)}: "
                            f"target {t.name} would run Dask workers with no network path back to the scheduler; use "
                            "vpn with the target's cidrs (README: Federation, network paths) or remove the target")
        for j, c in enumerate(t.cidrs):
            clash = [str(n) for n in own if n.overlaps(ipaddress.IPv4Network(c))]
            if clash:
                problems.append(f"{key_path(project, 'federation', ('targets', i, 'cidrs', j))}: {render_value(c)} "
                                f"overlaps this stack's {' and '.join(clash)}; routed networks must not overlap")
    return problems + _open_cidr_problems(project, fed)


def _open_cidr_problems(project: str, fed: Any) -> list[str]:
    """vpn targets' cidrs may reach the Dask worker ports (security group rules, NetworkPolicy ipBlocks): judged on
    the public addresses they cover together, per target and over all targets (one security group takes them all)."""
    why_each = [(i, t, too_open(t.cidrs)) for i, t in enumerate(fed.targets) if t.cidrs]
    problems = [f"{key_path(project, 'federation', ('targets', i, 'cidrs'))}: {render_value(t.cidrs)} {why}" + OPEN_WORKERS
                for i, t, why in why_each if why]
    every = [c for t in fed.targets for c in t.cidrs]
    why = None if problems else too_open(every)
    if why:
        problems.append(f"{key_path(project, 'federation', ('targets',))}: the vpn targets' cidrs {render_value(every)} "
                        f"{why}" + OPEN_WORKERS)
    return problems


OPEN_WORKERS = (f"; the Dask worker ports would be open to much of the internet; allowed: the target's node and pod "
                f"networks, together at most a /{MAX_OPEN_V4_PREFIX} of public addresses (private ranges do not count)")


def network_of(values: dict[str, Any]) -> NetworkConfig:
    """The stack's network section (its defaults when unset)."""
    return values.get("network") or NetworkConfig.model_validate({})


def _dask_capacity_problems(project: str, dask: Any, pool: Any, ebs_csi: bool, local_delegates: bool = False) -> list[str]:
    """A maximum the worker pool cannot hold, and a configured quota that cannot admit the workers."""
    per_node = workers_per_node(dask, pool, ebs_csi)
    if per_node == 0:
        return [f"{key_path(project, 'dask', ('workers', 'spill'))}: {render_value(dask.workers.spill)} of spill is "
                f"more local disk than a node of pool {pool.name} offers (about {node_capacity(pool, ebs_csi).free_ephemeral_gib:.0f} "
                "GiB after the images); lower it, raise the pool's volumeSizeGb, or use a type with instance store"]
    most = dask.workers.maximum
    if most > per_node * pool.max_size:
        return [f"{key_path(project, 'dask', ('workers', 'maximum'))}: {most} workers need "
                f"{math.ceil(most / per_node)} nodes of pool {pool.name} ({per_node} per node), but its "
                f"maxSize is {pool.max_size}"]
    short = dask_budget(dask, local_delegates).shortfall(dask.quota) if dask.quota is not None else []
    if short:
        twice = " (each twice: Admiralty's proxy pod and its delegate here)" if local_delegates else ""
        return [f"{key_path(project, 'dask', ('quota',))}: does not admit the scheduler, JupyterLab and the "
                f"{most} workers of workers.maximum, with room to replace {replacement_headroom(most)}{twice} "
                f"({'; '.join(short)}); raise it or leave it out (the default admits them)"]
    return []


def _on_demand_reason(pool: Any, nodes: int) -> str:
    """Why a pool would run `nodes` nodes of workers all on on-demand capacity, or "" when some can be spot."""
    if not pool.spot:
        return f"is pool {pool.name}, which is on-demand (spot: false)"
    if 0 < nodes <= pool.on_demand_base:  # the group launches its on-demand base first (botocore autoscaling docs)
        return (f"is pool {pool.name}, whose onDemandBase ({pool.on_demand_base}) covers the {nodes} node"
                f"{'s' if nodes > 1 else ''} the workers need at most")
    return ""


def _on_demand_worker_problems(project: str, dask: Any, groups: list[Any], ebs_csi: bool) -> list[str]:
    """Dask workers run on spot, the price the plan shows: a pool that would run all of them on-demand is refused
    unless the stack says so (workers.allowOnDemand, gpuWorkers.allowOnDemand)."""
    problems = []
    pool = dask_worker_pool(dask, groups)
    if pool is not None and not dask.workers.allow_on_demand:
        per_node = workers_per_node(dask, pool, ebs_csi)
        why = _on_demand_reason(pool, math.ceil(dask.workers.maximum / per_node) if per_node else 0)
        if why:
            problems.append(f"{key_path(project, 'dask', ('workers', 'pool'))}: {render_value(pool.name)} {why}, so every "
                            "Dask worker would run at the on-demand price; allowed: a spot pool (role worker), or "
                            f"{project}:dask.workers.allowOnDemand: true to accept that cost")
    gpu, gpu_pool = dask.gpu_workers, dask_gpu_pool(dask, groups)
    if gpu is not None and gpu_pool is not None and gpu_pool.gpu and not gpu.allow_on_demand:
        why = _on_demand_reason(gpu_pool, gpu.maximum)  # a node holds one worker at least: maximum bounds the nodes
        if why:
            problems.append(f"{key_path(project, 'dask', ('gpuWorkers', 'pool'))}: {render_value(gpu_pool.name)} {why}, "
                            "so every GPU worker would run at the on-demand price; allowed: a spot GPU pool, or "
                            f"{project}:dask.gpuWorkers.allowOnDemand: true to accept that cost")
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
        cores, mem = node_allocatable(workers, ebs_csi=uses_ebs_csi(values))
        request = cores_of(dask.workers.cpu_request) if dask.workers.cpu_request else dask.workers.cores
        if request > dask.workers.cores:
            problems.append(f"{key_path(project, 'dask', ('workers', 'cpuRequest'))}: "
                            f"{render_value(dask.workers.cpu_request)} is more than cores ({dask.workers.cores})")
        elif request > cores or gib(dask.workers.memory) > mem:
            problems.append(f"{key_path(project, 'dask', ('workers',))}: {request:g} cores / {dask.workers.memory} "
                            f"does not fit a node of pool {workers.name} (about {cores:g} cores / {mem:.1f} GiB "
                            "allocatable); lower cores (or set cpuRequest) or memory")
        else:
            problems += _dask_capacity_problems(project, dask, workers, uses_ebs_csi(values), has_local_delegates(values))
    sched = dask_scheduler_pool(dask, groups)
    if sched is None:
        problems.append(f"{key_path(project, 'dask', ('schedulerPool',))}: {render_value(dask.scheduler_pool)} is not a "
                        f"node group; groups: {', '.join(by_name) or 'none'}")
    elif sched.spot:
        problems.append(f"{key_path(project, 'dask', ('schedulerPool',))}: pool {sched.name} is spot; the scheduler "
                        "needs a pool with spot: false (losing it loses the computation; an on-demand base does not "
                        "pin the scheduler to the on-demand node)")
    else:
        cores, mem = node_allocatable(sched, ebs_csi=uses_ebs_csi(values))
        need_cpu, need_mem = gib(dask.scheduler_cpu), gib(dask.scheduler_memory)
        if dask.jupyter.enabled:  # JupyterLab runs on the scheduler's pool too
            need_cpu, need_mem = need_cpu + gib(dask.jupyter.cpu), need_mem + gib(dask.jupyter.memory)
        if need_cpu > cores or need_mem > mem:
            what = "scheduler" + (" + JupyterLab" if dask.jupyter.enabled else "")
            problems.append(f"{key_path(project, 'dask', ('schedulerMemory',))}: the {what} need {need_cpu:g} CPU / "
                            f"{need_mem:.1f} GiB, more than a node of pool {sched.name} offers (about {cores:g} cores / "
                            f"{mem:.1f} GiB allocatable); use a bigger schedulerPool or smaller requests")
    if sched is not None and dask.jupyter.keeps_home and len(pool_zones(sched, network_of(values))) > 1 and not sched.per_zone:
        problems.append(f"{key_path(project, 'dask', ('jupyter', 'home'))}: JupyterLab's home volume lives in one zone, "
                        f"but pool {sched.name} spans several, so a replaced node could come up where the volume cannot "
                        "attach; give that pool one zone (zones: [...]) or perZone: true, or set home: \"0\"")
    problems += gpu_worker_problems(project, dask, groups, uses_ebs_csi(values))
    problems += _on_demand_worker_problems(project, dask, groups, uses_ebs_csi(values))
    team = {n.name for n in values.get("namespaces") or []}
    for i, n in enumerate(dask.client_namespaces):
        if n not in team:
            problems.append(f"{key_path(project, 'dask', ('clientNamespaces', i))}: {render_value(n)} is not a namespace "
                            f"of cloudviper:namespaces; declared: {', '.join(sorted(team)) or 'none'}")
    if dask.jupyter.enabled and dask.jupyter.token_secret_value not in secret_names:
        problems.append(f"{key_path(project, 'dask', ('jupyter', 'tokenSecretValue'))}: "
                        f"{render_value(dask.jupyter.token_secret_value)} is not in {project}:{SECRET_VALUES}; set it with "
                        f"`pulumi config set --secret --path '{project}:{SECRET_VALUES}.{dask.jupyter.token_secret_value}' TOKEN`")
    return problems
