"""Generated stack files for the benchmarks: a stack with N node groups or N namespaces, a federation hub with N
sources or N stack targets (each with its own small stack file naming the hub back, as the test stacks burst and
primary do), and the policy config that lets any of them pass (README "Config reference", "Policy pack").

The referenced stacks are small -- a source sends the pods of a federated namespace, not a Dask cluster of its own
(which would cost some 1.5 s more per source to plan) -- so the hub's own per-reference work is a large share of
what one more reference costs, and growth in it shows.

Every stack is written into a project folder made by tests/conftest.py copy_test_project.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
REF = "organization/cloudviper/"  # the DIY backend's organization placeholder, as tests/stacks/Pulumi.primary.yaml
SYSTEM = {"name": "system", "role": "system", "instanceTypes": ["t3.medium"], "minSize": 1, "maxSize": 2, "spot": False}
WORKERS = {"name": "workers", "role": "worker", "instanceTypes": ["m5.large", "m5a.large"], "minSize": 0, "maxSize": 4}
# Each pair's two VPCs must not overlap; with 10.<n>.0.0/16 a hub and at most 200 referenced stacks fit.
HUB_CIDR = "10.0.0.0/16"
# A Dask cluster sized to fit t3.medium and m5.large nodes, as tests/stacks/Pulumi.dev.yaml's.
DASK: dict[str, Any] = {
    "schedulerCpu": "500m",
    "schedulerMemory": "1Gi",
    "workers": {"minimum": 0, "maximum": 4, "cores": 1, "memory": "4Gi"},
}


def cidr(index: int) -> str:
    """The VPC range of the index-th referenced stack (0-based): 10.1.0.0/16 upwards, never the hub's."""
    if not 0 <= index < 200:
        raise ValueError(f"no VPC range for referenced stack {index}")
    return f"10.{index + 1}.0.0/16"


def base_config(vpc: str, groups: list[dict[str, Any]], cost_center: str) -> dict[str, Any]:
    """A small valid stack: region, tags, a VPC, the public API range and node groups (no Dask cluster)."""
    return {
        "aws:region": REGION,
        "cloudviper:tags": {"owner": "bench", "costCenter": cost_center},
        "cloudviper:network": {"cidr": vpc, "azs": [f"{REGION}a", f"{REGION}b"]},
        "cloudviper:cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
        "cloudviper:nodeGroups": groups,
    }


def small_pools(count: int) -> list[dict[str, Any]]:
    """Spot pools of one node at most (at maxSize the nodes claim VPC addresses: 100 larger pools would not fit the
    /16)."""
    return [{**WORKERS, "name": f"w{i}", "maxSize": 1} for i in range(count)]


def node_groups_config(count: int) -> dict[str, Any]:
    """`count` node groups (the config allows 100): the system pool and small ones."""
    return base_config(HUB_CIDR, [SYSTEM, *small_pools(count - 1)], "bench-pools")


def namespaces_config(count: int) -> dict[str, Any]:
    """The small stack with `count` team namespaces (each a quota and limits by default)."""
    config = base_config(HUB_CIDR, [SYSTEM, WORKERS], "bench-namespaces")
    config["cloudviper:namespaces"] = [{"name": f"team{i}"} for i in range(count)]
    return config


def big_config(groups: int, namespaces: int) -> dict[str, Any]:
    """A large stack: `groups` node groups (system, the Dask workers' and small ones), `namespaces` team namespaces
    and a Dask cluster."""
    config = base_config(HUB_CIDR, [SYSTEM, WORKERS, *small_pools(groups - 2)], "bench-big")
    config["cloudviper:namespaces"] = namespaces_config(namespaces)["cloudviper:namespaces"]
    config["cloudviper:dask"] = DASK
    return config


def federation(**lists: list[dict[str, Any]]) -> dict[str, Any]:
    """A federation block (Admiralty on the default Kubernetes version needs the opt-in, as the test stacks say)."""
    return {"allowUntestedKubernetes": True, **lists}


def sending_config(vpc: str, targets: list[dict[str, Any]], cost_center: str) -> dict[str, Any]:
    """A stack whose federated Dask workers go to `targets`, as tests/stacks/Pulumi.primary.yaml."""
    config = base_config(vpc, [SYSTEM, WORKERS], cost_center)
    config["cloudviper:dask"] = {**DASK, "workers": {**DASK["workers"], "federated": True}}
    config["cloudviper:federation"] = federation(targets=targets)
    return config


def pod_sending_config(vpc: str, targets: list[dict[str, Any]], cost_center: str) -> dict[str, Any]:
    """A stack without Dask that sends the pods of its federated namespace dask to `targets`."""
    config = base_config(vpc, [SYSTEM, WORKERS], cost_center)
    config["cloudviper:namespaces"] = [{"name": "dask", "federated": True}]
    config["cloudviper:federation"] = federation(targets=targets)
    return config


def receiving_config(vpc: str, sources: list[dict[str, Any]], cost_center: str) -> dict[str, Any]:
    """A stack (without a Dask cluster of its own) that accepts Dask workers from `sources` in namespace dask, as
    tests/stacks/Pulumi.burst.yaml."""
    config = base_config(vpc, [SYSTEM, WORKERS], cost_center)
    config["cloudviper:namespaces"] = [{"name": "dask", "quota": {"cpu": "40", "memory": "160Gi", "pods": 100}}]
    config["cloudviper:federation"] = federation(sources=sources)
    return config


def target_entry(name: str) -> dict[str, Any]:
    """A federation target of kind stack: the stack of that name, peered."""
    return {"name": name, "kind": "stack", "stack": REF + name, "namespace": "dask", "network": "peering"}


def source_entry(name: str) -> dict[str, Any]:
    """A federation source that is a stack of this project, its pods (the Dask workers) running as `dask`."""
    return {"name": name, "namespace": "dask", "stack": REF + name, "serviceAccounts": ["dask"]}


def write_stack(project: Path, name: str, config: dict[str, Any]) -> None:
    """Pulumi.<name>.yaml and a policy config without effective limits (the sweeps measure cost, not policy)."""
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    policy = {
        "allowed-regions": {"allowedRegions": [REGION]},
        "max-hourly-cost": {"maxHourlyUsd": 10**6},
        "instance-limits": {"maxInstancesPerGroup": 10**6, "maxInstancesPerStack": 10**7},
    }
    (project / "policies" / "config" / f"{name}.json").write_text(json.dumps(policy, indent=2) + "\n")


def write_peers(project: Path, hub: str, kind: str, count: int) -> list[str]:
    """The `count` stacks a hub references, each naming the hub back: for kind "sources" each sends pods to the hub
    (a target of kind stack), for "targets" each accepts the hub as a source. Their names, in order."""
    names = []
    for i in range(count):
        name = f"{hub}-{i}"
        if kind == "sources":
            write_stack(project, name, pod_sending_config(cidr(i), [target_entry(hub)], name))
        else:
            write_stack(project, name, receiving_config(cidr(i), [source_entry(hub)], name))
        names.append(name)
    return names


def hub_config(kind: str, peers: list[str]) -> dict[str, Any]:
    """The hub that references `peers`: as its sources (kind "sources") or as its stack targets ("targets")."""
    if kind == "sources":
        return receiving_config(HUB_CIDR, [source_entry(p) for p in peers], "bench-hub")
    return sending_config(HUB_CIDR, [target_entry(p) for p in peers], "bench-hub")
