"""Cluster config: the EKS control plane, who may use it, and its autoscaling and draining add-ons."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model

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


# The release whose queue-mode contract infra/documents/termination.py follows.
NTH_IMAGE = "public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.6"


class TerminationHandlerConfig(Model):
    """AWS Node Termination Handler (queue mode) settings."""

    image: str = Field(NTH_IMAGE, description="Image (default: the release infra/documents/termination.py follows).")
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
