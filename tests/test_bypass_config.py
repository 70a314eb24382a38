"""The bypass suite, config level: stacks that broke a promise (Dask on spot at a known cost, the API and the workers
not open to the internet, no privileged namespace by accident) are config errors naming the key, the value and what
is allowed; each has a "good" twin that still plans.

Each row: id, the test stack it starts from (tests/stacks/, valid as it is), the change, and what the problem line
must say: it starts with the key path, then shows the value, and contains the fragment (what is allowed).
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore
import pytest
import yaml

from infra.cli import main
from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.stack import StackConfig
from tests.conftest import copy_test_project, stack_file

Change = Callable[[dict[str, Any]], None]


def pool(c: dict[str, Any], name: str) -> dict[str, Any]:
    """The node group `name` of a stack's config."""
    return next(g for g in c["cloudviper:nodeGroups"] if g["name"] == name)


def add_pool(**group: Any) -> Change:
    return lambda c: c["cloudviper:nodeGroups"].append(group)


def both(*changes: Change) -> Change:
    def run(c: dict[str, Any]) -> None:
        for change in changes:
            change(c)
    return run


def set_in(section: str, *path: str, value: Any) -> Change:
    """cloudviper:<section>.<path...> = value (maps created on the way)."""
    def run(c: dict[str, Any]) -> None:
        node = c.setdefault(f"cloudviper:{section}", {})
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return run


def pool_set(name: str, **values: Any) -> Change:
    return lambda c: pool(c, name).update(values)


def namespace_set(name: str, **values: Any) -> Change:
    return lambda c: next(n for n in c["cloudviper:namespaces"] if n["name"] == name).update(values)


def add_target(**target: Any) -> Change:
    return lambda c: c["cloudviper:federation"]["targets"].append(target)


ON_DEMAND = {"name": "od", "role": "compute", "instanceTypes": ["m5.large"], "maxSize": 4, "spot": False}
SLASH_8S = [f"{i}.0.0.0/8" for i in range(11, 41)]  # 30 public /8s, about half a billion addresses
# a vpn path to a stack of this project (the offline plan reads the referenced stack's file: burst is a test stack)
VPN = {"name": "site", "kind": "stack", "stack": "organization/cloudviper/burst", "namespace": "dask", "network": "vpn"}
API = ("cluster", "publicAccessCidrs")

