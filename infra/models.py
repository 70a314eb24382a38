"""Typed stack configuration: the user's API, one model per config key.

Field names are the camelCase keys users write in `Pulumi.<stack>.yaml`; every field has a
one-line description (shown in the README config reference) and a safe default.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# Regions look like us-east-1, eu-central-2, us-gov-west-1, ap-southeast-7.
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
# AWS tag keys/values: letters, digits, spaces and _ . : / = + - @ (EC2 is the strictest service).
TAG_CHARS_RE = re.compile(r"^[\w .:/=+\-@]*$")
BUCKET_LOGICAL_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$|^[a-z0-9]$")
BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_AZS = 6
# The private address ranges a VPC should use (RFC 1918 and the RFC 6598 shared range).
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
RESERVED_TAG_KEYS = ("project", "stack", "owner", "cost-center", "managed-by", "Name")


class Model(BaseModel):
    """Base for config models: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


def _check_tag_text(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"is longer than {limit} characters, the AWS limit for a tag {what}")
    if not TAG_CHARS_RE.match(value):
        raise ValueError(
            f"has characters AWS does not accept in a tag {what}; "
            "allowed: letters, digits, spaces and _ . : / = + - @"
        )
    return value


class TagsConfig(Model):
    """Cost-allocation tags put on every AWS resource (kops `cloudLabels`)."""

    project: str = Field("cloudviper", min_length=1, description="Value of the `project` tag.")
    owner: str = Field(min_length=1, description="Person or group responsible; the `owner` tag.")
    cost_center: str = Field(min_length=1, description="Budget the spending is charged to; the `cost-center` tag.")
    extra: dict[str, str] = Field(default_factory=dict, description="Further tags, key to value.")

    @field_validator("project", "owner", "cost_center")
    @classmethod
    def _tag_value(cls, v: str) -> str:
        return _check_tag_text(v, "value", 256)

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r} starts with 'aws:', which AWS reserves")
            if key in RESERVED_TAG_KEYS:
                raise ValueError(f"tag key {key!r} is set by cloudviper; use the matching field instead")
            if not key:
                raise ValueError("tag keys must not be empty")
            _check_tag_text(key, "key", 128)
            _check_tag_text(value, "value", 256)
        if len(v) > 40:
            raise ValueError("has more than 40 tags; AWS allows 50 per resource and cloudviper sets up to 10")
        return v


NatStrategy = Literal["none", "single", "per-az"]


