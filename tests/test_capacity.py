"""Node capacity the way the EKS AL2023 AMI computes it, and the facts it is computed from.

Sources:
- awslabs/amazon-eks-ami tag v20260724 (81fec2e8): nodeadm/internal/kubelet/config.go,
  getCPUMillicoresToReserve (600/100/50/25 ten-thousandths of cores 1, 2, 3-4, 5+), getMemoryMebibytesToReserve
  (`11*maxPods + 255`), defaultKubeletSubConfig (evictionHard memory.available 100Mi, no systemReserved);
  nodeadm/internal/kubelet/eni_max_pods.go calculateStandardMaxPods (`DefaultMaxENIs*(Ipv4AddressesPerInterface-1)+2`,
  defaultMaxPods 110); instance-info.jsonl rows quoted below; the e2e fixture
  custom-max-pods-expression/expected-kubelet-config.json ("cpu": "70m" for a 2-CPU host).
- DaemonSets on every node: aws/amazon-vpc-cni-k8s v1.23.0 config/master/aws-k8s-cni.yaml (aws-node, aws-eks-nodeagent
  and the aws-vpc-cni-init init container: cpu 25m each, no memory; tolerations `operator: Exists`); eksctl
  pkg/addons/default/testdata/sample-1.25.json (EKS kube-proxy: cpu 100m, `operator: Exists`);
  kubernetes-sigs/aws-ebs-csi-driver chart 2.64.0 values.yaml (ebs-plugin 10m/40Mi, node-driver-registrar 10m/32Mi,
  liveness-probe 10m/32Mi; tolerateAllTaints: true).
- aws/karpenter-provider-aws v1.14.1: VM_MEMORY_OVERHEAD_PERCENT default 0.075 ("memory reserved for the
  hypervisor and underlying OS").
- moto 5.2.5 moto/ec2/resources/instance_types.json.gz: EC2 DescribeInstanceTypes output.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import moto
import pytest

from infra.config.capacity import (
    NODE_DAEMONSETS,
    kube_reserved_cpu_m,
    kube_reserved_memory_mib,
    max_pods,
    node_allocatable,
    node_capacity,
)
from infra.config.loader import parse_stack_config
from infra.config.pools import NodeGroupConfig
from infra.config.stackfile import load_stack_file
from infra.pricing.instance_facts import FACTS_FILE, read_facts, rows_from_describe, write_facts
from infra.pricing.tables import load_prices

MOTO_TYPES = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"


def pool(*types: str, smt_off: bool = False) -> NodeGroupConfig:
    return NodeGroupConfig.model_validate({"name": "p", "instanceTypes": list(types), "maxSize": 1,
                                           "disableSmt": smt_off})


def test_the_facts_table_is_describe_instance_types_for_every_priced_type(tmp_path):
    described = json.loads(gzip.open(MOTO_TYPES).read())
    priced = set(load_prices().instances)
    expected = tmp_path / "facts.csv"
    write_facts(rows_from_describe(v for k, v in described.items() if k in priced), expected)
    assert FACTS_FILE.read_text() == expected.read_text(), (
        "infra/pricing/instance-facts.csv is stale; regenerate it as SOURCES.md says")
    facts = read_facts()
    assert len(facts) == 1340
    for name, f in facts.items():  # two independent sources agree on the shape
        spec = load_prices().instance(name)
        assert (f.default_vcpus, f.memory_mib) == (spec.vcpu, round(spec.memory_gib * 1024)), name


@pytest.mark.parametrize(("vcpus", "reserved"), [(1, 60), (2, 70), (4, 80), (8, 90), (16, 110), (32, 150),
                                                 (48, 190), (64, 230), (96, 310)])
def test_kube_reserved_cpu_follows_nodeadm(vcpus, reserved):
    assert kube_reserved_cpu_m(vcpus) == reserved


@pytest.mark.parametrize(("instance_type", "pods"), [
    # instance-info.jsonl: {"instanceType":"t3.medium","defaultMaxENIs":3,"ipv4AddressesPerInterface":6} etc.
    ("t3.medium", 17), ("t3.large", 35), ("m5.large", 29), ("m5.xlarge", 58), ("m5.4xlarge", 234), ("g5.xlarge", 58),
    ("r5.4xlarge", 234), ("m5dn.4xlarge", 234),
])
def test_max_pods_follows_the_eni_formula(instance_type, pods):
    assert max_pods(read_facts()[instance_type]) == pods
    assert kube_reserved_memory_mib(pods) == 11 * pods + 255


def test_unknown_types_get_nodeadms_fallback():
    assert max_pods(None) == 110


def test_daemonsets_on_every_node():
    by_name = {d.name.split()[0]: d for d in NODE_DAEMONSETS}
    assert (by_name["aws-node"].cpu_m, by_name["aws-node"].memory_mib) == (50, 0)  # max(25 init, 25 + 25)
    assert (by_name["kube-proxy"].cpu_m, by_name["kube-proxy"].memory_mib) == (100, 0)
    assert (by_name["ebs-csi-node"].cpu_m, by_name["ebs-csi-node"].memory_mib) == (30, 104)
    assert by_name["ebs-csi-node"].only_with_ebs_csi


def test_reference_worker_node_arithmetic():
    cap = node_capacity(pool("r5.4xlarge", "r6a.4xlarge", "r7i.4xlarge", smt_off=True))
    assert cap.vcpus == 8  # SMT off: the physical cores are the online CPUs
    assert cap.cpu_m == 8000 - 90
    assert cap.pods == 234
    assert cap.memory_mib == int(131072 * 0.925) - (11 * 234 + 255) - 100 == 118312
    assert (cap.daemonset_cpu_m, cap.daemonset_memory_mib) == (150, 0)
    assert cap.free_cores == pytest.approx(7.76) and cap.free_gib == pytest.approx(115.539, abs=1e-3)
    with_ebs = node_allocatable(pool("r5.4xlarge", smt_off=True), ebs_csi=True)
    assert with_ebs == (pytest.approx(7.73), pytest.approx((118312 - 104) / 1024))


def test_the_reference_stacks_32_workers_fit_their_nodes_with_margin(stacks_dir):
    stack = load_stack_file(stacks_dir, "reference")
    cfg = parse_stack_config(stack.project, "reference", stack.values)
    workers = next(g for g in cfg.node_groups if g.name == "workers")
    assert cfg.dask is not None and workers.max_size == 32
    free_cores, free_gib = node_allocatable(workers)
    request = float(cfg.dask.workers.cpu_request.removesuffix("m")) / 1000  # type: ignore[union-attr]
    assert free_cores - request >= 0.25 and free_gib - 110 >= 5
    assert cfg.dask.workers.cores * workers.max_size == 256  # threads at maxSize


def test_small_types_lose_more_memory_to_the_kernel():
    # Karpenter's measured overhead (aws/karpenter-provider-aws pkg/providers/instancetype/
    # zz_generated.memory_overhead.go @15e87699c, Bottlerocket) reaches 10.6 % on c5.large (4 GiB).
    small = node_capacity(pool("c5.large"))
    assert small.memory_mib == int(4096 * 0.89) - (11 * 29 + 255) - 100
    assert node_capacity(pool("m5.large")).memory_mib == int(8192 * 0.925) - (11 * 29 + 255) - 100


def test_a_pool_offers_the_least_of_its_types():
    # Same shape, different maxPods: r8in.4xlarge has more ENI addresses, so more kube-reserved memory.
    mixed = node_capacity(pool("r5.4xlarge", "r8in.4xlarge"))
    alone = [node_capacity(pool(t)) for t in ("r5.4xlarge", "r8in.4xlarge")]
    assert mixed.memory_mib == min(c.memory_mib for c in alone) < max(c.memory_mib for c in alone)
    assert mixed.pods == min(c.pods for c in alone) and mixed.free_pods == mixed.pods - 2


def test_nodeadm_overrides_the_snapshot_where_they_disagree():
    assert read_facts()["i7ie.48xlarge"].max_enis == 15  # the snapshot says 8; nodeadm and the VPC CNI say 15


def test_an_smt_off_pool_uses_its_physical_cores():
    assert pool("m5.xlarge", smt_off=True).physical_cores == 2
    assert node_capacity(pool("m5.xlarge", smt_off=True)).vcpus == 2
    assert node_capacity(pool("m5.xlarge")).vcpus == 4
