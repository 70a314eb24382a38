"""Cluster config: the EKS control plane, who may use it, and its autoscaling and draining add-ons."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, pinned_image
from infra.config.cidrs import MAX_OPEN_V4_PREFIX, NOT_PUBLIC, too_open
from infra.pricing.eks_support import calendar

# Newest cluster-autoscaler patch release of each minor (kubernetes/autoscaler tags
# cluster-autoscaler-X.Y.Z); its README: "use the _latest_ Cluster Autoscaler release that
# corresponds to the minor version of Kubernetes that their cluster is running".
AUTOSCALER_RELEASES = {"1.31": "1.31.5", "1.32": "1.32.7", "1.33": "1.33.6", "1.34": "1.34.5", "1.35": "1.35.2",
                       "1.36": "1.36.1"}
AUTOSCALER_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
# Versions EKS has (infra/pricing/eks-versions.csv) and the add-ons are pinned for.
K8S_VERSIONS = tuple(v for v in calendar() if v in AUTOSCALER_RELEASES)
# The newest version in standard support on the calendar's date whose support dates and add-ons we
# have; tests/test_eks_versions.py keeps it in standard support for 90 days past that date.
DEFAULT_VERSION = "1.35"
# IAM roles and users only: EKS refuses an STS session (assumed-role) ARN in an access entry.
PRINCIPAL_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
# EKS KubernetesNetworkConfigRequest.serviceIpv4Cidr: inside these blocks, between /24 and /12.
SERVICE_CIDR_PARENTS = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
LOG_TYPES = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
DEFAULT_LOGS: tuple[LOG_TYPES, ...] = ("api", "audit", "authenticator")


def check_principal(arn: str) -> str:
    """The ARN, if EKS accepts it in an access entry (an IAM role or user, not an STS session)."""
    if ":sts::" in arn or ":assumed-role/" in arn:
        raise ValueError(f"{arn!r} is an STS session; EKS access entries take the role itself, "
                         "e.g. arn:aws:iam::<account>:role/<name> (with its path, if it has one)")
    if not PRINCIPAL_ARN_RE.match(arn):
        raise ValueError(f"{arn!r} is not an IAM role or user ARN; expected arn:aws:iam::<account>:role/<name>")
    return arn


def same_principal(a: str, b: str) -> bool:
    """Two IAM ARNs name one principal: same partition, account, kind (role/user) and name; the path may differ
    (an assumed-role session does not show its role's path)."""
    def key(arn: str) -> tuple[str, str, str, str]:
        parts = arn.split(":", 5)
        if len(parts) < 6 or "/" not in parts[5]:
            return (arn, "", "", "")
        kind, _, rest = parts[5].partition("/")
        return (parts[1], parts[4], kind, rest.rsplit("/", 1)[-1])
    return key(a) == key(b)


class AccessEntryConfig(Model):
    """A person or robot that may use the Kubernetes API (an EKS access entry)."""

    principal_arn: str = Field(description="IAM role or user ARN, e.g. arn:aws:iam::123456789012:role/Scientists.")
    groups: list[str] = Field(default_factory=list, description="Kubernetes groups the principal belongs to (bound by RBAC).")

    @field_validator("principal_arn")
    @classmethod
    def _arn(cls, v: str) -> str:
        return check_principal(v)


class AutoscalerConfig(Model):
    """Cluster Autoscaler settings."""

    image: Optional[str] = Field(None, description="Image; default: the newest release for the cluster's minor version "
                                                   "(a different minor is refused).")
    scale_down_unneeded_time: str = Field("10m", pattern=r"^\d+[smh]$", description="How long a node must be unneeded before removal.")
    scale_down_delay_after_add: str = Field("10m", pattern=r"^\d+[smh]$", description="Wait after a scale-up before scaling down.")
    scale_down_utilization_threshold: float = Field(0.5, gt=0, le=1, description="Requested/allocatable below which a node may go.")

    _pinned = field_validator("image")(classmethod(lambda cls, v: v if v is None else pinned_image(v)))
    # No `price`: the AWS provider has no pricing model, and the expander exits at start (klog.Fatalf).
    expander: Literal["least-waste", "least-nodes", "random", "most-pods", "priority"] = Field(
        "least-waste", description="How to choose between node groups on scale-up.")
    priorities: dict[int, list[str]] = Field(
        default_factory=dict, description="For expander priority: priority (higher wins) -> node group names; unlisted "
                                          "groups are used only when no listed group can take the pending pods.")

    @model_validator(mode="after")
    def _priorities(self) -> AutoscalerConfig:
        if self.expander == "priority" and not self.priorities:
            raise ValueError("expander priority needs priorities, e.g. {50: [workers], 10: [workers-od]}")
        if self.priorities and self.expander != "priority":
            raise ValueError("priorities are used by expander priority only; set expander: priority")
        if any(p < 1 for p in self.priorities):
            raise ValueError("priorities must be positive whole numbers (higher wins)")
        return self


# The release whose queue-mode contract infra/documents/termination.py follows.
NTH_IMAGE = "public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.6"


class TerminationHandlerConfig(Model):
    """AWS Node Termination Handler (queue mode) settings."""

    image: str = Field(NTH_IMAGE, description="Image (default: the release infra/documents/termination.py follows).")
    pod_termination_grace_period: int = Field(
        -1, ge=-1, le=110, description="Seconds each pod gets when a node drains; -1 uses the pod's own (fits the 2-minute spot notice)."
    )

    _pinned = field_validator("image")(classmethod(lambda cls, v: pinned_image(v)))


def version_text(v: object) -> object:
    """A version YAML read as a number, as text when that is unambiguous: 1.33 -> "1.33".

    YAML reads `version: 1.30` as the number 1.3, so a one-digit minor cannot tell 1.3 from 1.30: refused with how
    to write it; a two-digit minor is what was written."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    text = repr(v)
    minor = text.partition(".")[2]
    if isinstance(v, float) and len(minor) == 2:
        return text
    allowed = ", ".join(K8S_VERSIONS)
    if isinstance(v, int) or len(minor) != 1:
        raise ValueError(f"is a number, not a Kubernetes minor version; write it as text, e.g. version: "
                         f'"{DEFAULT_VERSION}" (allowed: {allowed})')
    raise ValueError(f"is a YAML number, and YAML drops trailing zeros (it may have been written {text}0); write the "
                     f'version as text: version: "{text}0" (allowed: {allowed})')


class ClusterConfig(Model):
    """The EKS control plane."""

    version: Literal[K8S_VERSIONS] = Field(  # type: ignore[valid-type]
        DEFAULT_VERSION, description="Kubernetes minor version (see infra/pricing/eks-versions.csv); the policy pack "
                                     "refuses one out of standard support unless extendedSupport is on.")
    extended_support: bool = Field(
        False, description="Stay on this version after its standard support ends, at the extended-support price "
                           "($0.60/h instead of $0.10/h). Off: EKS upgrades the cluster when standard support ends.")
    endpoint_public_access: bool = Field(True, description="Reach the API from the internet (only from publicAccessCidrs).")
    public_access_cidrs: list[str] = Field(default_factory=list, description="Networks allowed to the public API endpoint, e.g. your campus.")
    admins: list[str] = Field(default_factory=list, description="IAM role or user ARNs given cluster-admin (EKS access "
                                                                "policy); not STS sessions, not the deployer when creatorIsAdmin.")
    access_entries: list[AccessEntryConfig] = Field(default_factory=list, description="Further principals mapped to Kubernetes groups.")
    creator_is_admin: bool = Field(True, description="The identity running `pulumi up` gets cluster-admin (it must, to deploy Kubernetes objects).")
    logs: list[LOG_TYPES] = Field(default_factory=lambda: list(DEFAULT_LOGS), description="Control-plane log types sent to CloudWatch.")
    log_retention_days: int = Field(30, ge=1, le=3653, description="How long control-plane logs are kept.")
    service_cidr: str = Field("172.20.0.0/16", description="Kubernetes service IP range: private, /12 to /24, not "
                                                           "overlapping the VPC.")
    node_packing: bool = Field(True, description="Schedule pods onto the fullest node that fits (NodeResourcesFit MostAllocated).")
    autoscaler: AutoscalerConfig = Field(default_factory=lambda: AutoscalerConfig.model_validate({}), description="Cluster Autoscaler.")
    termination_handler: TerminationHandlerConfig = Field(
        default_factory=lambda: TerminationHandlerConfig.model_validate({}), description="Node Termination Handler.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: object) -> object:
        return version_text(v)

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                net = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                # botocore eks VpcConfigRequest.publicAccessCidrs: "You can't add IPv6 CIDR blocks to IPv4 clusters."
                raise ValueError(f"{cidr!r} is not an IPv4 network, e.g. 192.0.2.0/24 (the cluster is IPv4)") from None
            if net.prefixlen == 0:
                raise ValueError(f"{cidr} opens the API to the whole internet; name your networks")
        # judged on the public addresses the list covers, not on the prefixes: 0.0.0.0/1 + 128.0.0.0/1 is everyone too
        why = too_open(v)
        if why:
            raise ValueError(f"{why}: that opens the API to much of the internet; allowed: your own networks, "
                             f"together at most a /{MAX_OPEN_V4_PREFIX} of public addresses")
        for cidr in v:
            net = ipaddress.IPv4Network(cidr, strict=True)
            private = next((p for p in NOT_PUBLIC if p.version == 4 and net.overlaps(p)), None)
            if private is not None:
                # awsdocs/amazon-eks-user-guide latest/ug/clusters/cluster-endpoint.adoc: publicAccessCidrs "cannot
                # include reserved addresses"; and no private address ever reaches the public endpoint.
                raise ValueError(f"{cidr} overlaps the private or reserved range {private}, which EKS refuses for the "
                                 "public endpoint; list your networks' public addresses (a private endpoint serves "
                                 "the VPC: endpointPrivateAccess)")
        return v

    @field_validator("admins")
    @classmethod
    def _admins(cls, v: list[str]) -> list[str]:
        for arn in v:
            check_principal(arn)
        return v

    @field_validator("service_cidr")
    @classmethod
    def _service_cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v, strict=True)
        except ValueError:
            raise ValueError("is not an IPv4 network, e.g. 172.20.0.0/16") from None
        if not any(net.subnet_of(p) for p in SERVICE_CIDR_PARENTS) or not 12 <= net.prefixlen <= 24:
            raise ValueError("must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 and between /12 and /24 "
                             "(EKS rejects anything else)")
        return v

    @model_validator(mode="after")
    def _principals_once(self) -> ClusterConfig:
        # "An IAM principal can't be included in more than one access entry" (CreateAccessEntry).
        seen: list[str] = []
        for arn in [*self.admins, *(e.principal_arn for e in self.access_entries)]:
            if any(same_principal(arn, s) for s in seen):
                raise ValueError(f"{arn} is named twice in admins/accessEntries; EKS allows one access entry per "
                                 "principal (put its groups on that one entry)")
            seen.append(arn)
        return self

    @model_validator(mode="after")
    def _autoscaler_release(self) -> ClusterConfig:
        image = self.autoscaler.image
        if image is not None:
            name = image.partition("@")[0]  # repo:tag@sha256:...: the tag names the release, the digest pins it
            tag = name.rsplit(":", 1)[-1] if ":" in name.rsplit("/", 1)[-1] else ""
            minor = ".".join(tag.removeprefix("v").split(".")[:2])
            if minor != self.version:
                raise ValueError(f"autoscaler.image {image!r} is not a {self.version}.x release; the Cluster "
                                 f"Autoscaler's minor version must match the cluster's (default: "
                                 f"{AUTOSCALER_REPOSITORY}:v{AUTOSCALER_RELEASES[self.version]}; to pin by digest, "
                                 "keep the tag: repo:v1.x.y@sha256:...)")
        return self

    @property
    def autoscaler_image(self) -> str:
        """The Cluster Autoscaler image: configured, or the newest release for this minor version."""
        return self.autoscaler.image or f"{AUTOSCALER_REPOSITORY}:v{AUTOSCALER_RELEASES[self.version]}"

    @model_validator(mode="after")
    def _endpoint(self) -> ClusterConfig:
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ValueError(
                "endpointPublicAccess needs publicAccessCidrs (the networks you run kubectl and pulumi from); "
                "or set endpointPublicAccess: false and deploy from inside the VPC"
            )
        return self
