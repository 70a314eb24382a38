"""Rebuild the price table from the AWS Pricing API and spot price history (boto3).

Writes, next to the bundled table, ec2-<region>.refreshed.csv (the bundled file's format),
spot-<region>.csv and ec2-<region>.refreshed.json (date and source); the cost model prefers
them and says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import boto3

from infra.pricing.tables import PRICING_DIR

PRICING_REGION = "us-east-1"  # the Pricing API answers from a few regions; us-east-1 has every region's prices
EC2_COLUMNS = ["instance_type", "vcpu", "memory_gib", "gpus", "bare_metal", "on_demand_usd_per_hour"]


def on_demand_prices(price_list: Iterable[str]) -> dict[str, float]:
    """Parse GetProducts PriceList documents: instance type -> on-demand $/hour (Linux, shared, no SQL)."""
    prices: dict[str, float] = {}
    for raw in price_list:
        doc = json.loads(raw)
        itype = doc.get("product", {}).get("attributes", {}).get("instanceType")
        for term in doc.get("terms", {}).get("OnDemand", {}).values():
            for dim in term.get("priceDimensions", {}).values():
                usd = float(dim.get("pricePerUnit", {}).get("USD", "0") or 0)
                if itype and usd > 0 and dim.get("unit") in ("Hrs", "Hours"):
                    prices[itype] = usd
    return prices


def fetch_on_demand(region: str, session: boto3.session.Session) -> dict[str, float]:
    """On-demand Linux prices of every instance type in a region."""
    client = session.client("pricing", region_name=PRICING_REGION)
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in (
        ("regionCode", region), ("operatingSystem", "Linux"), ("tenancy", "Shared"), ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"), ("licenseModel", "No License required"))]
    prices: dict[str, float] = {}
    for page in client.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", Filters=filters):
        prices.update(on_demand_prices(page["PriceList"]))
    return prices


def fetch_specs(region: str, session: boto3.session.Session) -> dict[str, dict[str, Any]]:
    """vCPU, memory, GPUs and bare metal of every instance type offered in the region."""
    client = session.client("ec2", region_name=region)
    specs = {}
    for page in client.get_paginator("describe_instance_types").paginate():
        for t in page["InstanceTypes"]:
            gpus = sum(g.get("Count", 0) for g in t.get("GpuInfo", {}).get("Gpus", []))
            specs[t["InstanceType"]] = {"vcpu": t["VCpuInfo"]["DefaultVCpus"],
                                        "memory_gib": t["MemoryInfo"]["SizeInMiB"] / 1024, "gpus": gpus,
                                        "bare_metal": bool(t.get("BareMetal", False))}
    return specs


def fetch_spot(region: str, types: list[str], session: boto3.session.Session,
               zones: Optional[Iterable[str]] = None) -> dict[str, float]:
    """Highest current spot price of each type across the region's zones, or these zones (the conservative estimate)."""
    wanted = set(zones) if zones is not None else None
    client = session.client("ec2", region_name=region)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    spot: dict[str, float] = {}
    for i in range(0, len(types), 100):
        pages = client.get_paginator("describe_spot_price_history").paginate(
            InstanceTypes=types[i:i + 100], ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"], StartTime=start)
        for page in pages:
            for h in page["SpotPriceHistory"]:
                if wanted is not None and h["AvailabilityZone"] not in wanted:
                    continue
                spot[h["InstanceType"]] = max(spot.get(h["InstanceType"], 0.0), float(h["SpotPrice"]))
    return spot


def refresh(region: str, output_dir: Optional[Path] = None, session: Optional[boto3.session.Session] = None) -> dict[str, Any]:
    """Fetch and write the refreshed tables; returns a summary."""
    session = session or boto3.session.Session()
    folder = output_dir or PRICING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    od = fetch_on_demand(region, session)
    specs = fetch_specs(region, session)
    types = sorted(t for t in od if t in specs)
    if not types:
        raise RuntimeError(f"no priced instance types found for {region}; check the region and the Pricing API access")
    with (folder / f"ec2-{region}.refreshed.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(EC2_COLUMNS)
        for t in types:
            s = specs[t]
            w.writerow([t, s["vcpu"], f"{s['memory_gib']:g}", s["gpus"], str(s["bare_metal"]).lower(), f"{od[t]:g}"])
    spot = fetch_spot(region, types, session)
    with (folder / f"spot-{region}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instance_type", "spot_usd_per_hour"])
        for t in sorted(spot):
            w.writerow([t, f"{spot[t]:g}"])
    meta = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"), "region": region,
            "source": "AWS Pricing API (GetProducts) and EC2 DescribeInstanceTypes / DescribeSpotPriceHistory",
            "instance_types": len(types), "spot_prices": len(spot)}
    (folder / f"ec2-{region}.refreshed.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