# (id, stack, change, key path, value as the message shows it, fragment)
REFUSED: list[tuple[str, str, Change, str, str, str]] = [
    # spot pools that can never launch a spot node: the Auto Scaling group fills its on-demand base first
    ("spot-base-equals-max", "dev", pool_set("workers", onDemandBase=4), "cloudviper:nodeGroups[workers].onDemandBase",
     "4", "is not below maxSize (4), so pool workers is declared spot but every node it can launch is on-demand (the "
          "group fills its on-demand base first); allowed: 0 to 3 (spot above it), or spot: false with role: compute"),
    ("spot-base-above-max", "dev", pool_set("workers", onDemandBase=9), "cloudviper:nodeGroups[workers].onDemandBase",
     "9", "is larger than maxSize (4)"),
    ("spot-compute-base-equals-max", "gpu", pool_set("gpu", role="compute", onDemandBase=4),
     "cloudviper:nodeGroups[gpu].onDemandBase", "4", "allowed: 0 to 3 (spot above it), or spot: false"),
    ("worker-pool-on-demand", "dev", pool_set("workers", spot=False), "cloudviper:nodeGroups[workers].spot", "false",
     "worker pools are spot above their onDemandBase"),
    # Dask workers on on-demand capacity without the stack saying so
    ("dask-workers-on-compute-pool", "dev", both(add_pool(**ON_DEMAND), set_in("dask", "workers", "pool", value="od")),
     "cloudviper:dask.workers.pool", '"od"', "is pool od, which is on-demand (spot: false), so every Dask worker would "
     "run at the on-demand price; allowed: a spot pool (role worker), or cloudviper:dask.workers.allowOnDemand: true"),
    ("dask-workers-on-system-pool", "dev", both(set_in("dask", "workers", "pool", value="system"),
                                                set_in("dask", "workers", "memory", value="1Gi")),
     "cloudviper:dask.workers.pool", '"system"', "which is on-demand (spot: false)"),
    ("dask-workers-within-on-demand-base", "dev", both(pool_set("workers", onDemandBase=3),
                                                       set_in("dask", "workers", "maximum", value=3)),
     "cloudviper:dask.workers.pool", '"workers"', "whose onDemandBase (3) covers the 3 nodes the workers need at most"),
    ("gpu-workers-on-demand-pool", "gpu", set_in("dask", "gpuWorkers", "pool", value="mpi"),
     "cloudviper:dask.gpuWorkers.pool", '"mpi"', "which is on-demand (spot: false), so every GPU worker would run at the "
     "on-demand price; allowed: a spot GPU pool, or cloudviper:dask.gpuWorkers.allowOnDemand: true"),
    ("gpu-workers-within-on-demand-base", "gpu", both(pool_set("gpu", onDemandBase=3),
                                                      set_in("dask", "gpuWorkers", "maximum", value=3)),
     "cloudviper:dask.gpuWorkers.pool", '"gpu"', "whose onDemandBase (3) covers the 3 nodes"),
    # a pool claiming another pool's identity labels (Dask workers select cloudviper.io/pool=workers)
    ("label-claims-worker-pool", "dev", add_pool(**ON_DEMAND, labels={"cloudviper.io/pool": "workers"}),
     "cloudviper:nodeGroups[od].labels", '{"cloudviper.io/pool": "workers"}', "is set by cloudviper from the pool's name"),
    ("label-claims-spot-price", "dev", pool_set("system", labels={"cloudviper.io/capacity-type": "spot"}),
     "cloudviper:nodeGroups[system].labels", '{"cloudviper.io/capacity-type": "spot"}', "leave it out"),
    # opencost/opencost pkg/cloud/aws/provider.go prices a node with these labels as spot, whatever it is
    ("label-claims-spot-for-opencost", "dev", add_pool(**ON_DEMAND, labels={"eks.amazonaws.com/capacityType": "SPOT"}),
     "cloudviper:nodeGroups[od].labels", '{"eks.amazonaws.com/capacityType": "SPOT"}', "is set by cloudviper"),
    ("label-claims-ec2spot-lifecycle", "dev", add_pool(**ON_DEMAND, labels={"lifecycle": "EC2Spot"}),
     "cloudviper:nodeGroups[od].labels", '{"lifecycle": "EC2Spot"}', "is set by cloudviper"),
    ("label-claims-dask-purpose", "dev", add_pool(**ON_DEMAND, labels={"k8s.dask.org/node-purpose": "worker"}),
     "cloudviper:nodeGroups[od].labels", '{"k8s.dask.org/node-purpose": "worker"}', "is set by cloudviper"),
    # the API endpoint open to the internet, whatever the prefixes
    ("api-everyone", "dev", set_in(*API, value=["0.0.0.0/0"]), "cloudviper:cluster.publicAccessCidrs",
     '["0.0.0.0/0"]', "opens the API to the whole internet"),
    ("api-two-halves", "dev", set_in(*API, value=["0.0.0.0/1", "128.0.0.0/1"]), "cloudviper:cluster.publicAccessCidrs",
     '["0.0.0.0/1", "128.0.0.0/1"]', "(the whole IPv4 internet), more than a /8"),
    ("api-many-slash-8s", "dev", set_in(*API, value=SLASH_8S), "cloudviper:cluster.publicAccessCidrs",
     '["11.0.0.0/8", ', "together cover 503,316,480 IPv4 addresses, more than a /8: that opens the API to much of the "
     "internet; allowed: your own networks, together at most a /8 of public addresses"),
    ("api-two-slash-8s", "dev", set_in(*API, value=["11.0.0.0/8", "203.0.113.0/24", "12.0.0.0/8"]),
     "cloudviper:cluster.publicAccessCidrs", '["11.0.0.0/8", "203.0.113.0/24", "12.0.0.0/8"]', "more than a /8"),
    # awsdocs/amazon-eks-user-guide latest/ug/clusters/cluster-endpoint.adoc: the blocks "cannot include reserved
    # addresses" (EKS refuses them at `pulumi up`), and a private range never reaches the public endpoint anyway
    ("api-private-range", "dev", set_in(*API, value=["11.0.0.0/8", "10.0.0.0/8"]),
     "cloudviper:cluster.publicAccessCidrs", '["11.0.0.0/8", "10.0.0.0/8"]',
     "overlaps the private or reserved range 10.0.0.0/8, which EKS refuses for the public endpoint"),
    # the Dask worker ports open to the internet through a vpn target's cidrs
    ("federation-vpn-many-slash-8s", "primary", add_target(**VPN, cidrs=SLASH_8S),
     "cloudviper:federation.targets[site].cidrs", '["11.0.0.0/8", ', "the Dask worker ports would be open to much of the "
     "internet; allowed: the target's node and pod networks"),
    ("federation-vpn-split-over-targets", "primary",
     both(add_target(**VPN, cidrs=["11.0.0.0/8"]), add_target(**{**VPN, "name": "site2"}, cidrs=["12.0.0.0/8"])),
     "cloudviper:federation.targets", 'cidrs ["11.0.0.0/8", "12.0.0.0/8"]', "together cover 33,554,432 IPv4 addresses"),
    # privileged namespaces only when the stack says so
    ("namespace-privileged", "dev", namespace_set("astro", podSecurity="privileged"),
     "cloudviper:namespaces[astro].podSecurity", '"privileged"', "allowed: restricted or baseline, or set "
     "cloudviper:namespaces[astro].allowPrivileged: true"),
    ("namespace-allow-privileged-stale", "dev", namespace_set("astro", allowPrivileged=True),
     "cloudviper:namespaces[astro]", '"allowPrivileged": true', "allowPrivileged is for podSecurity privileged only"),
    ("robot-namespace-privileged", "dev", namespace_set("grid", podSecurity="privileged"),
     "cloudviper:namespaces[grid].podSecurity", '"privileged"', "whose own podSecurity decides it"),
    ("robot-privileged", "dev", lambda c: c["cloudviper:rbac"]["jobRobots"][0].update(podSecurity="privileged"),
     "cloudviper:rbac.jobRobots[pilot-factory].podSecurity", '"privileged"', "expected 'restricted' or 'baseline'"),
]

