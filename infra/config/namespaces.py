"""Namespace config: team namespaces with quotas and defaults, who may use them (RBAC), and their secrets."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, dns_label, quantity
from infra.config.errors import key_path

RESERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
PSS_LEVELS = ("privileged", "baseline", "restricted")  # Pod Security Standards, loosest first
SECRET_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")  # a Secret's data key (what a volume mounts as a file name)


def own_namespace(v: str) -> str:
    """A namespace name of ours: a DNS label and not a system namespace."""
    dns_label(v)
    if v in RESERVED_NAMESPACES or v.startswith("kube-"):
        raise ValueError("is a system namespace; pick another name")
    return v


class QuotaConfig(Model):
    """The namespace's total resource budget (a ResourceQuota)."""

    cpu: str = Field("64", description="Total CPU requests and limits, e.g. 64.")
    memory: str = Field("256Gi", description="Total memory requests and limits, e.g. 256Gi.")
    pods: int = Field(200, ge=1, le=100000, description="Most pods at once.")
    gpus: int = Field(0, ge=0, le=10000, description="Total nvidia.com/gpu requests (0: the namespace may use no GPU).")

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
    pod_security_warn: Optional[Literal["restricted", "baseline"]] = Field(
        None, description="Standard audited and warned about, when stricter than the one enforced (default: podSecurity).")
    quota: QuotaConfig = Field(default_factory=lambda: QuotaConfig.model_validate({}), description="Resource budget.")
    limits: LimitsConfig = Field(default_factory=lambda: LimitsConfig.model_validate({}), description="Container defaults.")
    federated: bool = Field(False, description="Let Admiralty send elected pods of this namespace to other clusters.")
    allow_privileged: bool = Field(False, description="Accept podSecurity: privileged, which admits pods with full host "
                                                      "access (privileged containers, the host's network, PIDs and files).")

    _n = field_validator("name")(classmethod(lambda cls, v: own_namespace(v)))

    @model_validator(mode="after")
    def _privileged(self) -> NamespaceConfig:
        # podSecurity privileged without allowPrivileged is refused by the checks across sections (workload_checks),
        # which know whether a job robot's podSecurity decides the level instead
        if self.allow_privileged and self.pod_security != "privileged":
            raise ValueError(f"allowPrivileged is for podSecurity privileged only (this one is {self.pod_security!r}); "
                             "leave it out")
        return self

    @model_validator(mode="after")
    def _warn(self) -> NamespaceConfig:
        if self.pod_security_warn is not None and PSS_LEVELS.index(self.pod_security_warn) < PSS_LEVELS.index(self.pod_security):
            raise ValueError(f"podSecurityWarn {self.pod_security_warn!r} is looser than podSecurity {self.pod_security!r}, "
                             "so it would warn about nothing; leave it out or pick a stricter level")
        return self


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
    """A grid pilot factory (PanDA Harvester): its Jobs, pods, ConfigMaps and proxy Secret in a namespace of its own."""

    name: str = Field(description="Service account name (DNS label).")
    namespace: str = Field(description="Its own namespace: one of cloudviper:namespaces that nothing else uses.")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups of IAM principals that act as this robot.")
    pod_security: Literal["restricted", "baseline"] = Field(
        "restricted", description="Standard enforced on its namespace; baseline admits pilots without a securityContext "
                                  "(audit and warn stay restricted).")
    proxy_secret_value: Optional[str] = Field(
        None, description="Name in cloudviper:secretValues of a grid proxy, put in the Opaque Secret proxy-secret of its "
                          "namespace (unset: Harvester's credential manager pushes it).")
    proxy_secret_key: str = Field("x509up", description="Key of the proxy in proxy-secret: the file name pilots see "
                                                        "(Harvester's proxySecretPath is <mount>/<key>).")
    long_lived_token: bool = Field(False, description="Create the token Secret <name>-token, valid until deleted, for a "
                                                      "Harvester that cannot use an IAM group.")

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))

    @field_validator("proxy_secret_key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not SECRET_KEY_RE.match(v):
            raise ValueError("is not a Secret key: letters, digits, '-', '_' and '.' only")
        return v


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


def privileged_problems(project: str, namespaces: Sequence[NamespaceConfig], robot_namespaces: Collection[str]) -> list[str]:
    """A namespace enforcing the privileged Pod Security level only when the stack says so (allowPrivileged).

    The Pod Security Standards' privileged level "is purposely-open, and entirely unrestricted" and "allows for known
    privilege escalations" (kubernetes.io/docs/concepts/security/pod-security-standards/). A job robot's namespace is
    left to robots.robot_problems, which refuses any level set on it."""
    return [f"{key_path(project, 'namespaces', (i, 'podSecurity'))}: \"privileged\" lets every pod of {n.name} run "
            "privileged containers with the host's network, PIDs and files; allowed: restricted or baseline, or set "
            f"{key_path(project, 'namespaces', (i, 'allowPrivileged'))}: true to accept that"
            for i, n in enumerate(namespaces)
            if n.pod_security == "privileged" and not n.allow_privileged and n.name not in robot_namespaces]
