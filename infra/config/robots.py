"""Job robots (grid pilot factories): a namespace of their own, its Pod Security level and the grid proxy Secret.

A robot may create Jobs and Secrets in its namespace, so it can read every Secret there and act as every service
account there (Kubernetes "RBAC good practices", Workload creation). The checks keep everything else out of that
namespace; `expand_robots` turns a robot's podSecurity and proxySecretValue into the namespace and Secret entries
the components already build.
"""

from __future__ import annotations

from typing import Any

from infra.config.errors import key_path, render_value
from infra.config.namespaces import RbacConfig, SecretConfig
from infra.config.stack import SECRET_VALUES

PROXY_SECRET = "proxy-secret"  # Harvester's default secret_name (HSF/harvester k8s_secret_cred_manager.py:43)
OWN_NAMESPACE = "a job robot needs a namespace of its own (its Jobs can mount every Secret there)"


def _other_users(project: str, values: dict[str, Any], rbac: RbacConfig, robot_index: int) -> dict[str, str]:
    """Namespace -> who else uses it, for every persona and workload but this robot."""
    users: dict[str, str] = {}
    dask, arkouda, fed = values.get("dask"), values.get("arkouda"), values.get("federation")
    if dask is not None:
        users.setdefault(dask.namespace, f"the Dask namespace ({project}:dask.namespace)")
        for i, n in enumerate(dask.client_namespaces):
            users.setdefault(n, f"a Dask client namespace ({key_path(project, 'dask', ('clientNamespaces', i))})")
    if arkouda is not None:
        users.setdefault(arkouda.namespace, f"the Arkouda namespace ({project}:arkouda.namespace)")
    for i, a in enumerate(rbac.namespace_access):
        users.setdefault(a.namespace, f"a namespace people use ({key_path(project, 'rbac', ('namespaceAccess', i))})")
    for i, r in enumerate(rbac.job_robots[:robot_index]):
        users.setdefault(r.namespace, f"the namespace of job robot {r.name} ({key_path(project, 'rbac', ('jobRobots', i))})")
    if fed is not None:
        for kind, entries in (("sources", fed.sources), ("targets", fed.targets)):
            for i, e in enumerate(entries):
                if e.namespace is not None:  # a source's service account, or a target's kubeconfig Secret, lives there
                    users.setdefault(e.namespace, f"a federation namespace ({key_path(project, 'federation', (kind, i))})")
    return users


def robot_problems(project: str, values: dict[str, Any], secret_names: set[str]) -> list[str]:
    """Each robot in a declared namespace that no other persona, workload or Secret uses; its proxy value set."""
    rbac = values.get("rbac")
    if rbac is None:
        return []
    problems: list[str] = []
    team = {n.name: (i, n) for i, n in enumerate(values.get("namespaces") or [])}
    owners: dict[str, int] = {}
    for i, r in enumerate(rbac.job_robots):
        path = key_path(project, "rbac", ("jobRobots", i))
        other = _other_users(project, values, rbac, i).get(r.namespace)
        if other is not None:
            problems.append(f"{path}.namespace: {render_value(r.namespace)} is also {other}; {OWN_NAMESPACE}: add one "
                            f"to {project}:namespaces and use it for this robot only")
            continue
        if r.namespace not in team:
            problems.append(f"{path}.namespace: {render_value(r.namespace)} is not a namespace of this stack; {OWN_NAMESPACE}: "
                            f"add it to {project}:namespaces; declared: {', '.join(sorted(team)) or 'none'}")
            continue
        owners[r.namespace] = i
        k, ns = team[r.namespace]
        for field, level in (("podSecurity", None if ns.pod_security == "restricted" else ns.pod_security),
                             ("podSecurityWarn", ns.pod_security_warn)):
            if level is not None:
                problems.append(f"{key_path(project, 'namespaces', (k, field))}: {render_value(level)} is set on "
                                f"{r.namespace}, the namespace of job robot {r.name}, whose own podSecurity decides it; "
                                f"leave it out and set {path}.podSecurity (restricted or baseline)")
        ref = r.proxy_secret_value
        if ref is not None and ref not in secret_names:
            problems.append(f"{path}.proxySecretValue: {render_value(ref)} is not in {project}:{SECRET_VALUES}; set it with "
                            f"`pulumi config set --secret --path '{project}:{SECRET_VALUES}.{ref}' \"$(cat x509up)\"`")
    for i, sec in enumerate(values.get("secrets") or []):
        if sec.namespace not in owners:
            continue
        robot = rbac.job_robots[owners[sec.namespace]]
        if sec.name != PROXY_SECRET:
            problems.append(f"{key_path(project, 'secrets', (i, 'name'))}: {render_value(sec.name)} is in {sec.namespace}, "
                            f"the namespace of job robot {robot.name}, which can read every Secret there; only its grid "
                            f"proxy ({PROXY_SECRET}) may live there")
        elif robot.proxy_secret_value is not None:
            problems.append(f"{key_path(project, 'secrets', (i, 'name'))}: {render_value(sec.name)} in {sec.namespace} is "
                            f"also made from job robot {robot.name}'s proxySecretValue; keep one of the two")
    return problems


def expand_robots(values: dict[str, Any]) -> dict[str, Any]:
    """Section values with each robot's Pod Security level on its namespace and its proxy as a `secrets` entry."""
    rbac = values.get("rbac")
    if rbac is None or not rbac.job_robots:
        return values
    robots = {r.namespace: r for r in rbac.job_robots}
    namespaces = [n.model_copy(update={"pod_security": "baseline", "pod_security_warn": "restricted"})
                  if n.name in robots and robots[n.name].pod_security == "baseline" else n
                  for n in values.get("namespaces") or []]
    proxies = [SecretConfig.model_validate({"name": PROXY_SECRET, "namespace": r.namespace, "type": "Opaque",
                                            "values": {r.proxy_secret_key: r.proxy_secret_value}})
               for r in rbac.job_robots if r.proxy_secret_value is not None]
    return {**values, "namespaces": namespaces, "secrets": [*(values.get("secrets") or []), *proxies]}