# (id, stack, change, what must hold of the parsed config)
ACCEPTED: list[tuple[str, str, Change, Callable[[StackConfig], bool]]] = [
    ("spot-base-below-max", "dev", pool_set("workers", onDemandBase=3),
     lambda cfg: [g.capacity_type for g in cfg.node_groups] == ["on-demand", "mixed"]),
    ("on-demand-compute-pool", "dev", add_pool(**ON_DEMAND), lambda cfg: cfg.node_groups[-1].capacity_type == "on-demand"),
    ("dask-workers-on-compute-pool-allowed", "dev",
     both(add_pool(**ON_DEMAND), set_in("dask", "workers", "pool", value="od"),
          set_in("dask", "workers", "allowOnDemand", value=True)),
     lambda cfg: cfg.dask is not None and cfg.dask.workers.allow_on_demand and cfg.dask.workers.pool == "od"),
    ("dask-workers-beyond-on-demand-base", "dev", both(pool_set("workers", onDemandBase=3),
                                                       set_in("dask", "workers", "maximum", value=4)),
     lambda cfg: cfg.dask is not None and cfg.dask.workers.maximum == 4),
    ("gpu-workers-on-demand-pool-allowed", "gpu", both(set_in("dask", "gpuWorkers", "pool", value="mpi"),
                                                       set_in("dask", "gpuWorkers", "allowOnDemand", value=True)),
     lambda cfg: cfg.dask is not None and cfg.dask.gpu_workers is not None and cfg.dask.gpu_workers.allow_on_demand),
    ("gpu-workers-beyond-on-demand-base", "gpu", pool_set("gpu", onDemandBase=3),
     lambda cfg: cfg.dask is not None and cfg.dask.gpu_workers is not None and cfg.dask.gpu_workers.maximum == 4),
    ("arkouda-on-demand-locales", "arkouda", lambda c: None,
     lambda cfg: cfg.arkouda is not None and [g.spot for g in cfg.node_groups] == [False, False]),
    ("own-labels", "dev", pool_set("workers", labels={"example.org/team": "astro", "node.kubernetes.io/lab": "x"}),
     lambda cfg: cfg.node_groups[1].all_labels["cloudviper.io/pool"] == "workers"),
    ("api-half-a-slash-8", "dev", set_in(*API, value=["11.0.0.0/9", "198.51.100.0/24"]),
     lambda cfg: cfg.cluster is not None and len(cfg.cluster.public_access_cidrs) == 2),
    ("federation-vpn-site-networks", "primary", add_target(**VPN, cidrs=["192.168.0.0/20", "198.51.100.0/24"]),
     lambda cfg: cfg.federation is not None and cfg.federation.targets[-1].path == "vpn"),
    ("namespace-privileged-allowed", "dev", namespace_set("astro", podSecurity="privileged", allowPrivileged=True),
     lambda cfg: cfg.namespaces[0].pod_security == "privileged"),
    ("namespace-baseline", "dev", namespace_set("astro", podSecurity="baseline"),
     lambda cfg: cfg.namespaces[0].pod_security == "baseline"),
]


