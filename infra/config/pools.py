"""Node pool config: self-managed node groups (instance types, spot, labels, taints, SMT)."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.accelerators import (
    ACCELERATOR_LABEL,
    EFA_LABEL,
    GPU_RESOURCE,
    check_efa,
    check_gpus,
    efa_interfaces_of,
)
from infra.config.base import Model
from infra.config.capacity import instance_facts
from infra.pricing.instance_facts import instance_arch
from infra.pricing.tables import PricingError, load_prices

CAPACITY_LABEL = "cloudviper.io/capacity-type"  # spot / on-demand / mixed (OpenCost's spotLabel)

NODE_GROUP_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$")
LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
POOL_ROLES = Literal["system", "scheduler", "worker", "compute"]


class TaintConfig(Model):
    """A Kubernetes taint put on every node of the group."""

    key: str = Field(description="Taint key, e.g. k8s.dask.org/dedicated.")
    value: str = Field("", description="Taint value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field("NoSchedule", description="Taint effect.")

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not LABEL_KEY_RE.match(v):
            raise ValueError("is not a valid Kubernetes key (prefix/name, name at most 63 characters)")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: str) -> str:
        if not LABEL_VALUE_RE.match(v):
            raise ValueError("is not a valid Kubernetes label value")
        return v


# What a kubelet may put on its own Node with --node-labels (kubernetes/kubernetes
# staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go, IsKubeletLabel): any other key in a
# kubernetes.io or k8s.io namespace makes the kubelet exit at start, and the node never joins.
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type", "kubernetes.io/os", "kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
})
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
BURSTABLE_FAMILIES = ("t2", "t3", "t3a", "t4g")
# Labels cloudviper derives from the pool's name, role, spot and GPU settings (all_labels): the Dask, Arkouda and MPI
# pods, the system add-ons and OpenCost select or price nodes by them, so a pool may not claim another's identity
# (`cloudviper.io/pool: workers` on an on-demand pool would draw the Dask workers onto it).
RESERVED_LABEL_PREFIX = "cloudviper.io/"
# OpenCost also prices a node as spot by these (opencost/opencost pkg/cloud/aws/provider.go: `lifecycle: EC2Spot`,
# getUsageType's eks.amazonaws.com/capacityType SPOT and karpenter.sh/capacity-type spot): an on-demand pool that
# carried one would be priced as spot.
OPENCOST_SPOT_LABELS = ("lifecycle", "eks.amazonaws.com/capacityType", "karpenter.sh/capacity-type")
RESERVED_LABELS = ("k8s.dask.org/node-purpose", ACCELERATOR_LABEL, *OPENCOST_SPOT_LABELS)


def kubelet_may_set(key: str) -> bool:
    """Whether a kubelet may label its own Node with this key (the NodeRestriction rules)."""
    if "/" not in key:
        return True
    namespace = key.split("/", 1)[0]
    reserved = any(namespace == d or namespace.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))
    if not reserved or key in KUBELET_LABELS:
        return True
    return any(namespace == d or namespace.endswith("." + d) for d in KUBELET_LABEL_NAMESPACES)


def zone_split(total: int, zones: int) -> list[int]:
    """Spread `total` nodes over zones as evenly as possible, the first zones taking the remainder."""
    return [total // zones + (1 if i < total % zones else 0) for i in range(zones)]


def _arch(instance_type: str) -> str:
    """arm64 for Graviton families, else x86_64 (infra/pricing/instance_facts.py instance_arch)."""
    return instance_arch(instance_type)


class NodeGroupConfig(Model):
    """One self-managed node group: a launch template and an Auto Scaling group."""

    name: str = Field(description="Short name (lowercase, digits, hyphens, at most 20), e.g. `workers`.")
    role: POOL_ROLES = Field("worker", description="system (add-ons), scheduler (Dask scheduler, Jupyter), worker (spot) "
                                                   "or compute (stateful, e.g. Arkouda locales).")
    instance_types: list[str] = Field(min_length=1, max_length=20, description="Instance types of one vCPU/memory shape.")
    min_size: int = Field(0, ge=0, le=1000, description="Smallest number of nodes (0 lets the pool idle at no cost).")
    max_size: int = Field(ge=1, le=1000, description="Largest number of nodes the autoscaler may reach.")
    spot: bool = Field(True, description="Use spot capacity above onDemandBase (price-capacity-optimized).")
    on_demand_base: int = Field(0, ge=0, le=1000, description="Nodes always on-demand before any spot; on a spot pool "
                                                               "below maxSize (else no node would be spot).")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes node labels.")
    taints: list[TaintConfig] = Field(default_factory=list, description="Kubernetes node taints.")
    disable_smt: bool = Field(False, description="One thread per core (hyperthreading off); not for .metal types.")
    gpu: bool = Field(False, description="NVIDIA GPU types: the NVIDIA AMI, the device plugin, the accelerator label and "
                                         "the autoscaler's nvidia.com/gpu template.")
    gpu_taint: bool = Field(True, description="Taint GPU nodes nvidia.com/gpu=true:NoSchedule so only pods that tolerate "
                                              "it (pods requesting nvidia.com/gpu are given the toleration) use them.")
    efa: bool = Field(False, description="Elastic Fabric Adapter interfaces (one per network card) for MPI/NCCL; needs "
                                         "EFA-capable types and one zone; implies placementGroup.")
    placement_group: bool = Field(False, description="Launch the nodes in a cluster placement group (one zone, low "
                                                     "latency between nodes).")
    volume_size_gb: int = Field(50, ge=20, le=16384, description="Encrypted gp3 root volume size.")
    zones: Optional[list[str]] = Field(
        None, min_length=1, description="Zones of the VPC (network.azs) the pool uses; default all. One zone makes a "
                                        "single-zone pool for EBS-backed or tightly coupled work.")
    per_zone: bool = Field(False, description="One Auto Scaling group per zone, sizes split evenly; the autoscaler "
                                              "balances them and scales up in the zone a pending pod needs.")
    instance_refresh: bool = Field(False, description="Replace running nodes (rolling, drained first) when the "
                                                      "launch template changes, e.g. for a new AMI.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NODE_GROUP_NAME_RE.match(v):
            raise ValueError("must be 1-20 lowercase letters, digits or hyphens, not starting or ending with a hyphen")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not LABEL_KEY_RE.match(key):
                raise ValueError(f"label key {key!r} is not a valid Kubernetes key")
            if not LABEL_VALUE_RE.match(value):
                raise ValueError(f"label value {value!r} of {key} is not a valid Kubernetes label value")
            if key.startswith(RESERVED_LABEL_PREFIX) or key in RESERVED_LABELS:
                raise ValueError(f"label key {key!r} is set by cloudviper from the pool's name, role, spot and gpu "
                                 "settings (pods and OpenCost select nodes by it); leave it out and set those instead")
            if not kubelet_may_set(key):
                raise ValueError(f"label key {key!r} is in a kubernetes.io/k8s.io namespace a kubelet may not set on "
                                 "its own node (the node would never join); use your own prefix, e.g. example.org/, "
                                 "or node.kubernetes.io/")
        return v

    @field_validator("instance_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        table = load_prices()
        if len(set(v)) != len(v):
            raise ValueError("names a type twice")
        specs = []
        for t in v:
            try:
                specs.append(table.instance(t))
            except PricingError as exc:
                raise ValueError(str(exc)) from None
        shapes = {(s.vcpu, s.memory_gib) for s in specs}
        if len(shapes) > 1:
            shown = ", ".join(f"{s.name} {s.vcpu} vCPU/{s.memory_gib:g} GiB" for s in specs)
            raise ValueError(f"mixes shapes ({shown}); Cluster Autoscaler needs one vCPU/memory shape per group")
        arches = {_arch(t) for t in v}
        if len(arches) > 1:
            raise ValueError("mixes x86_64 and arm64 (Graviton) types; use one architecture per group")
        return v

    @property
    def arch(self) -> str:
        """CPU architecture of the group's types."""
        return _arch(self.instance_types[0])

    @model_validator(mode="after")
    def _consistent(self) -> NodeGroupConfig:
        if self.min_size > self.max_size:
            raise ValueError(f"minSize ({self.min_size}) is larger than maxSize ({self.max_size})")
        if self.disable_smt:
            metal = [t for t in self.instance_types if load_prices().instance(t).bare_metal]
            if metal:
                raise ValueError(f"disableSmt cannot be used with bare-metal types ({', '.join(metal)}): "
                                 "EC2 rejects CPU options for .metal instances")
            for t in self.instance_types:
                facts = instance_facts().get(t)
                if facts is None:
                    raise ValueError(f"disableSmt: no CPU facts for {t} in infra/pricing/instance-facts.csv")
                if not facts.valid_threads_per_core:
                    raise ValueError(f"disableSmt cannot be used with {t}: EC2 does not accept CPU options for it")
                if facts.default_threads_per_core != 2 or 1 not in facts.valid_threads_per_core:
                    raise ValueError(f"disableSmt: {t} runs one thread per core already; there is no SMT to turn off")
        burstable = {t.split(".")[0] in BURSTABLE_FAMILIES for t in self.instance_types}
        if len(burstable) > 1:
            raise ValueError("mixes burstable (t2/t3/t3a/t4g) and fixed-performance types; the group's launch "
                             "template sets CPU credits for burstable types, so use one kind per group")
        gpus = [load_prices().instance(t).gpus for t in self.instance_types]
        if self.gpu and not all(gpus):
            raise ValueError("gpu: true needs GPU instance types (e.g. g5.xlarge)")
        if not self.gpu and any(gpus):
            raise ValueError("has GPU instance types; set gpu: true so the NVIDIA AMI is used")
        if self.gpu:
            check_gpus(self.instance_types, gpus)
        if self.efa:
            check_efa(self.instance_types)
        if self.uses_placement_group and (self.zones is None or len(self.zones) != 1):
            what = "efa" if self.efa else "placementGroup"
            raise ValueError(f"{what} needs exactly one zone (zones: [<one of network.azs>]): a cluster placement "
                             "group lives in one zone, and EFA traffic does not leave its subnet")
        if self.uses_placement_group and self.burstable:  # EC2 user guide, placement-groups-limitations-cluster
            raise ValueError("placementGroup/efa: burstable (T) types cannot run in a cluster placement group")
        if self.uses_placement_group and self.per_zone:
            raise ValueError("perZone makes no sense with one zone (efa/placementGroup); leave it out")
        return self

    @property
    def uses_placement_group(self) -> bool:
        """A cluster placement group: asked for, or implied by EFA."""
        return self.placement_group or self.efa

    @property
    def gpus_per_node(self) -> int:
        """nvidia.com/gpu each node advertises (0 without GPUs)."""
        return load_prices().instance(self.instance_types[0]).gpus if self.gpu else 0

    @property
    def efa_interfaces(self) -> int:
        """vpc.amazonaws.com/efa each node advertises: one EFA interface per network card (0 without EFA)."""
        return efa_interfaces_of(self.instance_types[0]) if self.efa else 0

    @property
    def accelerator(self) -> str:
        """The accelerator label's value: nvidia-<model> (nvidia when the types' models differ)."""
        names = {instance_facts()[t].gpu_name for t in self.instance_types}
        return "nvidia-" + re.sub(r"[^a-z0-9]+", "-", names.pop().lower()).strip("-") if len(names) == 1 else "nvidia"

    @property
    def physical_cores(self) -> int:
        """Cores per node (every type of the group has the same vCPU count, hence the same cores)."""
        return instance_facts()[self.instance_types[0]].default_cores

    @property
    def burstable(self) -> bool:
        """T-family types, launched in standard credit mode (no surprise CPU-credit charges)."""
        return self.instance_types[0].split(".")[0] in BURSTABLE_FAMILIES

    @property
    def capacity_type(self) -> str:
        """spot (every node), on-demand (every node) or mixed (an on-demand base, spot above): OpenCost prices the
        nodes labelled spot at spot prices, the others at on-demand."""
        if not self.spot:
            return "on-demand"
        return "mixed" if self.on_demand_base else "spot"

    @property
    def all_labels(self) -> dict[str, str]:
        """Configured labels plus the pool's identity (the Dask convention for its role, the accelerator, EFA)."""
        labels = {"cloudviper.io/pool": self.name, "cloudviper.io/pool-role": self.role, CAPACITY_LABEL: self.capacity_type}
        if self.role in ("worker", "scheduler"):
            labels["k8s.dask.org/node-purpose"] = self.role
        if self.gpu:
            labels[ACCELERATOR_LABEL] = self.accelerator
        if self.efa:
            labels[EFA_LABEL] = "true"
        return {**labels, **self.labels}

    @property
    def all_taints(self) -> list[TaintConfig]:
        """Configured taints, the GPU taint on GPU pools (unless gpuTaint: false or set by hand), and on CPU worker
        pools without taints of their own the Dask worker taint (a GPU pool is for whatever requests GPUs)."""
        taints = list(self.taints)
        if self.gpu and self.gpu_taint and not any(t.key == GPU_RESOURCE for t in taints):
            taints.append(TaintConfig.model_validate({"key": GPU_RESOURCE, "value": "true"}))
        if self.role == "worker" and not self.gpu and not self.taints:
            return [TaintConfig.model_validate({"key": "k8s.dask.org/dedicated", "value": "worker"})]
        return taints


NodeGroups = Annotated[list[NodeGroupConfig], Field(max_length=100)]
