"""Node pool config: self-managed node groups (instance types, spot, labels, taints, SMT)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model
from infra.pricing.tables import PricingError, load_prices

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


def _arch(instance_type: str) -> str:
    """arm64 for Graviton families (a1, and a `g` after the generation digit: m6g, c7gn, r8gd)."""
    family = instance_type.split(".")[0]
    if family == "a1":
        return "arm64"
    m = re.match(r"^[a-z]+\d+([a-z-]*)$", family)
    return "arm64" if m and "g" in m.group(1).split("-")[0] else "x86_64"


class NodeGroupConfig(Model):
    """One self-managed node group: a launch template and an Auto Scaling group."""

    name: str = Field(description="Short name (lowercase, digits, hyphens, at most 20), e.g. `workers`.")
    role: POOL_ROLES = Field("worker", description="system (add-ons), scheduler (Dask scheduler, Jupyter), worker (spot) "
                                                   "or compute (stateful, e.g. Arkouda locales).")
    instance_types: list[str] = Field(min_length=1, max_length=20, description="Instance types of one vCPU/memory shape.")
    min_size: int = Field(0, ge=0, le=1000, description="Smallest number of nodes (0 lets the pool idle at no cost).")
    max_size: int = Field(ge=1, le=1000, description="Largest number of nodes the autoscaler may reach.")
    spot: bool = Field(True, description="Use spot capacity above onDemandBase (price-capacity-optimized).")
    on_demand_base: int = Field(0, ge=0, le=1000, description="Nodes always on-demand before any spot.")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes node labels.")
    taints: list[TaintConfig] = Field(default_factory=list, description="Kubernetes node taints.")
    disable_smt: bool = Field(False, description="One thread per core (hyperthreading off); not for .metal types.")
    gpu: bool = Field(False, description="Use the NVIDIA AMI variant (GPU instance types).")
    volume_size_gb: int = Field(50, ge=20, le=16384, description="Encrypted gp3 root volume size.")

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
        gpus = [load_prices().instance(t).gpus for t in self.instance_types]
        if self.gpu and not all(gpus):
            raise ValueError("gpu: true needs GPU instance types (e.g. g5.xlarge)")
        if not self.gpu and any(gpus):
            raise ValueError("has GPU instance types; set gpu: true so the NVIDIA AMI is used")
        return self

    @property
    def all_labels(self) -> dict[str, str]:
        """Configured labels plus the pool's identity (and the Dask convention for its role)."""
        labels = {"cloudviper.io/pool": self.name, "cloudviper.io/pool-role": self.role}
        if self.role in ("worker", "scheduler"):
            labels["k8s.dask.org/node-purpose"] = self.role
        return {**labels, **self.labels}

    @property
    def all_taints(self) -> list[TaintConfig]:
        """Configured taints; worker pools get the Dask worker taint unless they set their own."""
        if self.role == "worker" and not self.taints:
            return [TaintConfig.model_validate({"key": "k8s.dask.org/dedicated", "value": "worker"})]
        return list(self.taints)


NodeGroups = Annotated[list[NodeGroupConfig], Field(max_length=100)]
