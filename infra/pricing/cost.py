"""Cost model: pure functions that price a stack's resources per hour at idle, day-one and max scale.

Idle is every group at its minSize; day one is the nodes the stack's own pods need right after
`pulumi up` (infra/pricing/day_one.py); max is every group at its maxSize.

Works on a minimal view of a resource (type, name, camelCase props, property dependencies), so
the offline plan and the policy pack price the same way. Standard library only.

What is priced: EC2 instances and Auto Scaling groups (on-demand and spot shares, root
volumes), the EKS control plane, NAT gateways, public IPv4 addresses (EIPs), EBS volumes (also those
Kubernetes claims: PersistentVolumeClaims, StatefulSets' volumeClaimTemplates and Prometheus's, gp3) and
customer-managed KMS keys. Usage-based charges (S3 storage and requests, NAT data processing,
data transfer, SQS requests, CloudWatch Logs) are listed as notes, not in the hourly totals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from infra.pricing import eks_support
from infra.pricing.day_one import DayOne, day_one
from infra.pricing.node_pods import chart_volume_claims
from infra.pricing.tables import HOURS_PER_MONTH, PriceTable, PricingError

ASG = "aws:autoscaling/group:Group"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"  # type LoadBalancer: an NLB made by the cluster's service controller
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
DEFAULT_ROOT_GB = 20  # EKS AL2023 AMIs' root volume when a launch template sets none


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


def storage_gib(quantity: Any) -> float:
    """A Kubernetes storage quantity (10Gi, 1Ti, 500Mi, 20G) in GiB (EBS bills per GiB-month)."""
    text = str(quantity or "0")
    units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "k": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30,
             "T": 1e12 / 2**30}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return round(float(text[: -len(suffix)]) * units[suffix], 6)
    return round(float(text) / 2**30, 6)


def flat(n: float, detail: str, name: str, typ: str) -> CostItem:
    """An item that costs the same at every scale."""
    n = round(n, 6)
    return CostItem(name=name, type=typ, idle=n, day_one=n, max=n, detail=detail)


def root_volume_gb(launch_template: Optional[ResourceView]) -> float:
    """Total EBS size per instance from a launch template's block device mappings."""
    if launch_template is None:
        return DEFAULT_ROOT_GB
    mappings = launch_template.props.get("blockDeviceMappings") or []
    sizes = [_number(_get(m, "ebs", "volumeSize")) for m in mappings if isinstance(m, Mapping)]
    return sum(sizes) or DEFAULT_ROOT_GB


def launch_template_of(asg: ResourceView) -> Optional[ResourceView]:
    """The launch template an Auto Scaling group uses (through its property dependencies)."""
    for key in ("mixedInstancesPolicy", "launchTemplate"):
        for dep in asg.property_dependencies.get(key, ()):
            if dep.type == LAUNCH_TEMPLATE:
                return dep
    return None


def group_instance_types(asg: ResourceView) -> list[str]:
    """Instance types a group may launch: its overrides, or its launch template's type."""
    overrides = _get(asg.props, "mixedInstancesPolicy", "launchTemplate", "overrides") or []
    types = [o["instanceType"] for o in overrides if isinstance(o, Mapping) and o.get("instanceType")]
    if types:
        return types
    lt = launch_template_of(asg)
    if lt is not None and lt.props.get("instanceType"):
        return [str(lt.props["instanceType"])]
    return []


def split_on_demand(count: int, base: int, percent_above: float) -> tuple[int, int]:
    """(on-demand, spot) instances of a group of `count` (AWS rounds the on-demand share up)."""
    base_used = min(count, base)
    above = count - base_used
    od_above = math.ceil(above * percent_above / 100)
    return base_used + od_above, above - od_above


def price_group(asg: ResourceView, prices: PriceTable, day_one: Optional[int] = None) -> CostItem:
    """An Auto Scaling group at min / day one (default: its desiredCapacity) / max, priced at its dearest type."""
    types = group_instance_types(asg)
    if not types:
        raise PricingError(f"{asg.name}: cannot tell which instance types the group launches")
    dearest = max(types, key=prices.on_demand)
    od, spot = prices.on_demand(dearest), prices.spot_price(dearest)
    gb_hour = prices.fixed_price("ebs_gp3_storage") / HOURS_PER_MONTH
    volume = root_volume_gb(launch_template_of(asg)) * gb_hour
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


def price_resource(res: ResourceView, prices: PriceTable, nodes: Optional[DayOne] = None) -> Optional[CostItem]:
    """Price one resource, or None when it has no fixed hourly cost."""
    t, p = res.type, res.props
    if t == ASG:
        return price_group(res, prices, nodes.count(res.name) if nodes is not None else None)
    if t == INSTANCE:
        itype = str(p.get("instanceType"))
        gb = _number(_get(p, "rootBlockDevice", "volumeSize"), DEFAULT_ROOT_GB)
        hourly = prices.on_demand(itype) + gb * prices.fixed_price("ebs_gp3_storage") / HOURS_PER_MONTH
        return flat(hourly, f"1 x {itype} on-demand", res.name, t)
    if t == EKS_CLUSTER:
        return price_control_plane(res, prices)
    if t == "aws:ec2/natGateway:NatGateway":
        return flat(prices.fixed_price("nat_gateway_hour"), "NAT gateway hour (+ $/GB processed)", res.name, t)
    if t == "aws:ec2/eip:Eip":
        return flat(prices.fixed_price("public_ipv4_address"), "public IPv4 address", res.name, t)
    if t == "aws:ebs/volume:Volume":
        gb = _number(p.get("size"), 0)
        return flat(gb * prices.fixed_price("ebs_gp3_storage") / HOURS_PER_MONTH, f"{gb:g} GB EBS", res.name, t)
    if t == PVC:
        gb = storage_gib(_get(p, "spec", "resources", "requests", "storage"))
        return flat(gb * prices.fixed_price("ebs_gp3_storage") / HOURS_PER_MONTH,
                    f"{gb:g} GiB gp3 volume (kept after destroy: reclaim policy Retain)", res.name, t)
    if t == STATEFUL_SET and _get(p, "spec", "volumeClaimTemplates"):
        replicas = _number(_get(p, "spec", "replicas"), 1)
        gb = replicas * sum(storage_gib(_get(c, "spec", "resources", "requests", "storage"))
                            for c in _get(p, "spec", "volumeClaimTemplates") if isinstance(c, Mapping))
        return flat(gb * prices.fixed_price("ebs_gp3_storage") / HOURS_PER_MONTH,
                    f"{gb:g} GiB gp3 volumes ({replicas:g} claims, kept after destroy)", res.name, t)
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
    nodes = day_one(resources, {r.name: group_instance_types(r) for r in resources if r.type == ASG})
    for res in resources:
        item = price_resource(res, prices, nodes)
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
