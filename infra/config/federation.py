"""Federation config: Admiralty sources (who sends work here) and targets (where work goes)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, dns_label


class FederationSourceConfig(Model):
    """A cluster allowed to send work to this one (target side)."""

    name: str = Field(description="Name of the source (DNS label); the source stack refers to it.")
    namespace: Optional[str] = Field(None, description="Accept its pods in this namespace only (namespaced Source).")
    cluster_wide: bool = Field(False, description="Accept its pods in every namespace (ClusterSource; an admin opt-in).")
    stack: Optional[str] = Field(None, description="The source's stack (organization/project/stack) when it is a stack of "
                                                   "this project: its egress addresses reach this API, its VPC is routed.")
    service_accounts: list[str] = Field(
        default_factory=list, description="Service accounts its delegated pods run as (Admiralty keeps serviceAccountName); "
                                          "created here, each with this stack's own IAM role for its buckets.")

    _n = field_validator("name")(classmethod(lambda cls, v: dns_label(v)))

    @field_validator("service_accounts")
    @classmethod
    def _sas(cls, v: list[str]) -> list[str]:
        for sa in v:
            dns_label(sa)
        if len(set(v)) != len(v):
            raise ValueError("names a service account twice")
        return v

    @model_validator(mode="after")
    def _scope(self) -> FederationSourceConfig:
        if (self.namespace is None) == (not self.cluster_wide):
            raise ValueError("set either namespace (a namespaced Source) or clusterWide: true (a ClusterSource)")
        if self.service_accounts and self.namespace is None:
            raise ValueError("serviceAccounts need the source's namespace (delegated pods keep their namespace); a "
                             "ClusterSource's pods may come from any, so create their service accounts per namespace")
        return self


# Admiralty matches the regexp against "key=value" (pkg/controllers/resources/upstream.go @v0.17.0), so each key
# is followed by "=": a `$` after the key would never match.
DEFAULT_EXCLUDED_LABELS = r"^(kubernetes\.io/os|kubernetes\.io/arch|beta\.kubernetes\.io/[^=]*|eks\.amazonaws\.com/[^=]*)="
NETWORKS = ("peering", "transitGateway", "vpn", "none")
# Admiralty 0.17.0 is built against Kubernetes 1.30.5 libraries (go.mod) and its CI runs e2e tests on
# these versions only (.github/workflows/go.yml matrix, admiraltyio/admiralty @v0.17.0, the last release).
ADMIRALTY_TESTED_KUBERNETES = ("1.27", "1.28", "1.29", "1.30", "1.31")


def cidr(v: str) -> str:
    """The value, if it is an IPv4 network in CIDR notation."""
    try:
        return str(ipaddress.IPv4Network(v))
    except ValueError as exc:
        raise ValueError(f"{v!r} is not an IPv4 network such as 10.70.0.0/16 ({exc})") from None


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
                                             "kubernetes.io/os off it); matched against key=value.")
    network: Optional[Literal[NETWORKS]] = Field(  # type: ignore[valid-type]
        None, description="How federated pods reach back here: peering or transitGateway (kind stack; default peering), "
                          "vpn (a network you run routes cidrs to this VPC), none (no Dask workers there).")
    cidrs: list[str] = Field(default_factory=list, description="For network vpn: the target's node and pod networks.")
    transit_gateway_id: Optional[str] = Field(None, description="For network transitGateway: an existing transit gateway "
                                                                "(default: the stack creates one).")
    preference: Optional[int] = Field(None, ge=0, le=100, description="Weight with which federated pods prefer this "
                                      "target (default: 100 for kind self, 0 otherwise): fill local first.")

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
        if self.network in ("peering", "transitGateway") and self.kind != "stack":
            raise ValueError(f"network {self.network} connects stacks of this project; for kind {self.kind} use vpn "
                             "(with cidrs) or none")
        if (self.network == "vpn") != bool(self.cidrs):
            raise ValueError("network vpn needs cidrs (the target's node and pod networks), and cidrs need network vpn")
        if self.transit_gateway_id and not re.fullmatch(r"tgw-[0-9a-f]{8,17}", self.transit_gateway_id):
            raise ValueError(f"transitGatewayId {self.transit_gateway_id!r} is not a transit gateway id (tgw- and 8 or 17 "
                             "hex digits)")
        if self.transit_gateway_id and self.network != "transitGateway":
            raise ValueError("transitGatewayId is for network transitGateway only")
        return self

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        return [cidr(c) for c in v]

    @property
    def path(self) -> str:
        """The network path federated pods in this target use back to the source."""
        if self.network:
            return str(self.network)
        return "peering" if self.kind == "stack" else ("local" if self.kind == "self" else "none")

    @property
    def weight(self) -> int:
        """How much federated pods prefer this target."""
        return self.preference if self.preference is not None else (100 if self.kind == "self" else 0)


class FederationConfig(Model):
    """Multi-cluster federation with Admiralty: who sends work here, where this cluster sends work."""

    admiralty_version: str = Field("0.17.0", description="Admiralty Helm chart version (oci://public.ecr.aws/admiralty/admiralty).")
    cert_manager_version: str = Field("v1.16.2", description="cert-manager Helm chart version (installed first).")
    sources: list[FederationSourceConfig] = Field(default_factory=list, description="Clusters allowed to send work here.")
    targets: list[FederationTargetConfig] = Field(default_factory=list, description="Clusters this one sends work to.")
    allow_untested_kubernetes: bool = Field(
        False, description="Run Admiralty on a Kubernetes version its release was not tested on (0.17.0: 1.27-1.31).")
