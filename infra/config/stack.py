"""The whole stack's config: region, cost tags and every section, validated before any resource exists.

Field names are the camelCase keys users write in `Pulumi.<stack>.yaml`; every field has a
one-line description (shown in the README config reference) and a safe default.
"""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, field_validator

from infra.config.arkouda import ArkoudaConfig
from infra.config.base import Model, check_tag_text
from infra.config.budget import BudgetConfig
from infra.config.cluster import ClusterConfig
from infra.config.dask import DaskConfig
from infra.config.federation import FederationConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.mpi import MpiConfig
from infra.config.namespaces import NamespaceConfig, RbacConfig, SecretConfig
from infra.config.network import Buckets, NetworkConfig
from infra.config.pools import NodeGroups

# Regions look like us-east-1, eu-central-2, us-gov-west-1, ap-southeast-7.
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
RESERVED_TAG_KEYS = ("project", "stack", "owner", "cost-center", "managed-by", "Name")
SECRET_VALUES = "secretValues"  # the config key whose values are secrets (never put into the model)


class TagsConfig(Model):
    """Cost-allocation tags put on every AWS resource (kops `cloudLabels`)."""

    project: str = Field("cloudviper", min_length=1, description="Value of the `project` tag.")
    owner: str = Field(min_length=1, description="Person or group responsible; the `owner` tag.")
    cost_center: str = Field(min_length=1, description="Budget the spending is charged to; the `cost-center` tag.")
    extra: dict[str, str] = Field(default_factory=dict, description="Further tags, key to value.")

    @field_validator("project", "owner", "cost_center")
    @classmethod
    def _tag_value(cls, v: str) -> str:
        return check_tag_text(v, "value", 256)

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
            check_tag_text(key, "key", 128)
            check_tag_text(value, "value", 256)
        if len(v) > 40:
            raise ValueError("has more than 40 tags; AWS allows 50 per resource and cloudviper sets up to 10")
        return v


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
    mpi: Optional[MpiConfig] = None
    monitoring: Optional[MonitoringConfig] = None
    budget: BudgetConfig = Field(default_factory=lambda: BudgetConfig.model_validate({}))

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not REGION_RE.match(v):
            raise ValueError("is not an AWS region name; expected e.g. us-east-1")
        return v

    @property
    def needs_ebs_csi(self) -> bool:
        """Whether the stack installs the EBS CSI driver."""
        return needs_ebs_csi(self.arkouda, self.dask, self.monitoring)


def needs_ebs_csi(arkouda: Optional[ArkoudaConfig], dask: Optional[DaskConfig],
                  monitoring: Optional[MonitoringConfig] = None) -> bool:
    """Whether a workload asks for EBS volumes (Arkouda's pvc persistence, JupyterLab's home, Prometheus)."""
    return ((arkouda is not None and arkouda.persistence.kind == "pvc") or (dask is not None and dask.jupyter.keeps_home)
            or monitoring is not None)