class NetworkConfig(Model):
    """The VPC: address range, availability zones, NAT gateways, flow logs."""

    cidr: str = Field("10.0.0.0/16", description="VPC IPv4 range, a private network from /16 to /22.")
    az_count: Optional[int] = Field(
        None, ge=1, le=MAX_AZS, description="Use the first N available zones of the region (1-6)."
    )
    azs: Optional[list[str]] = Field(
        None, min_length=1, max_length=MAX_AZS, description="Or name the zones, e.g. [us-east-1a, us-east-1b]."
    )
    nat_strategy: NatStrategy = Field(
        "single", description="NAT gateways: none, single (cheapest) or per-az (survives an AZ outage)."
    )
    flow_logs: bool = Field(False, description="Send VPC flow logs to CloudWatch Logs.")
    flow_logs_retention_days: int = Field(30, ge=1, le=3653, description="How long flow logs are kept.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v, strict=True)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError) as exc:
            if "has host bits set" in str(exc):
                raise ValueError("has host bits set; use the network address, e.g. 10.0.0.0/16") from None
            raise ValueError("is not a valid IPv4 network; expected e.g. 10.0.0.0/16") from None
        if not 16 <= net.prefixlen <= 22:
            raise ValueError("must have a prefix from /16 to /22 (AWS allows /16 at most; /22 is the smallest that fits the subnet layout)")
        if not any(net.subnet_of(r) for r in PRIVATE_RANGES):
            raise ValueError("is not a private range; use 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")
        return v

    @field_validator("azs")
    @classmethod
    def _azs(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("names a zone twice")
        return v

    @model_validator(mode="after")
    def _one_zone_choice(self) -> NetworkConfig:
        if self.az_count is not None and self.azs is not None:
            raise ValueError("set either azCount or azs, not both")
        return self

    @property
    def zone_count(self) -> int:
        """How many availability zones the VPC spans."""
        if self.azs is not None:
            return len(self.azs)
        return self.az_count if self.az_count is not None else 2


class LifecycleConfig(Model):
    """When objects move to cheaper storage or expire."""

    glacier_ir_after_days: Optional[int] = Field(
        None, ge=1, le=36500, description="Move objects to Glacier Instant Retrieval after N days."
    )
    expire_after_days: Optional[int] = Field(
        None, ge=1, le=36500, description="Delete objects N days after creation (a delete marker if versioned)."
    )
    noncurrent_expire_after_days: Optional[int] = Field(
        None, ge=1, le=36500, description="Delete old object versions N days after they stop being current."
    )
    abort_incomplete_uploads_after_days: int = Field(
        7, ge=1, le=365, description="Remove unfinished multipart uploads after N days (they cost money, hold no data)."
    )

    @model_validator(mode="after")
    def _order(self) -> LifecycleConfig:
        g, e = self.glacier_ir_after_days, self.expire_after_days
        if g is not None and e is not None and e <= g:
            raise ValueError(
                f"expireAfterDays ({e}) must be later than glacierIrAfterDays ({g}); "
                "otherwise objects expire before they move"
            )
        return self


class BucketConfig(Model):
    """One S3 data bucket: private, encrypted, TLS-only, kept on `pulumi destroy` by default."""

    name: str = Field(description="Short logical name (lowercase, digits, hyphens), e.g. `raw`.")
    purpose: str = Field("data", min_length=1, max_length=256, description="What the bucket holds; its `purpose` tag.")
    bucket_name: Optional[str] = Field(
        None, description="Exact S3 bucket name; default `<project>-<stack>-<name>-<account id>`."
    )
    versioning: bool = Field(True, description="Keep old versions of overwritten and deleted objects.")
    encryption: Literal["kms", "s3"] = Field(
        "kms", description="kms: SSE-KMS with a stack key and bucket keys; s3: SSE-S3 (AES256)."
    )
    lifecycle: LifecycleConfig = Field(default_factory=lambda: LifecycleConfig.model_validate({}), description="Storage class and expiry rules.")
    allow_destroy: bool = Field(
        False, description="Let `pulumi destroy` delete the bucket and every object in it. Default: keep it."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not BUCKET_LOGICAL_RE.match(v):
            raise ValueError("must be 1-32 lowercase letters, digits or hyphens, not starting or ending with a hyphen")
        return v

    @field_validator("bucket_name")
    @classmethod
    def _bucket_name(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        if not BUCKET_NAME_RE.match(v) or ".." in v or v.startswith("xn--") or v.endswith("-s3alias"):
            raise ValueError("is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens")
        return v

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, v: str) -> str:
        return _check_tag_text(v, "value", 256)


Buckets = Annotated[list[BucketConfig], Field(max_length=50)]


# ----------------------------------------------------------------------------- cluster

K8S_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
PRINCIPAL_ARN_RE = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/[\w+=,.@/-]+$")
LOG_TYPES = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
DEFAULT_LOGS: tuple[LOG_TYPES, ...] = ("api", "audit", "authenticator")


class AccessEntryConfig(Model):
    """A person or robot that may use the Kubernetes API (an EKS access entry)."""

    principal_arn: str = Field(description="IAM role or user ARN, e.g. arn:aws:iam::123456789012:role/Scientists.")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups the principal belongs to (bound by RBAC).")

    @field_validator("principal_arn")
    @classmethod
    def _arn(cls, v: str) -> str:
        if not PRINCIPAL_ARN_RE.match(v):
            raise ValueError("is not an IAM role or user ARN; expected arn:aws:iam::<account>:role/<name>")
        return v


class AutoscalerConfig(Model):
    """Cluster Autoscaler settings."""

    image: str = Field("registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0",
                       description="Image; its minor version should match the cluster's.")
    scale_down_unneeded_time: str = Field("10m", pattern=r"^\d+[smh]$", description="How long a node must be unneeded before removal.")
    scale_down_delay_after_add: str = Field("10m", pattern=r"^\d+[smh]$", description="Wait after a scale-up before scaling down.")
    scale_down_utilization_threshold: float = Field(0.5, gt=0, le=1, description="Requested/allocatable below which a node may go.")
    expander: Literal["least-waste", "random", "most-pods", "price", "priority"] = Field(
        "least-waste", description="How to choose between node groups on scale-up.")


class TerminationHandlerConfig(Model):
    """AWS Node Termination Handler (queue mode) settings."""

    image: str = Field("public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.3", description="Image.")
    pod_termination_grace_period: int = Field(
        -1, ge=-1, le=110, description="Seconds each pod gets when a node drains; -1 uses the pod's own (fits the 2-minute spot notice)."
    )


class ClusterConfig(Model):
    """The EKS control plane."""

    version: Literal[K8S_VERSIONS] = Field("1.33", description="Kubernetes version (1.31-1.35; 1.31+ allows node packing).")  # type: ignore[valid-type]
    endpoint_public_access: bool = Field(True, description="Reach the API from the internet (only from publicAccessCidrs).")
    public_access_cidrs: list[str] = Field(default_factory=list, description="Networks allowed to the public API endpoint, e.g. your campus.")
    admins: list[str] = Field(default_factory=list, description="IAM principal ARNs given cluster-admin (EKS access policy).")
    access_entries: list[AccessEntryConfig] = Field(default_factory=list, description="Further principals mapped to Kubernetes groups.")
    creator_is_admin: bool = Field(True, description="The identity running `pulumi up` gets cluster-admin (it must, to deploy Kubernetes objects).")
    logs: list[LOG_TYPES] = Field(default_factory=lambda: list(DEFAULT_LOGS), description="Control-plane log types sent to CloudWatch.")
    log_retention_days: int = Field(30, ge=1, le=3653, description="How long control-plane logs are kept.")
    service_cidr: str = Field("172.20.0.0/16", description="Kubernetes service IP range; must not overlap the VPC.")
    node_packing: bool = Field(True, description="Schedule pods onto the fullest node that fits (NodeResourcesFit MostAllocated).")
    autoscaler: AutoscalerConfig = Field(default_factory=lambda: AutoscalerConfig.model_validate({}), description="Cluster Autoscaler.")
    termination_handler: TerminationHandlerConfig = Field(
        default_factory=lambda: TerminationHandlerConfig.model_validate({}), description="Node Termination Handler.")

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a network, e.g. 192.0.2.0/24") from None
            if net.prefixlen == 0:
                raise ValueError(f"{cidr} opens the API to the whole internet; name your networks")
        return v

    @field_validator("admins")
    @classmethod
    def _admins(cls, v: list[str]) -> list[str]:
        for arn in v:
            if not PRINCIPAL_ARN_RE.match(arn):
                raise ValueError(f"{arn!r} is not an IAM role or user ARN")
        return v

    @field_validator("service_cidr")
    @classmethod
    def _service_cidr(cls, v: str) -> str:
        try:
            ipaddress.IPv4Network(v, strict=True)
        except ValueError:
            raise ValueError("is not an IPv4 network, e.g. 172.20.0.0/16") from None
        return v

    @model_validator(mode="after")
    def _endpoint(self) -> ClusterConfig:
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ValueError(
                "endpointPublicAccess needs publicAccessCidrs (the networks you run kubectl and pulumi from); "
                "or set endpointPublicAccess: false and deploy from inside the VPC"
            )
        return self


# ----------------------------------------------------------------------------- node groups

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
        from infra.pricing import PricingError, load_prices

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
        from infra.pricing import load_prices

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


# ----------------------------------------------------------------------------- namespaces, RBAC, secrets

DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY_RE = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$")
RESERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")


def _dns_label(v: str) -> str:
    if not DNS_LABEL_RE.match(v):
        raise ValueError("must be a DNS label: 1-63 lowercase letters, digits or hyphens")
    return v


def _quantity(v: str) -> str:
    if not QUANTITY_RE.match(v):
        raise ValueError("is not a Kubernetes quantity, e.g. 500m, 2, 4Gi")
    return v


class QuotaConfig(Model):
    """The namespace's total resource budget (a ResourceQuota)."""

    cpu: str = Field("64", description="Total CPU requests and limits, e.g. 64.")
    memory: str = Field("256Gi", description="Total memory requests and limits, e.g. 256Gi.")
    pods: int = Field(200, ge=1, le=100000, description="Most pods at once.")
    gpus: int = Field(0, ge=0, le=10000, description="Total nvidia.com/gpu requests.")

    _q = field_validator("cpu", "memory")(classmethod(lambda cls, v: _quantity(v)))


class LimitsConfig(Model):
    """Per-container defaults (a LimitRange), so pods without resources still fit the quota."""

    default_cpu_request: str = Field("250m", description="CPU request of a container that sets none.")
    default_memory_request: str = Field("1Gi", description="Memory request of a container that sets none.")
    default_memory_limit: str = Field("4Gi", description="Memory limit of a container that sets none.")

    _q = field_validator("default_cpu_request", "default_memory_request", "default_memory_limit")(
        classmethod(lambda cls, v: _quantity(v)))


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
        _dns_label(v)
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

    _n = field_validator("name")(classmethod(lambda cls, v: _dns_label(v)))


class MonitorConfig(Model):
    """A read-only monitor: get/list/watch nodes, pods, events and namespaces; no secrets."""

    name: str = Field(description="Service account name (DNS label), created in kube-system.")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups of IAM principals with the same rights.")

    _n = field_validator("name")(classmethod(lambda cls, v: _dns_label(v)))


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

    _n = field_validator("name")(classmethod(lambda cls, v: _dns_label(v)))

    @model_validator(mode="after")
    def _docker(self) -> SecretConfig:
        if self.type == "kubernetes.io/dockerconfigjson" and set(self.values) != {".dockerconfigjson"}:
            raise ValueError("a kubernetes.io/dockerconfigjson Secret has exactly one key: .dockerconfigjson")
        if not self.values:
            raise ValueError("values must name at least one key")
        return self


# ----------------------------------------------------------------------------- Dask


class DaskWorkersConfig(Model):
    """Dask workers: one pod per worker, threads and memory limit derived from its resources."""

    replicas: int = Field(2, ge=0, le=10000, description="Worker pods to keep running (the Deployment recreates lost ones).")
    cores: int = Field(2, ge=1, le=512, description="CPU limit per worker in cores; also its --nthreads.")
    cpu_request: Optional[str] = Field(
        None, description="CPU request if lower than cores (e.g. 7500m so 8 threads fit an 8-core node after reserves).")
    memory: str = Field("8Gi", description="Memory per worker (request = limit); also its --memory-limit.")
    pool: Optional[str] = Field(None, description="Node group to run on (default: the first worker pool).")
    federated: bool = Field(False, description="Elect the workers for Admiralty, so they may run in federated clusters.")

    _q = field_validator("memory")(classmethod(lambda cls, v: _quantity(v)))
    _r = field_validator("cpu_request")(classmethod(lambda cls, v: v if v is None else _quantity(v)))


class JupyterConfig(Model):
    """An optional JupyterLab next to the scheduler."""

    enabled: bool = Field(False, description="Run JupyterLab.")
    image: str = Field("ghcr.io/dask/dask-notebook:2026.8.0", description="Notebook image, pinned by version.")
    cpu: str = Field("1", description="CPU for the notebook.")
    memory: str = Field("4Gi", description="Memory for the notebook (request = limit).")
    token_secret_value: str = Field("jupyterToken", description="Name of the token in cloudviper:secretValues.")

    _q = field_validator("cpu", "memory")(classmethod(lambda cls, v: _quantity(v)))


class DaskConfig(Model):
    """A spot-safe Dask cluster: scheduler on on-demand capacity, workers on spot, S3 through IRSA."""

    namespace: str = Field("dask", description="Namespace created for Dask.")
    image: str = Field("ghcr.io/dask/dask:2026.8.0", description="Scheduler and worker image, pinned by version.")
    scheduler_cpu: str = Field("1", description="Scheduler CPU.")
    scheduler_memory: str = Field("4Gi", description="Scheduler memory (request = limit).")
    scheduler_pool: Optional[str] = Field(None, description="Node group for the scheduler (default: the first scheduler pool, else system).")
    workers: DaskWorkersConfig = Field(default_factory=lambda: DaskWorkersConfig.model_validate({}), description="Workers.")
    jupyter: JupyterConfig = Field(default_factory=lambda: JupyterConfig.model_validate({}), description="JupyterLab.")
    termination_grace_seconds: int = Field(
        100, ge=10, le=115, description="Time a worker has to hand its data over; must fit the 2-minute spot notice.")

    _ns = field_validator("namespace")(classmethod(lambda cls, v: _dns_label(v)))
    _q = field_validator("scheduler_cpu", "scheduler_memory")(classmethod(lambda cls, v: _quantity(v)))


# ----------------------------------------------------------------------------- federation (Admiralty)


class FederationSourceConfig(Model):
    """A cluster allowed to send work to this one (target side)."""

    name: str = Field(description="Name of the source (DNS label); the source stack refers to it.")
    namespace: Optional[str] = Field(None, description="Accept its pods in this namespace only (namespaced Source).")
    cluster_wide: bool = Field(False, description="Accept its pods in every namespace (ClusterSource; an admin opt-in).")

    _n = field_validator("name")(classmethod(lambda cls, v: _dns_label(v)))

    @model_validator(mode="after")
    def _scope(self) -> FederationSourceConfig:
        if (self.namespace is None) == (not self.cluster_wide):
            raise ValueError("set either namespace (a namespaced Source) or clusterWide: true (a ClusterSource)")
        return self


DEFAULT_EXCLUDED_LABELS = r"^(kubernetes\.io/os|kubernetes\.io/arch|beta\.kubernetes\.io/.*|eks\.amazonaws\.com/.*)$"


class FederationTargetConfig(Model):
    """A cluster this one sends work to (source side)."""

    name: str = Field(description="Name of the target (DNS label); names its virtual node.")
    kind: Literal["stack", "external", "self"] = Field(
        description="stack: another stack of this project; external: a kubeconfig in secretValues; self: this cluster.")
    stack: Optional[str] = Field(None, description="For kind stack: the stack reference, e.g. organization/cloudviper/burst.")
    source_name: Optional[str] = Field(None, description="For kind stack: our name in its federation.sources (default: this stack's name).")
    kubeconfig_secret_value: Optional[str] = Field(None, description="For kind external: name of the kubeconfig in secretValues.")
    context: Optional[str] = Field(None, description="For kind external: kubeconfig context to use (default: current-context).")
    namespace: Optional[str] = Field(None, description="Send pods of this namespace only (namespaced Target).")
    cluster_wide: bool = Field(False, description="Send pods of every federated namespace (ClusterTarget).")
    excluded_labels_regexp: str = Field(
        DEFAULT_EXCLUDED_LABELS, description="Target node labels kept off the virtual node (keeps DaemonSets that select "
                                             "kubernetes.io/os off it).")

    _n = field_validator("name")(classmethod(lambda cls, v: _dns_label(v)))

    @field_validator("excluded_labels_regexp")
    @classmethod
    def _regexp(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"is not a regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _kind(self) -> FederationTargetConfig:
        if (self.namespace is None) == (not self.cluster_wide):
            raise ValueError("set either namespace (a namespaced Target) or clusterWide: true (a ClusterTarget)")
        if self.kind == "stack" and not self.stack:
            raise ValueError("kind stack needs stack: <organization>/<project>/<stack>")
        if self.kind == "external" and not self.kubeconfig_secret_value:
            raise ValueError("kind external needs kubeconfigSecretValue (the kubeconfig's name in secretValues)")
        if self.kind != "stack" and (self.stack or self.source_name):
            raise ValueError("stack and sourceName are for kind stack only")
        return self


class FederationConfig(Model):
    """Multi-cluster federation with Admiralty: who sends work here, where this cluster sends work."""

    admiralty_version: str = Field("0.17.0", description="Admiralty Helm chart version (oci://public.ecr.aws/admiralty/admiralty).")
    cert_manager_version: str = Field("v1.16.2", description="cert-manager Helm chart version (installed first).")
    sources: list[FederationSourceConfig] = Field(default_factory=list, description="Clusters allowed to send work here.")
    targets: list[FederationTargetConfig] = Field(default_factory=list, description="Clusters this one sends work to.")


# ----------------------------------------------------------------------------- Arkouda


class ArkoudaPersistenceConfig(Model):
    """Where Arkouda saves arrays."""

    kind: Literal["none", "pvc", "s3"] = Field("none", description="none, a PersistentVolumeClaim (EBS gp3), or the stack's S3 buckets through IRSA.")
    size: str = Field("100Gi", description="PVC size (kind pvc).")

    _q = field_validator("size")(classmethod(lambda cls, v: _quantity(v)))


class ArkoudaConfig(Model):
    """An Arkouda (Chapel) multi-locale server: locale pods first, then the server that SSHes into them."""

    namespace: str = Field("arkouda", description="Namespace created for Arkouda.")
    image: str = Field("bearsrus/arkouda-udp-server:v2025.01.13",
                       description="Server image, pinned by version; locales use the matching arkouda-udp-locale image.")
    locales: int = Field(2, ge=1, le=512, description="Number of locale pods (Chapel locales).")
    threads_per_locale: int = Field(4, ge=1, le=512, description="CPU cores per locale (request = limit).")
    memory_per_locale: str = Field("16Gi", description="Memory per locale (request = limit).")
    server_port: int = Field(5555, ge=1024, le=65535, description="Port clients connect to (ak.connect).")
    metrics_port: int = Field(5556, ge=1024, le=65535, description="Metrics port.")
    authentication: bool = Field(True, description="Clients need the server's token.")
    persistence: ArkoudaPersistenceConfig = Field(default_factory=lambda: ArkoudaPersistenceConfig.model_validate({}),
                                                  description="Where arrays are saved.")
    pool: Optional[str] = Field(None, description="Node group for the locales and server (default: the first compute pool).")

    _ns = field_validator("namespace")(classmethod(lambda cls, v: _dns_label(v)))
    _q = field_validator("memory_per_locale")(classmethod(lambda cls, v: _quantity(v)))

    @model_validator(mode="after")
    def _ports(self) -> ArkoudaConfig:
        if self.server_port == self.metrics_port:
            raise ValueError("serverPort and metricsPort must differ")
        return self


class StackConfig(Model):
    """Everything one stack is built from, validated before any resource is registered."""

    project: str = Field(description="Pulumi project name (from Pulumi.yaml).")
    stack: str = Field(description="Pulumi stack name.")
    region: str = Field(description="AWS region (`aws:region`).")
    tags: TagsConfig
    network: NetworkConfig = Field(default_factory=lambda: NetworkConfig.model_validate({}))
    buckets: Buckets = Field(default_factory=list)
    cluster: Optional[ClusterConfig] = None
    node_groups: NodeGroups = Field(default_factory=list)
    namespaces: list[NamespaceConfig] = Field(default_factory=list)
    rbac: RbacConfig = Field(default_factory=lambda: RbacConfig.model_validate({}))
    secrets: list[SecretConfig] = Field(default_factory=list)
    secret_value_names: list[str] = Field(default_factory=list, description="Names in cloudviper:secretValues (values stay out of the model).")
    dask: Optional[DaskConfig] = None
    federation: Optional[FederationConfig] = None
    arkouda: Optional[ArkoudaConfig] = None

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not REGION_RE.match(v):
            raise ValueError("is not an AWS region name; expected e.g. us-east-1")
        return v