def changed(stack: str, change: Change) -> dict[str, Any]:
    values = copy.deepcopy(stack_file(stack).values)
    change(values)
    return values


@pytest.mark.parametrize(("stack", "change", "path", "value", "fragment"),
                         [pytest.param(*row[1:], id=row[0]) for row in REFUSED])
def test_a_bypass_is_a_config_error_naming_key_value_and_allowed(stack, change, path, value, fragment):
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", stack, changed(stack, change))
    lines = [p for p in info.value.problems if p.startswith(f"{path}: ") or p.startswith(f"{path} ")]
    assert lines, info.value.problems
    assert any(value in p and fragment in p for p in lines), lines


@pytest.mark.parametrize(("stack", "change", "holds"), [pytest.param(*row[1:], id=row[0]) for row in ACCEPTED])
def test_the_good_twin_is_accepted(stack, change, holds):
    cfg = parse_stack_config("cloudviper", stack, changed(stack, change))
    assert holds(cfg)


def test_the_bad_stacks_exit_2_from_plan_without_a_traceback(tmp_path, capsys):
    # in-process through infra.cli.main (as tests/test_cli_errors.py), so an escaping exception fails the test
    refused = 0
    for i, (name, stack, change, path, value, fragment) in enumerate(REFUSED):
        project = copy_test_project(tmp_path / str(i), (stack, "burst"))
        stack_path = project / f"Pulumi.{stack}.yaml"
        doc = yaml.safe_load(stack_path.read_text())
        change(doc["config"])
        stack_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        code = main(["plan", "--stack", stack, "--project-dir", str(project)])
        out, err = capsys.readouterr()
        assert code == 2, (name, out[-2000:], err)
        assert path in err and value in err and fragment in err and "Traceback" not in out + err, (name, err)
        refused += 1
    assert refused == len(REFUSED) >= 20


def test_the_on_demand_base_is_launched_first():
    # botocore autoscaling 2011-01-01 service-2.json, InstancesDistribution.OnDemandBaseCapacity: "This base portion
    # is launched first as your group scales." So a spot pool whose base reaches maxSize launches no spot node, and
    # workers that need no more nodes than the base all run on-demand.
    path = Path(botocore.__file__).parent / "data" / "autoscaling" / "2011-01-01" / "service-2.json.gz"
    shapes = json.loads(gzip.decompress(path.read_bytes()))["shapes"]
    doc = shapes["InstancesDistribution"]["members"]["OnDemandBaseCapacity"]["documentation"]
    assert "This base portion is launched first as your group scales." in doc
