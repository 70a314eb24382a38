"""EKS control plane: cluster role, security group, KMS-encrypted Secrets, logs, access entries, OIDC, add-ons."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.control_plane import IrsaRole
from infra.config.cluster import ClusterConfig
from infra.documents import iam
from infra.documents.userdata import ClusterJoin

# The VPC CNI enforces NetworkPolicy objects only with its network policy agent on (the Dask and
# Arkouda policies depend on it); the add-on takes the value as the string "true".
VPC_CNI_SETTINGS = {"enableNetworkPolicy": "true"}


def vpc_cni_settings(no_snat: list[str]) -> dict:
    """The VPC CNI add-on's configuration. Pod traffic to networks outside the VPC is SNATed to the node's address
    unless listed in AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (aws/amazon-vpc-cni-k8s README): federated Dask workers
    talk to peered VPCs by pod address."""
    if not no_snat:
        return dict(VPC_CNI_SETTINGS)
    return {**VPC_CNI_SETTINGS, "env": {"AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS": ",".join(no_snat)}}


@dataclass(frozen=True)
class EksArgs:
    """What the control plane is built from."""

    config: ClusterConfig
    cluster_name: str
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # Federation: the source stacks' egress addresses (their Admiralty calls this API), and networks pods reach
    # without SNAT (peered VPCs), both read from stack references.
    api_peer_cidrs: Optional[pulumi.Output[list[str]]] = None
    no_snat_cidrs: Optional[pulumi.Output[list[str]]] = None


def kubeconfig(name: str, endpoint: str, ca: str, region: str) -> str:
    """A kubeconfig that gets short-lived tokens from `aws eks get-token` (nothing secret inside)."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
            "interactiveMode": "Never",
        }}}],
    }, indent=2)


def ami_parameter(version: str, arch: str, gpu: bool) -> str:
    """The public SSM parameter of the EKS-optimized AL2023 AMI (standard or NVIDIA variant)."""
    variant = "nvidia" if gpu else "standard"
    return f"/aws/service/eks/optimized-ami/{version}/amazon-linux-2023/{arch}/{variant}/recommended/image_id"


