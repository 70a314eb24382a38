"""Prices of compute launched other than by an Auto Scaling group: EKS managed node groups, spot requests, fleets.

The program launches nodes only through Auto Scaling groups, and the policy pack refuses these types unless a stack's
policy config allows them (allowed-resource-types); when one is allowed, its price counts like a group's, at its
dearest type. Types with an hourly charge this model cannot price are an error, never zero.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from infra.pricing.compute import (
    ASG,
    EC2_FLEET,
    NODE_GROUP,
    NODE_GROUP_DEFAULT_DISK_GB,
    SPOT_FLEET,
    SPOT_REQUEST,
    View,
    fleet_counts,
    get,
    launched_types,
    linked_templates,
    number,
)
from infra.pricing.tables import PriceTable, PricingError
from infra.pricing.volumes import BLOCK_DEVICE_DEFAULT, instance_volumes_hourly, template_volumes_hourly, volume_hourly

# Billed by the hour but not in the price tables: refusing to guess keeps a budget honest.
UNPRICED_HOURLY = {
    "aws:rds/instance:Instance", "aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance",
    "aws:elasticache/cluster:Cluster", "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:opensearch/domain:Domain", "aws:redshift/cluster:Cluster", "aws:sagemaker/notebookInstance:NotebookInstance",
    "aws:sagemaker/endpoint:Endpoint", "aws:emr/cluster:Cluster", "aws:ec2/dedicatedHost:DedicatedHost",
    "aws:ec2/capacityReservation:CapacityReservation", "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer", "aws:elb/loadBalancer:LoadBalancer", "aws:efs/fileSystem:FileSystem",
    "aws:fsx/lustreFileSystem:LustreFileSystem", "aws:ec2/vpnConnection:VpnConnection",
    "aws:directconnect/connection:Connection", "aws:ec2clientvpn/endpoint:Endpoint",
}


VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SHARED_TENANCY = (None, "default")


def unpriced_extras(res: View) -> Optional[str]:
    """Why a resource the tables price would cost more than they say: dedicated tenancy (single-tenant hardware,
    plus a per-region fee) on an instance or its launch templates, or an Interface or Gateway Load Balancer VPC endpoint
    (billed per hour and AZ; a Gateway endpoint, the EC2 CreateVpcEndpoint default, is free), or an Auto Scaling
    group's warm pool (instances running or stopped with their EBS beside the group: botocore
    data/autoscaling/2011-01-01/service-2.json PutWarmPool, "a pool of pre-initialized EC2 instances that sits
    alongside the Auto Scaling group")."""
    if res.type == ASG and res.props.get("warmPool") is not None:
        return (f"{res.type} {res.name!r} has a warm pool (pre-initialized instances beside the group, outside its "
                "maxSize; botocore autoscaling PutWarmPool), which this model does not price or count; remove warmPool")
    if res.type == VPC_ENDPOINT and str(res.props.get("vpcEndpointType") or "Gateway") != "Gateway":
        return f"{res.type} {res.name!r} is a {res.props.get('vpcEndpointType')} endpoint, billed by the hour"
    tenancies = [res.props.get("tenancy"), get(res.props, "placement", "tenancy")]
    tenancies += [get(lt.props, "placement", "tenancy") for lt in linked_templates(res)]
    odd = [t for t in tenancies if t not in SHARED_TENANCY]
    return f"{res.type} {res.name!r} runs on {odd[0]} tenancy, whose prices are not in the tables" if odd else None


class Hourly(NamedTuple):
    """$/hour at idle, day one and maximum scale, and what was priced."""

    idle: float
    day_one: float
    max: float
    detail: str


def _dearest(res: View, prices: PriceTable) -> str:
    types = launched_types(res, prices)
    if not types:
        raise PricingError(f"{res.name}: cannot tell which instance types it launches")
    return max(types, key=prices.on_demand)


def _template_volumes(res: View, prices: PriceTable) -> Optional[float]:
    """$/hour of one instance's volumes from the dearest linked launch template (None: no template)."""
    templates = linked_templates(res)
    return max((template_volumes_hourly(lt.props, prices) for lt in templates), default=None)


def node_group(res: View, prices: PriceTable) -> Hourly:
    """An EKS managed node group: scalingConfig min / desired / max of its dearest type (SPOT: spot prices)."""
    itype = _dearest(res, prices)
    spot = str(res.props.get("capacityType") or "ON_DEMAND") == "SPOT"
    each = prices.spot_price(itype) if spot else prices.on_demand(itype)
    disk = _template_volumes(res, prices)
    if disk is None:
        gb = number(res.props.get("diskSize"), NODE_GROUP_DEFAULT_DISK_GB)
        disk = volume_hourly(BLOCK_DEVICE_DEFAULT, gb, prices)
    scaling = res.props.get("scalingConfig") or {}
    lo, mid, hi = (int(number(get(scaling, k))) for k in ("minSize", "desiredSize", "maxSize"))
    kind = "spot" if spot else "on-demand"
    return Hourly(lo * (each + disk), mid * (each + disk), hi * (each + disk),
                  f"{lo}-{hi} x {itype} {kind} (EKS managed node group)")


def spot_request(res: View, prices: PriceTable) -> Hourly:
    """One spot instance at its type's spot price, plus its volumes."""
    itype = _dearest(res, prices)
    disk = _template_volumes(res, prices) or 0.0
    each = prices.spot_price(itype) + max(disk, instance_volumes_hourly(res.props, prices))
    return Hourly(each, each, each, f"1 x {itype} spot request")


def fleet(res: View, prices: PriceTable) -> Hourly:
    """A fleet at its target capacity: its on-demand and spot instances at the dearest type."""
    types = launched_types(res, prices)
    itype = _dearest(res, prices)
    od, spot = fleet_counts(res, types, prices)
    disk = _template_volumes(res, prices) or volume_hourly(BLOCK_DEVICE_DEFAULT, 20, prices)
    total = od * prices.on_demand(itype) + spot * prices.spot_price(itype) + (od + spot) * disk
    return Hourly(total, total, total, f"{od} on-demand + {spot} spot x {itype} (fleet target capacity)")


def price_launcher(res: View, prices: PriceTable) -> Optional[Hourly]:
    """Hourly price of a node group, spot request or fleet; None for other types; PricingError if unpriceable."""
    if res.type in UNPRICED_HOURLY:
        raise PricingError(f"{res.type} {res.name!r} bills by the hour and this model has no price for it")
    extra = unpriced_extras(res)
    if extra:
        raise PricingError(extra)
    if res.type == NODE_GROUP:
        return node_group(res, prices)
    if res.type == SPOT_REQUEST:
        return spot_request(res, prices)
    if res.type in (SPOT_FLEET, EC2_FLEET):
        return fleet(res, prices)
    return None


__all__ = ["UNPRICED_HOURLY", "Hourly", "price_launcher"]
