"""Stack assembly: one validated StackConfig in, the platform's components wired, outputs out."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.autoscaler import ClusterAutoscaler
from components.eks import EksArgs, EksControlPlane
from components.network import Network, NetworkArgs
from components.nodegroup import NodeGroup, NodeGroupArgs, NodeRole
from components.storage import DataBuckets, DataBucketsArgs
from components.termination import NodeTerminationHandler
from infra import naming
from infra.models import StackConfig


def build_platform(cfg: StackConfig) -> dict[str, Any]:
    """Register every resource of the stack and return its outputs."""
    # One explicit provider: region and cost tags in one place, no silent default provider.
    provider = aws.Provider(
        "aws",
        region=cfg.region,
        default_tags={"tags": naming.stack_tags(cfg)},
    )
    with_aws = pulumi.ResourceOptions(providers={"aws": provider})
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider))

    network = Network(
        "network",
        NetworkArgs(
            config=cfg.network,
            name_prefix=naming.prefix(cfg),
            cluster_name=naming.cluster_name(cfg),
            region=cfg.region,
        ),
        opts=with_aws,
    )
    storage = DataBuckets(
        "data",
        DataBucketsArgs(buckets=list(cfg.buckets), name_prefix=naming.prefix(cfg), account_id=identity.account_id),
        opts=with_aws,
    )
    outputs: dict[str, Any] = {}
    if cfg.cluster is not None:
        outputs.update(build_cluster(cfg, network, with_aws))
    return {
        **outputs,
        "region": cfg.region,
        "vpcId": network.vpc_id,
        "availabilityZones": network.zone_names,
        "privateSubnetIds": network.private_subnet_ids,
        "publicSubnetIds": network.public_subnet_ids,
        "dataBuckets": storage.bucket_names,
    }


def build_cluster(cfg: StackConfig, network: Network, with_aws: pulumi.ResourceOptions) -> dict[str, Any]:
    """Control plane, node groups and the add-ons that scale and drain them."""
    assert cfg.cluster is not None
    name, prefix = naming.cluster_name(cfg), naming.prefix(cfg)
    eks = EksControlPlane(
        "eks",
        EksArgs(config=cfg.cluster, cluster_name=name, region=cfg.region, vpc_id=network.vpc_id,
                subnet_ids=network.private_subnet_ids),
        opts=with_aws,
    )
    role = NodeRole("nodes", eks, prefix, opts=with_aws)
    groups = [
        NodeGroup(
            f"pool-{g.name}",
            NodeGroupArgs(config=g, control_plane=eks, node_role=role, subnet_ids=network.private_subnet_ids,
                          name_prefix=prefix, cluster_name=name, stack_tags=naming.stack_tags(cfg)),
            opts=with_aws.merge(pulumi.ResourceOptions(depends_on=eks.network_addons)),
        )
        for g in cfg.node_groups
    ]
    eks.install_node_addons(depends_on=list(groups))
    addon_opts = with_aws.merge(pulumi.ResourceOptions(depends_on=list(groups)))
    ClusterAutoscaler("autoscaler", cfg.cluster.autoscaler, eks, name, cfg.region, opts=addon_opts)
    NodeTerminationHandler("nth", cfg.cluster.termination_handler, eks, name, cfg.region,
                           [g.group.name for g in groups], prefix, opts=addon_opts)
    return {
        "clusterName": eks.cluster_name,
        "clusterEndpoint": eks.cluster.endpoint,
        "kubeconfig": eks.kubeconfig,
        "oidcProviderArn": eks.oidc_provider_arn,
        "nodeGroups": {g.name: grp.group.name for g, grp in zip(cfg.node_groups, groups, strict=True)},
    }
