"""Cost model: pure functions that price a stack's resources per hour at idle, day-one and max scale.

Idle is every group at its minSize; day one is the nodes the stack's own pods need right after
`pulumi up` (infra/pricing/day_one.py); max is every group at its maxSize.

Works on a minimal view of a resource (type, name, camelCase props, property dependencies), so
the offline plan and the policy pack price the same way. Standard library only.

What is priced: EC2 instances and Auto Scaling groups (on-demand and spot shares, their launch templates'
volumes; attribute-based and per-override launch-template types at the dearest type they may pick), EKS managed
node groups, spot requests and fleets (infra/pricing/launchers.py), the EKS control plane at its support tier, NAT
gateways, public IPv4 addresses (EIPs), EBS volumes by type with provisioned IOPS and throughput
(infra/pricing/volumes.py; also the volumes Kubernetes claims: PersistentVolumes on EBS, PersistentVolumeClaims,
StatefulSets' volumeClaimTemplates at their StorageClass's type, and Prometheus's, gp3) and customer-managed KMS keys.
Types billed hourly that the tables cannot price (RDS, load balancers made outside Kubernetes, ...) are a
PricingError. Usage-based charges (S3 storage and requests, NAT data processing,
data transfer, SQS requests, CloudWatch Logs) are listed as notes, not in the hourly totals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from infra.pricing import eks_support
from infra.pricing.compute import ASG, INSTANCE, group_types, launched_types, linked_templates
from infra.pricing.day_one import DayOne, day_one
from infra.pricing.launchers import price_launcher
from infra.pricing.node_pods import chart_volume_claims
from infra.pricing.tables import HOURS_PER_MONTH, PriceTable, PricingError, load_prices
from infra.pricing.volumes import (
    EBS_VOLUME,
    PV,
    PVC,
    STATEFUL_SET,
    STORAGE_CLASS,
    instance_volumes_hourly,
    price_volume,
    storage_gib,
    template_volumes_hourly,
)

SERVICE = "kubernetes:core/v1:Service"  # type LoadBalancer: an NLB made by the cluster's service controller
EKS_CLUSTER = "aws:eks/cluster:Cluster"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


@dataclass
class ResourceView:
    """What the cost model needs to know about a resource."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    property_dependencies: Mapping[str, Sequence[ResourceView]] = field(default_factory=dict)


@dataclass(frozen=True)
class CostItem:
    """One priced resource: $/hour at idle (minimum), day one (what the stack's pods need) and maximum scale."""

    name: str
    type: str
    idle: float
    day_one: float
    max: float
    detail: str = ""


@dataclass
class Estimate:
    """All priced items of a stack and their totals."""

    items: list[CostItem]
    notes: list[str]
    source: str
    nodes: Optional[DayOne] = None  # the day-one packing behind the day_one figures


    def total(self, scale: str) -> float:
        """Sum of $/hour at `idle`, `day_one` or `max`."""
        return round(sum(getattr(i, scale) for i in self.items), 4)

    def top(self, n: int = 5) -> list[CostItem]:
        """The n dearest items at maximum scale."""
        return sorted(self.items, key=lambda i: (-i.max, i.name))[:n]


def _get(props: Mapping[str, Any], *path: str) -> Any:
    cur: Any = props
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _number(value: Any, default: float = 0) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def flat(n: float, detail: str, name: str, typ: str) -> CostItem:
    """An item that costs the same at every scale."""
    n = round(n, 6)
    return CostItem(name=name, type=typ, idle=n, day_one=n, max=n, detail=detail)


def group_instance_types(asg: ResourceView, prices: Optional[PriceTable] = None) -> list[str]:
    """Instance types a group may launch: its overrides (named, attribute-based or per-override launch templates),
    else its launch templates' types (infra/pricing/compute.py)."""
    return group_types(asg, prices or load_prices())


