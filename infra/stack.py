"""Stack assembly: one validated StackConfig in, the platform's components wired, outputs out."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.network import Network, NetworkArgs
from components.storage import DataBuckets, DataBucketsArgs
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
    return {
        "region": cfg.region,
        "vpcId": network.vpc_id,
        "availabilityZones": network.zone_names,
        "privateSubnetIds": network.private_subnet_ids,
        "publicSubnetIds": network.public_subnet_ids,
        "dataBuckets": storage.bucket_names,
    }
