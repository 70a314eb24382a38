"""GPU and EFA node pools: the facts they are checked against and the names Kubernetes add-ons use (pure).

Facts come from infra/pricing/instance-facts.csv (EC2 DescribeInstanceTypes: GpuInfo, NetworkInfo.EfaInfo,
MaximumNetworkCards) and the price table's GPU counts.
"""

from __future__ import annotations

from infra.config.capacity import instance_facts

GPU_RESOURCE = "nvidia.com/gpu"  # what the NVIDIA device plugin advertises, and the GPU taint's key
EFA_RESOURCE = "vpc.amazonaws.com/efa"  # what the EFA device plugin advertises
# The Cluster Autoscaler's GPU label on AWS: a node with it but no allocatable GPU yet counts as not ready,
# so the autoscaler waits for the device plugin instead of adding more nodes.
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
EFA_LABEL = "cloudviper.io/efa"


def efa_interfaces_of(instance_type: str) -> int:
    """EFA interfaces a node gets: one per network card, up to the type's EFA maximum (0: no EFA)."""
    facts = instance_facts().get(instance_type)
    return min(facts.efa_interfaces, facts.network_cards) if facts and facts.efa_interfaces else 0


def check_gpus(types: list[str], counts: list[int]) -> None:
    """NVIDIA GPUs (the AMI, device plugin and resource are NVIDIA's), the same count on every type."""
    for t in types:
        facts = instance_facts().get(t)
        if facts is None:
            raise ValueError(f"gpu: {t} is not in infra/pricing/instance-facts.csv, so its GPU make is unknown; "
                             "use a current NVIDIA type such as g5, g6, g6e, p4d or p5")
        if facts.gpu_manufacturer != "NVIDIA":
            raise ValueError(f"gpu: {t} has {facts.gpu_manufacturer or 'no'} GPUs; only NVIDIA GPUs are supported "
                             "(the NVIDIA AMI and device plugin)")
    if len(set(counts)) > 1:
        shown = ", ".join(f"{t} {n}" for t, n in zip(types, counts, strict=True))
        raise ValueError(f"mixes GPU counts ({shown}); the autoscaler's template has one nvidia.com/gpu count per group")


def check_efa(types: list[str]) -> None:
    """Every type supports EFA, with the same number of interfaces."""
    missing = [t for t in types if not efa_interfaces_of(t)]
    if missing:
        raise ValueError(f"efa: {', '.join(missing)} do not support EFA (DescribeInstanceTypes EfaSupported); "
                         "EFA types include c5n.18xlarge, g5.12xlarge, g6.12xlarge, p4d.24xlarge and p5.48xlarge")
    if len({efa_interfaces_of(t) for t in types}) > 1:
        raise ValueError("efa: the types have different numbers of EFA interfaces; use one per group")
