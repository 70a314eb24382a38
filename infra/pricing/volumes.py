"""EBS volumes priced by type: storage per GB-month, and provisioned IOPS and throughput where EBS bills them.

Prices are `ebs_<type>_storage`, `ebs_<type>_iops` and `ebs_gp3_throughput` in aws-fixed-<region>.csv (sources in
SOURCES.md). gp3 includes 3,000 IOPS and 125 MB/s; io1 and io2 bill every provisioned IOPS. The volume types are
EC2 CreateVolume's (botocore ec2 2016-11-15 service-2.json, CreateVolumeRequest.VolumeType: gp2 | gp3 | io1 | io2 |
st1 | sc1 | standard, "Default: gp2"). A block device without a type takes its AMI's: gp3 for the EKS AL2023 AMIs
(awslabs/amazon-eks-ami templates/al2023/variables-default.json @v20260724, "volume_type": "gp3").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from infra.pricing.tables import HOURS_PER_MONTH, PriceTable, PricingError

VOLUME_TYPES = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")
API_DEFAULT = "gp2"          # aws:ebs/volume:Volume without a type (CreateVolume's default)
BLOCK_DEVICE_DEFAULT = "gp3"  # a launch-template or instance block device without one (the EKS AMI's root volume)
GP3_FREE_IOPS, GP3_FREE_MBPS = 3000, 125
DEFAULT_ROOT_GB = 20  # EKS AL2023 AMIs' root volume when a launch template sets none
EBS_VOLUME = "aws:ebs/volume:Volume"
PV = "kubernetes:core/v1:PersistentVolume"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
EBS_CSI_DRIVER = "ebs.csi.aws.com"


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def volume_hourly(volume_type: Any, gib: Any, prices: PriceTable, iops: Any = None, throughput: Any = None) -> float:
    """$/hour of one EBS volume; an unknown type is a PricingError (never priced as zero)."""
    kind = str(volume_type or API_DEFAULT)
    if kind not in VOLUME_TYPES:
        raise PricingError(f"EBS volume type {kind!r} is not one of {', '.join(VOLUME_TYPES)}")
    monthly = _number(gib) * prices.fixed_price(f"ebs_{kind}_storage")
    if kind == "gp3":
        monthly += max(0.0, _number(iops) - GP3_FREE_IOPS) * prices.fixed_price("ebs_gp3_iops")
        monthly += max(0.0, _number(throughput) - GP3_FREE_MBPS) * prices.fixed_price("ebs_gp3_throughput")
    elif kind in ("io1", "io2"):
        monthly += _number(iops) * prices.fixed_price(f"ebs_{kind}_iops")
    return monthly / HOURS_PER_MONTH


def device_hourly(device: Mapping[str, Any], prices: PriceTable, size_key: str = "volumeSize") -> float:
    """$/hour of one block device ({volumeType, volumeSize, iops, throughput}); untyped devices are gp3."""
    return volume_hourly(device.get("volumeType") or BLOCK_DEVICE_DEFAULT, device.get(size_key), prices,
                         device.get("iops"), device.get("throughput"))


def template_volumes_hourly(template_props: Mapping[str, Any] | None, prices: PriceTable) -> float:
    """$/hour of the EBS volumes one instance launched from a launch template gets (its blockDeviceMappings)."""
    mappings = (template_props or {}).get("blockDeviceMappings") or []
    devices: list[Mapping[str, Any]] = [m["ebs"] for m in mappings
                                        if isinstance(m, Mapping) and isinstance(m.get("ebs"), Mapping)]
    if not devices:
        return volume_hourly(BLOCK_DEVICE_DEFAULT, DEFAULT_ROOT_GB, prices)
    return float(sum(device_hourly(d, prices) for d in devices))


def instance_volumes_hourly(props: Mapping[str, Any], prices: PriceTable) -> float:
    """$/hour of an instance's (or spot request's) rootBlockDevice and ebsBlockDevices."""
    root = props.get("rootBlockDevice")
    root = root if isinstance(root, Mapping) else {}
    total = device_hourly({**root, "volumeSize": root.get("volumeSize") or DEFAULT_ROOT_GB}, prices)
    extra: Iterable[Any] = props.get("ebsBlockDevices") or []
    return total + sum(device_hourly(d, prices) for d in extra if isinstance(d, Mapping))


def class_parameters(storage_classes: Iterable[Mapping[str, Any]], name: Any) -> Mapping[str, Any]:
    """The EBS CSI parameters (type, iops, throughput) of the named StorageClass, or of the default class."""
    for sc in storage_classes:
        meta = sc.get("metadata") or {}
        default = (meta.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
        if (name and meta.get("name") == name) or (not name and default):
            return sc.get("parameters") or {}
    return {}


def claim_hourly(gib: float, params: Mapping[str, Any], prices: PriceTable) -> tuple[float, str]:
    """($/hour, type) of a volume the EBS CSI driver makes for a claim: its class's type, iops, iopsPerGB and
    throughput (keys case-insensitive; type gp3 by default: aws-ebs-csi-driver docs/parameters.md
    @helm-chart-aws-ebs-csi-driver-2.64.0)."""
    lower = {str(k).lower(): v for k, v in params.items()}
    kind = str(lower.get("type") or BLOCK_DEVICE_DEFAULT)
    iops = lower.get("iops")
    if iops is None and lower.get("iopspergb") is not None:
        iops = _number(lower.get("iopspergb")) * gib
    return volume_hourly(kind, gib, prices, iops, lower.get("throughput")), kind


def storage_gib(quantity: Any) -> float:
    """A Kubernetes storage quantity (10Gi, 1Ti, 500Mi, 20G) in GiB (EBS bills per GiB-month)."""
    text = str(quantity or "0")
    units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "k": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30,
             "T": 1e12 / 2**30}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return round(float(text[: -len(suffix)]) * units[suffix], 6)
    return round(float(text) / 2**30, 6)


def _claim_gib(claim: Any) -> float:
    spec = claim.get("spec") if isinstance(claim, Mapping) else None
    requests = ((spec or {}).get("resources") or {}).get("requests") or {}
    return storage_gib(requests.get("storage"))


def price_volume(res: Any, prices: PriceTable, classes: Sequence[Mapping[str, Any]]) -> Optional[tuple[float, str]]:
    """($/hour, detail) of an EBS volume, a PersistentVolume on EBS, a claim or a StatefulSet's claim templates."""
    p, spec = res.props, res.props.get("spec") or {}
    if res.type == EBS_VOLUME:
        kind = p.get("type") or API_DEFAULT
        return volume_hourly(kind, p.get("size"), prices, p.get("iops"), p.get("throughput")), \
            f"{_number(p.get('size')):g} GB {kind} EBS volume"
    if res.type == PV:
        csi = spec.get("csi") or {}
        on_ebs = csi.get("driver") == EBS_CSI_DRIVER or spec.get("awsElasticBlockStore") is not None
        priced_elsewhere = any(d.type == EBS_VOLUME for deps in res.property_dependencies.values() for d in deps)
        if not on_ebs or priced_elsewhere:
            return None
        gib = storage_gib((spec.get("capacity") or {}).get("storage"))
        hourly, kind = claim_hourly(gib, class_parameters(classes, spec.get("storageClassName") or "-"), prices)
        return hourly, f"{gib:g} GiB {kind} EBS volume (PersistentVolume)"
    if res.type == PVC:
        gib = _claim_gib(p)
        hourly, kind = claim_hourly(gib, class_parameters(classes, spec.get("storageClassName")), prices)
        return hourly, f"{gib:g} GiB {kind} volume (kept after destroy: reclaim policy Retain)"
    claims = spec.get("volumeClaimTemplates") if res.type == STATEFUL_SET else None
    if not claims:
        return None
    replicas = _number(spec.get("replicas") if spec.get("replicas") is not None else 1)
    total, kinds = 0.0, set[str]()
    for claim in (c for c in claims if isinstance(c, Mapping)):
        hourly, kind = claim_hourly(_claim_gib(claim), class_parameters(classes, (claim.get("spec") or {}).get(
            "storageClassName")), prices)
        total, kinds = total + hourly, kinds | {kind}
    gib = replicas * sum(_claim_gib(c) for c in claims if isinstance(c, Mapping))
    return replicas * total, f"{gib:g} GiB {'/'.join(sorted(kinds))} volumes ({replicas:g} claims, kept after destroy)"