class EksControlPlane(pulumi.ComponentResource):
    """An EKS cluster in API authentication mode; implements components.control_plane.ControlPlane."""

    def __init__(self, name: str, args: EksArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:cluster:EksControlPlane", name, None, opts)
        cfg, cn = args.config, args.cluster_name
        child = pulumi.ResourceOptions(parent=self)
        self.version = cfg.version

        role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps(iam.eks_cluster_trust()),
                            tags={"Name": f"{cn}-cluster"}, opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-role-{arn.rsplit('/', 1)[-1]}", role=role.name, policy_arn=arn, opts=child)
            for arn in iam.CLUSTER_MANAGED_POLICIES
        ]
        key = aws.kms.Key(f"{name}-secrets", description=f"{cn}: envelope encryption of Kubernetes Secrets",
                          enable_key_rotation=True, deletion_window_in_days=30, tags={"Name": f"{cn}-secrets"}, opts=child)
        # Created first so EKS does not create it without a retention period.
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/eks/{cn}/cluster",
                                       retention_in_days=cfg.log_retention_days, tags={"Name": f"{cn}-logs"}, opts=child)
        sg = aws.ec2.SecurityGroup(f"{name}-sg", vpc_id=args.vpc_id, description=f"{cn} control plane (extra rules only)",
                                   egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
                                   tags={"Name": f"{cn}-control-plane"}, opts=child)
        scheduler = None
        if cfg.node_packing:
            scheduler = {"node_resources_fit": {"scoring_strategy": {
                "type": "MostAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}}}
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=cn,
            version=cfg.version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": list(args.subnet_ids),
                "security_group_ids": [sg.id],
                "endpoint_private_access": True,
                "endpoint_public_access": cfg.endpoint_public_access,
                "public_access_cidrs": (pulumi.Output.from_input(args.api_peer_cidrs or []).apply(
                    lambda extra: sorted(set(cfg.public_access_cidrs) | set(extra)))
                    if cfg.endpoint_public_access else None),
            },
            access_config={"authentication_mode": "API",
                           "bootstrap_cluster_creator_admin_permissions": cfg.creator_is_admin},
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(cfg.logs),
            kubernetes_network_config={"service_ipv4_cidr": cfg.service_cidr},
            kube_scheduler_config=scheduler,
            # The API default is EXTENDED: past standard support the cluster would silently cost $0.60/h.
            upgrade_policy={"support_type": "EXTENDED" if cfg.extended_support else "STANDARD"},
            bootstrap_self_managed_addons=False,
            tags={"Name": cn},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, *attachments]),
        )
        c = self.cluster
        self.cluster_name = c.name
        self.node_security_group_id = c.vpc_config.cluster_security_group_id
        self.oidc_issuer = c.identities[0].oidcs[0].issuer
        self.join = pulumi.Output.all(c.name, c.endpoint, c.certificate_authority.data).apply(
            lambda v: ClusterJoin(name=v[0], endpoint=v[1], certificate_authority=v[2], service_cidr=cfg.service_cidr))
        oidc = aws.iam.OpenIdConnectProvider(f"{name}-oidc", url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"],
                                             tags={"Name": f"{cn}-oidc"}, opts=child)
        self.oidc_provider_arn = oidc.arn

        self._access_entries(name, cfg)
        config_text: pulumi.Output[str] = pulumi.Output.all(c.name, c.endpoint, c.certificate_authority.data).apply(
            lambda v: kubeconfig(v[0], v[1], v[2], args.region))
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(config_text)
        self.k8s_provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.network_addons = self._network_addons(name, args.no_snat_cidrs)
        self.register_outputs({"clusterName": self.cluster_name, "oidcProviderArn": self.oidc_provider_arn})

    def _access_entries(self, name: str, cfg: ClusterConfig) -> None:
        """Admins get the EKS cluster-admin access policy; other principals map to Kubernetes groups."""
        for i, arn in enumerate(cfg.admins):
            entry = aws.eks.AccessEntry(f"{name}-admin-{i}", cluster_name=self.cluster.name, principal_arn=arn,
                                        type="STANDARD", opts=pulumi.ResourceOptions(parent=self))
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}", cluster_name=self.cluster.name, principal_arn=arn,
                policy_arn=iam.EKS_ADMIN_ACCESS_POLICY, access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]))
        for i, e in enumerate(cfg.access_entries):
            aws.eks.AccessEntry(f"{name}-user-{i}", cluster_name=self.cluster.name, principal_arn=e.principal_arn,
                                type="STANDARD", kubernetes_groups=list(e.groups), opts=pulumi.ResourceOptions(parent=self))

    def _addon(self, name: str, addon: str, irsa: Optional[IrsaRole] = None, settings: Optional[pulumi.Input[dict]] = None,
               depends_on: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
        """An EKS-managed add-on (the version EKS defaults to for the cluster's version)."""
        return aws.eks.Addon(
            f"{name}-{addon}", cluster_name=self.cluster.name, addon_name=addon,
            service_account_role_arn=irsa.arn if irsa else None,
            configuration_values=pulumi.Output.from_input(settings).apply(json.dumps) if settings else None,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *(irsa.policies if irsa else [])]))

    def _network_addons(self, name: str, no_snat: Optional[pulumi.Output[list[str]]]) -> list[aws.eks.Addon]:
        """VPC CNI (own IRSA role; network policy agent on) and kube-proxy: nodes need them to become Ready."""
        cni = self.irsa_role(f"{name}-vpc-cni", "kube-system", "aws-node", managed=[iam.CNI_MANAGED_POLICY])
        settings = pulumi.Output.from_input(no_snat or []).apply(vpc_cni_settings)
        return [self._addon(name, "vpc-cni", cni, settings), self._addon(name, "kube-proxy")]

    def install_node_addons(self, depends_on: list[pulumi.Resource]) -> None:
        """Add-ons whose pods need nodes to become healthy (CoreDNS), after the node groups."""
        self._addon("eks", "coredns", depends_on=depends_on)

    def install_ebs_storage(self, depends_on: list[pulumi.Resource], tags: dict[str, str]) -> k8s.storage.v1.StorageClass:
        """The EBS CSI driver (own IRSA role) and an encrypted gp3 StorageClass, for PersistentVolumeClaims.

        Volumes carry the stack's tags (the driver's tagSpecification_<n> parameters,
        kubernetes-sigs/aws-ebs-csi-driver docs/tagging.md), so kept ones can be found and costed per stack.
        """
        role = self.irsa_role("eks-ebs-csi", "kube-system", "ebs-csi-controller-sa", managed=[iam.EBS_CSI_MANAGED_POLICY])
        addon = self._addon("eks", "aws-ebs-csi-driver", role, depends_on=depends_on)
        tag_parameters = {f"tagSpecification_{i}": f"{k}={v}" for i, (k, v) in enumerate(sorted(tags.items()), start=1)}
        return k8s.storage.v1.StorageClass(
            "eks-gp3-encrypted", metadata={"name": "gp3-encrypted"}, provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", **tag_parameters}, volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True, reclaim_policy="Retain",
            opts=pulumi.ResourceOptions(parent=self, provider=self.k8s_provider, depends_on=[addon]))

    def irsa_role(self, name: str, namespace: str, service_account: str, policy: Optional[pulumi.Input[str]] = None,
                  managed: Sequence[str] = (), parent: Optional[pulumi.Resource] = None) -> IrsaRole:
        """An IAM role only this service account can assume (IRSA), with an inline and/or managed policies."""
        opts = pulumi.ResourceOptions(parent=parent or self)
        trust = pulumi.Output.all(self.oidc_provider_arn, self.oidc_issuer).apply(
            lambda v: json.dumps(iam.irsa_trust(v[0], v[1], namespace, service_account)))
        role = aws.iam.Role(f"{name}-irsa", assume_role_policy=trust, tags={"Name": f"{name}-irsa"}, opts=opts)
        policies: list[pulumi.Resource] = []
        if policy is not None:
            policies.append(aws.iam.RolePolicy(f"{name}-irsa", role=role.id, policy=policy, opts=opts))
        for arn in managed:
            policies.append(aws.iam.RolePolicyAttachment(f"{name}-irsa-{arn.rsplit('/', 1)[-1]}", role=role.name,
                                                         policy_arn=arn, opts=opts))
        return IrsaRole(role, policies)

    def authorize_nodes(self, name: str, role: aws.iam.Role) -> pulumi.Resource:
        """An EC2_LINUX access entry: instances with this role may register as nodes."""
        return aws.eks.AccessEntry(name, cluster_name=self.cluster.name, principal_arn=role.arn, type="EC2_LINUX",
                                   opts=pulumi.ResourceOptions(parent=self))

    def ami_parameter(self, arch: str, gpu: bool) -> str:
        """The node AMI parameter for this cluster's version."""
        return ami_parameter(self.version, arch, gpu)