def group_volumes_hourly(asg: ResourceView, prices: PriceTable) -> float:
    """$/hour of one instance's EBS volumes: the dearest of the group's launch templates (AMI default without one)."""
    return max((template_volumes_hourly(lt.props, prices) for lt in linked_templates(asg)),
               default=template_volumes_hourly(None, prices))


def split_on_demand(count: int, base: int, percent_above: float) -> tuple[int, int]:
    """(on-demand, spot) instances of a group of `count` (AWS rounds the on-demand share up)."""
    base_used = min(count, base)
    above = count - base_used
    od_above = math.ceil(above * percent_above / 100)
    return base_used + od_above, above - od_above


def price_group(asg: ResourceView, prices: PriceTable, day_one: Optional[int] = None) -> CostItem:
    """An Auto Scaling group at min / day one (default: its desiredCapacity) / max, priced at its dearest type."""
    types = group_instance_types(asg, prices)
    if not types:
        raise PricingError(f"{asg.name}: cannot tell which instance types the group launches")
    dearest = max(types, key=prices.on_demand)
    od, spot = prices.on_demand(dearest), prices.spot_price(dearest)
    volume = group_volumes_hourly(asg, prices)
    dist = _get(asg.props, "mixedInstancesPolicy", "instancesDistribution")
    if _get(asg.props, "mixedInstancesPolicy") is None:
        base, pct = 0, 100.0  # a plain launch template launches on-demand only
    else:
        base = int(_number(_get(dist or {}, "onDemandBaseCapacity"), 0))
        pct = _number(_get(dist or {}, "onDemandPercentageAboveBaseCapacity"), 100)
    lo = int(_number(asg.props.get("minSize")))
    hi = int(_number(asg.props.get("maxSize")))
    mid = int(_number(asg.props.get("desiredCapacity"), lo))

    def at(count: int) -> float:
        n_od, n_spot = split_on_demand(count, base, pct)
        return round(n_od * od + n_spot * spot + count * volume, 6)

    detail = f"{lo}-{hi} x {dearest} (${od:.4f}/h on-demand, ${spot:.4f}/h spot), base {base} on-demand, {pct:g}% on-demand above"
    return CostItem(name=asg.name, type=asg.type, idle=at(lo), day_one=at(mid if day_one is None else day_one), max=at(hi),
                    detail=detail)


def price_control_plane(res: ResourceView, prices: PriceTable) -> CostItem:
    """The EKS control plane at its support tier today (an unset upgrade policy is EXTENDED, the API default)."""
    version = str(res.props.get("version") or "")
    support = str(_get(res.props, "upgradePolicy", "supportType") or eks_support.EXTENDED)
    on = eks_support.today()
    tier = eks_support.billed_tier(version, support, on)
    detail = f"EKS control plane, {version} ({tier} support)"
    window = eks_support.calendar().get(version)
    if tier == "extended" and window is not None:
        detail += f"; standard support ended {window.end_of_standard.isoformat()}"
    return flat(prices.fixed_price(f"eks_cluster_{tier}_support"), detail, res.name, res.type)


