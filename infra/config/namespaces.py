"""Namespace config: team namespaces with quotas and defaults, who may use them (RBAC), and their secrets."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, dns_label, quantity

RESERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")


class QuotaConfig(Model):
    """The namespace's total resource budget (a ResourceQuota)."""

    cpu: str = Field("64", description="Total CPU requests and limits, e.g. 64.")
    memory: str = Field("256Gi", description="Total memory requests and limits, e.g. 256Gi.")
    pods: int = Field(200, ge=1, le=100000, description="Most pods at once.")
    gpus: int = Field(0, ge=0, le=10000, description="Total nvidia.com/gpu requests.")

    _q = field_validator("cpu", "memory")(classmethod(lambda cls, v: quantity(v)))


class LimitsConfig(Model):
    """Per-container defaults (a LimitRange), so pods without resources still fit the quota."""

    default_cpu_request: str = Field("250m", description="CPU request of a container that sets none.")
    default_cpu_limit: str = Field("1", description="CPU limit of a container that sets none (the quota limits CPU, "
                                                    "so a pod without one would be refused); a container requesting "
                                                    "more must set its own.")
    default_memory_request: str = Field("1Gi", description="Memory request of a container that sets none.")
    default_memory_limit: str = Field("4Gi", description="Memory limit of a container that sets none.")

    _q = field_validator("default_cpu_request", "default_cpu_limit", "default_memory_request", "default_memory_limit")(
        classmethod(lambda cls, v: quantity(v)))


class NamespaceConfig(Model):
    """A team namespace with a Pod Security Standard, a quota and container defaults."""

    name: str = Field(description="Namespace name (DNS label).")
    pod_security: Literal["restricted", "baseline", "privileged"] = Field(
        "restricted", description="Pod Security Standard enforced on the namespace.")
    quota: QuotaConfig = Field(default_factory=lambda: QuotaConfig.model_validate({}), description="Resource budget.")
    limits: LimitsConfig = Field(default_factory=lambda: LimitsConfig.model_validate({}), description="Container defaults.")
    federated: bool = Field(False, description="Let Admiralty send elected pods of this namespace to other clusters.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        dns_label(v)
        if v in RESERVED_NAMESPACES or v.startswith("kube-"):
            raise ValueError("is a system namespace; pick another name")
        return v


class NamespaceAccessConfig(Model):
    """People (an IAM-mapped group or user) with edit or view rights in one namespace."""

    namespace: str = Field(description="The namespace.")
    group: Optional[str] = Field(None, description="Kubernetes group (from cluster.accessEntries[].groups).")
    user: Optional[str] = Field(None, description="Or a Kubernetes user name.")
    access: Literal["edit", "view"] = Field("view", description="edit (no RBAC changes) or view (read, no secrets).")

    @model_validator(mode="after")
    def _subject(self) -> NamespaceAccessConfig:
        if (self.group is None) == (self.user is None):
            raise ValueError("set exactly one of group or user")
        return self


class JobRobotConfig(Model):
    """A job-submission service (pilot factory): pods and jobs in one namespace, nothing else."""

    name: str = Field(description="Service account name (DNS label).")
    namespace: str = Field(description="The only namespace it may use.")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups of IAM principals that act as this robot.")

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))


class MonitorConfig(Model):
    """A read-only monitor: get/list/watch nodes, pods, events and namespaces; no secrets."""

    name: str = Field(description="Service account name (DNS label), created in kube-system.")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups of IAM principals with the same rights.")

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))


class RbacConfig(Model):
    """Who may do what in the cluster (admins are cluster.admins)."""

    namespace_access: list[NamespaceAccessConfig] = Field(default_factory=list, description="Namespace users and viewers.")
    job_robots: list[JobRobotConfig] = Field(default_factory=list, description="Job-submission robots.")
    monitors: list[MonitorConfig] = Field(default_factory=list, description="Read-only monitors.")


class SecretConfig(Model):
    """A Kubernetes Secret filled from encrypted stack config (cloudviper:secretValues)."""

    name: str = Field(description="Secret name (DNS label).")
    namespace: str = Field(description="Namespace of the Secret.")
    type: Literal["Opaque", "kubernetes.io/dockerconfigjson"] = Field("Opaque", description="Secret type.")
    values: dict[str, str] = Field(description="Secret key -> name of the value in cloudviper:secretValues.")

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))

    @model_validator(mode="after")
    def _docker(self) -> SecretConfig:
        if self.type == "kubernetes.io/dockerconfigjson" and set(self.values) != {".dockerconfigjson"}:
            raise ValueError("a kubernetes.io/dockerconfigjson Secret has exactly one key: .dockerconfigjson")
        if not self.values:
            raise ValueError("values must name at least one key")
        return self
