"""Federation config: Admiralty sources (who sends work here) and targets (where work goes)."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, dns_label


class FederationSourceConfig(Model):
    """A cluster allowed to send work to this one (target side)."""

    name: str = Field(description="Name of the source (DNS label); the source stack refers to it.")
    namespace: Optional[str] = Field(None, description="Accept its pods in this namespace only (namespaced Source).")
    cluster_wide: bool = Field(False, description="Accept its pods in every namespace (ClusterSource; an admin opt-in).")

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))

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

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))

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