def price_resource(res: ResourceView, prices: PriceTable, nodes: Optional[DayOne] = None,
                   classes: Sequence[Mapping[str, Any]] = ()) -> Optional[CostItem]:
    """Price one resource, or None when it has no fixed hourly cost."""
    t, p = res.type, res.props
    launched = price_launcher(res, prices)  # node groups, spot requests, fleets; unpriceable types raise
    if launched is not None:
        return CostItem(name=res.name, type=t, idle=round(launched.idle, 6), day_one=round(launched.day_one, 6),
                        max=round(launched.max, 6), detail=launched.detail)
    if t == ASG:
        return price_group(res, prices, nodes.count(res.name) if nodes is not None else None)
    if t == INSTANCE:
        types = launched_types(res, prices)
        if not types:
            raise PricingError(f"{res.name}: cannot tell which instance type it launches")
        itype = max(types, key=prices.on_demand)
        disks = max(instance_volumes_hourly(p, prices), group_volumes_hourly(res, prices) if linked_templates(res) else 0)
        return flat(prices.on_demand(itype) + disks, f"1 x {itype} on-demand", res.name, t)
    if t == EKS_CLUSTER:
        return price_control_plane(res, prices)
    if t == "aws:ec2/natGateway:NatGateway":
        return flat(prices.fixed_price("nat_gateway_hour"), "NAT gateway hour (+ $/GB processed)", res.name, t)
    if t == "aws:ec2/eip:Eip":
        return flat(prices.fixed_price("public_ipv4_address"), "public IPv4 address", res.name, t)
    if t in (EBS_VOLUME, PV, PVC, STATEFUL_SET):
        priced = price_volume(res, prices, classes)
        return flat(priced[0], priced[1], res.name, t) if priced else None
    if t == HELM_RELEASE and chart_volume_claims(str(p.get("chart") or ""), dict(p.get("values") or {})):
        claims = chart_volume_claims(str(p.get("chart") or ""), dict(p.get("values") or {}))
        gb = sum(storage_gib(c) for c in claims)
        return flat(gb * prices.fixed_price("ebs_gp3_storage") / HOURS_PER_MONTH,
                    f"{gb:g} GiB gp3 volumes of the chart's pods ({len(claims)} claims, kept after destroy)", res.name, t)
    if t == "aws:kms/key:Key":
        return flat(prices.fixed_price("kms_customer_managed_key") / HOURS_PER_MONTH, "KMS key ($1/month)", res.name, t)
    if t == SERVICE and _get(p, "spec", "type") == "LoadBalancer":
        return flat(prices.fixed_price("nlb_hour"), "Network Load Balancer hour (+ $/NLCU)", res.name, t)
    if t == "aws:ec2transitgateway/vpcAttachment:VpcAttachment":
        return flat(prices.fixed_price("transit_gateway_attachment_hour"), "transit gateway attachment hour (+ $/GB)",
                    res.name, t)
    return None


USAGE_NOTES = {
    "aws:s3/bucket:Bucket": "S3 storage ${s3:.3f}/GB-month (Glacier IR ${gir:.3f}) and requests are usage-based",
    "aws:ec2/natGateway:NatGateway": "NAT data processing ${nat:.3f}/GB is usage-based (S3 goes through the free gateway endpoint)",
    "aws:sqs/queue:Queue": "SQS ${sqs:.2f}/million requests is usage-based",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs ingestion and storage are usage-based",
    "aws:ecr/repository:Repository": "ECR image storage ${ecr:.2f}/GB-month is usage-based",
    SERVICE: "load balancer capacity units ${nlcu:.3f}/NLCU-hour are usage-based",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "transit gateway data processing ${tgw:.2f}/GB is usage-based",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "VPC peering has no hourly charge; traffic between zones is "
                                                         "charged per GB",
}


def estimate(resources: Sequence[ResourceView], prices: PriceTable) -> Estimate:
    """Price every resource; usage-based charges become notes. Unknown instance types raise PricingError."""
    items, seen = [], set()
    nodes = day_one(resources, {r.name: group_instance_types(r, prices) for r in resources if r.type == ASG})
    classes = [r.props for r in resources if r.type == STORAGE_CLASS]
    for res in resources:
        item = price_resource(res, prices, nodes, classes)
        if item is not None:
            items.append(item)
        if res.type in USAGE_NOTES and (res.type != SERVICE or item is not None):
            seen.add(res.type)
    f = prices.fixed
    values = {"s3": f.get("s3_standard_storage_first_50tb", 0), "gir": f.get("s3_glacier_instant_retrieval_storage", 0),
              "nat": f.get("nat_gateway_data_processed", 0), "sqs": f.get("sqs_standard_requests", 0),
              "ecr": f.get("ecr_storage", 0), "nlcu": f.get("nlb_lcu_hour", 0),
              "tgw": f.get("transit_gateway_data_processed", 0)}
    notes = [USAGE_NOTES[t].format(**values) for t in sorted(seen)]
    return Estimate(items=items, notes=notes, source=prices.source, nodes=nodes)
