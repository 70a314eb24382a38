"""What one node of a pool offers to pods, computed the way the EKS AL2023 AMI's nodeadm does (pure).

    allocatable cpu    = online vCPUs - kube-reserved cpu (stepped percentages of the cores)
    allocatable memory = memory the kernel reports - kube-reserved memory (11 MiB x maxPods + 255 MiB)
                         - the hard eviction threshold (100 MiB)
    free for workloads = allocatable - the DaemonSets that run on every node

Sources are cited in tests/test_capacity.py. The one number the AMI does not give is how much of
the nominal memory the kernel keeps. Karpenter's measurements (on Bottlerocket, the AMI with the
largest overhead) stay under 7.5 % for most types but reach 10.6 % on small ones (c5.large), so
we subtract 11 % below 6 GiB and 7.5 % above; for large types that errs low (r5.4xlarge measures 2.9 %).
A pool's capacity is the smallest over its instance types (same shape, but maxPods can differ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any, Optional

from infra.pricing.instance_facts import InstanceFacts, read_facts
from infra.pricing.node_pods import NODE_DAEMONSETS
from infra.pricing.tables import load_prices

# nodeadm internal/kubelet/config.go getCPUMillicoresToReserve: (from, to) millicores -> 1/10000ths reserved
CPU_RESERVE_BANDS = ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, math.inf, 25))
EVICTION_HARD_MEMORY_MIB = 100  # evictionHard memory.available
DEFAULT_MAX_PODS = 110  # nodeadm's fallback when it cannot look the type up
VM_MEMORY_OVERHEAD = 0.075  # Karpenter VM_MEMORY_OVERHEAD_PERCENT default
SMALL_VM_MEMORY_OVERHEAD, SMALL_VM_GIB = 0.11, 6  # small types lose more (measured up to 10.6 %)
# Local disk: kubeReserved ephemeral-storage 1Gi and evictionHard nodefs.available 10 % (nodeadm);
# container images share that disk (the default Dask image unpacks to about 6 GB): the NodeConfig reserves
# IMAGE_ALLOWANCE_GIB for them as systemReserved, so allocatable (and the autoscaler tag) leave it out.
EPHEMERAL_RESERVED_GIB, EPHEMERAL_EVICTION = 1, 0.10
IMAGE_ALLOWANCE_GIB = 15


def kube_reserved_cpu_m(vcpus: int) -> int:
    """nodeadm's kube-reserved CPU in millicores for a node with this many online vCPUs."""
    total = vcpus * 1000
    # integer division per band, as nodeadm does it
    return sum(int((min(total, end) - start) * per_10000 // 10000)
               for start, end, per_10000 in CPU_RESERVE_BANDS if total > start)


def max_pods(facts: Optional[InstanceFacts]) -> int:
    """nodeadm's maxPods: ENIs on the default network card x (IPv4 addresses per ENI - 1) + 2."""
    if facts is None or not facts.max_enis:
        return DEFAULT_MAX_PODS
    return facts.max_enis * (facts.ipv4_per_eni - 1) + 2


def kube_reserved_memory_mib(pods: int) -> int:
    """nodeadm's kube-reserved memory for a node with this maxPods."""
    return 11 * pods + 255


@cache
def instance_facts() -> dict[str, InstanceFacts]:
    """The bundled DescribeInstanceTypes facts."""
    return read_facts()


@dataclass(frozen=True)
class NodeCapacity:
    """One node of a pool, as the kubelet and the scheduler will see it."""

    instance_type: str
    vcpus: int  # online: cores when SMT is off
    cpu_m: int  # allocatable
    memory_mib: int  # allocatable
    pods: int
    daemonset_cpu_m: int
    daemonset_memory_mib: int
    daemonset_pods: int
    ephemeral_gib: float = 0.0  # allocatable local disk (root volume, or the instance-store RAID0 array)
    gpus: int = 0  # nvidia.com/gpu (the NVIDIA device plugin)
    efa: int = 0  # vpc.amazonaws.com/efa (the EFA device plugin)

    @property
    def free_ephemeral_gib(self) -> float:
        """Local disk a workload pod can request (the image allowance is already reserved in allocatable)."""
        return max(0.0, self.ephemeral_gib)

    @property
    def free_pods(self) -> int:
        """Pod slots left for workloads (maxPods counts host-network DaemonSet pods too)."""
        return self.pods - self.daemonset_pods

    @property
    def free_cores(self) -> float:
        """Cores a workload pod can request after the per-node DaemonSets."""
        return (self.cpu_m - self.daemonset_cpu_m) / 1000

    @property
    def free_gib(self) -> float:
        """GiB a workload pod can request after the per-node DaemonSets."""
        return (self.memory_mib - self.daemonset_memory_mib) / 1024


def ephemeral_capacity_gib(group: Any) -> float:
    """The disk the kubelet's ephemeral storage lives on: the NVMe RAID0 array (nodeadm localStorage) when every
    type of the group has instance store, else the root volume (GiB)."""
    store_gb = instance_store_gb(group)
    return store_gb * 1e9 / 2**30 if store_gb else float(group.volume_size_gb)


def instance_store_gb(group: Any) -> int:
    """NVMe instance-store GB every type of the group has (0 if any has none): then nodeadm builds a RAID0 array."""
    sizes = [(instance_facts().get(t).nvme_storage_gb if instance_facts().get(t) else 0)  # type: ignore[union-attr]
             for t in group.instance_types]
    return min(sizes) if sizes else 0


def node_daemonsets(ebs_csi: bool, gpu: bool = False, efa: bool = False) -> list[Any]:
    """The DaemonSets that run on a node: the add-ons', and the device plugins on GPU and EFA nodes."""
    kinds = {"", *(("gpu",) if gpu else ()), *(("efa",) if efa else ())}
    return [d for d in NODE_DAEMONSETS if (ebs_csi or not d.only_with_ebs_csi) and d.only_on in kinds]


def type_capacity(name: str, disable_smt: bool, ebs_csi: bool = False, gpu: bool = False,
                  efa: bool = False) -> NodeCapacity:
    """One node of this instance type."""
    spec, facts = load_prices().instance(name), instance_facts().get(name)
    vcpus = spec.vcpu
    if disable_smt:
        vcpus = facts.default_cores if facts else spec.vcpu // 2
    pods = max_pods(facts)
    overhead = SMALL_VM_MEMORY_OVERHEAD if spec.memory_gib < SMALL_VM_GIB else VM_MEMORY_OVERHEAD
    memory = math.floor(spec.memory_gib * 1024 * (1 - overhead)) - kube_reserved_memory_mib(pods) - EVICTION_HARD_MEMORY_MIB
    daemonsets = node_daemonsets(ebs_csi, gpu, efa)
    return NodeCapacity(instance_type=name, vcpus=vcpus, cpu_m=vcpus * 1000 - kube_reserved_cpu_m(vcpus),
                        memory_mib=memory, pods=pods, daemonset_cpu_m=sum(d.cpu_m for d in daemonsets),
                        daemonset_memory_mib=sum(d.memory_mib for d in daemonsets), daemonset_pods=len(daemonsets))


def node_capacity(group: Any, ebs_csi: bool = False) -> NodeCapacity:
    """The least a node of the group offers: the minimum over its instance types of CPU, memory and pods."""
    gpus, efa = int(getattr(group, "gpus_per_node", 0)), int(getattr(group, "efa_interfaces", 0))
    caps = [type_capacity(t, group.disable_smt, ebs_csi, bool(gpus), bool(efa)) for t in sorted(group.instance_types)]
    least = min(caps, key=lambda c: (c.cpu_m, c.memory_mib, c.pods))
    # kubelet allocatable: capacity - kubeReserved 1Gi - systemReserved (images, our NodeConfig) - 10 % eviction
    disk = ephemeral_capacity_gib(group) * (1 - EPHEMERAL_EVICTION) - EPHEMERAL_RESERVED_GIB - IMAGE_ALLOWANCE_GIB
    return NodeCapacity(instance_type=least.instance_type, vcpus=min(c.vcpus for c in caps),
                        cpu_m=min(c.cpu_m for c in caps), memory_mib=min(c.memory_mib for c in caps),
                        pods=min(c.pods for c in caps), daemonset_cpu_m=least.daemonset_cpu_m,
                        daemonset_memory_mib=least.daemonset_memory_mib, daemonset_pods=least.daemonset_pods,
                        ephemeral_gib=round(disk, 3), gpus=gpus, efa=efa)


def gib(quantity: str) -> float:
    """A Kubernetes quantity in GiB (memory) or cores (cpu: m suffix)."""
    units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "Pi": 2**20, "k": 1e3 / 2**30, "M": 1e6 / 2**30,
             "G": 1e9 / 2**30, "T": 1e12 / 2**30, "P": 1e15 / 2**30, "m": 1e-3}
    for suffix in sorted(units, key=len, reverse=True):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * units[suffix]
    return float(quantity) / 2**30 if float(quantity) > 4096 else float(quantity)


def node_allocatable(group: Any, ebs_csi: bool = False) -> tuple[float, float]:
    """(cores, GiB) a workload pod can request on one node of the group."""
    cap = node_capacity(group, ebs_csi)
    return cap.free_cores, cap.free_gib
