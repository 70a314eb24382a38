"""What node groups and workloads need from a Kubernetes control plane (EKS today, self-managed later)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Protocol

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.documents.userdata import ClusterJoin


@dataclass(frozen=True)
class IrsaRole:
    """An IRSA role and the policy resources that give it its rights.

    IAM is eventually consistent and a role is usable before its policies are attached: whatever
    uses the role (a service account, an add-on) waits for `policies` too.
    """

    role: aws.iam.Role
    policies: list[pulumi.Resource] = field(default_factory=list)

    @property
    def arn(self) -> pulumi.Output[str]:
        """The role's ARN (for the eks.amazonaws.com/role-arn annotation)."""
        return self.role.arn


class ControlPlane(Protocol):
    """The small interface node groups and add-ons are written against."""

    cluster_name: pulumi.Output[str]
    join: pulumi.Output[ClusterJoin]
    node_security_group_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    k8s_provider: k8s.Provider
    version: str

    def authorize_nodes(self, name: str, role: aws.iam.Role) -> pulumi.Resource:
        """Let instances with this IAM role join the cluster as nodes."""
        ...

    def irsa_role(self, name: str, namespace: str, service_account: str, policy: Optional[pulumi.Input[str]] = None,
                  managed: Sequence[str] = (), parent: Optional[pulumi.Resource] = None) -> IrsaRole:
        """An IAM role that only one Kubernetes service account can assume."""
        ...

    def ami_parameter(self, arch: str, gpu: bool) -> str:
        """Public SSM parameter holding the node AMI for this control plane's version."""
        ...
