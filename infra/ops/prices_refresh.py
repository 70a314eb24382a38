"""Rebuild the price table from the AWS Pricing API and spot price history (boto3).

Writes, next to the bundled table (infra/pricing, where the cost model looks), ec2-<region>.refreshed.csv
(the bundled file's format), spot-<region>.csv and ec2-<region>.refreshed.json (date and source); the cost
model prefers them and says so. Nothing is written unless every call succeeded, each file is replaced
whole (a temporary file renamed over it), and a bundled table is never overwritten.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import boto3

from infra.ops.aws_clients import client as aws_client
from infra.ops.aws_errors import UnexpectedResponse, aws_call
from infra.pricing.tables import PRICING_DIR

# The Pricing API has endpoints in us-east-1, eu-central-1 and ap-south-1 only (botocore's endpoints.json);
# us-east-1 has every region's prices.
PRICING_REGION = "us-east-1"
EC2_COLUMNS = ["instance_type", "vcpu", "memory_gib", "gpus", "bare_metal", "on_demand_usd_per_hour"]
# The tables shipped in infra/pricing (SOURCES.md); a refresh must never replace one of them.
BUNDLED_TABLES = frozenset({"ec2-us-east-1.csv", "aws-fixed-us-east-1.csv", "eks-versions.csv", "instance-facts.csv"})
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")  # us-east-1, us-gov-west-1, ap-southeast-5, us-isob-east-1


class RefreshError(ValueError):
    """A usage problem (a bad region, an output folder that would overwrite a bundled table)."""


def output_names(region: str) -> tuple[str, str, str]:
    """The files a refresh writes: the instance table, the spot table, the metadata."""
    return f"ec2-{region}.refreshed.csv", f"spot-{region}.csv", f"ec2-{region}.refreshed.json"


def check_destination(region: str, folder: Path, bundled: Iterable[str] = BUNDLED_TABLES) -> None:
    """RefreshError unless `region` is a region name and writing into `folder` replaces no bundled table."""
    if not REGION_NAME.fullmatch(region):
        raise RefreshError(f"--region {region!r} is not an AWS region name (like us-east-1)")
    if folder.exists() and not folder.is_dir():
        raise RefreshError(f"--output-dir {folder} is a file, not a folder")
    if folder.resolve() == PRICING_DIR.resolve():
        clash = sorted(set(output_names(region)) & set(bundled))
        if clash:
            raise RefreshError(f"--output-dir {folder} holds the bundled price tables and {', '.join(clash)} is one "
                               "of them: refusing to overwrite it; write the refresh to another folder")


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
    client = aws_client(session, "pricing", region_name=PRICING_REGION)
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in (
        ("regionCode", region), ("operatingSystem", "Linux"), ("tenancy", "Shared"), ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"), ("licenseModel", "No License required"))]
    prices: dict[str, float] = {}
    for page in client.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", Filters=filters):
        prices.update(on_demand_prices(_field(page, "PriceList")))
    return prices


def _field(page: dict[str, Any], key: str) -> Any:
    """A page's list, or UnexpectedResponse: botocore turns a 200 answer that is not AWS's into an empty page."""
    if key not in page:
        raise UnexpectedResponse(field=key)
    return page[key]


def fetch_specs(region: str, session: boto3.session.Session) -> dict[str, dict[str, Any]]:
    """vCPU, memory, GPUs and bare metal of every instance type offered in the region."""
    client = aws_client(session, "ec2", region_name=region)
    specs = {}
    for page in client.get_paginator("describe_instance_types").paginate():
        for t in _field(page, "InstanceTypes"):
            gpus = sum(g.get("Count", 0) for g in t.get("GpuInfo", {}).get("Gpus", []))
            specs[t["InstanceType"]] = {"vcpu": t["VCpuInfo"]["DefaultVCpus"],
                                        "memory_gib": t["MemoryInfo"]["SizeInMiB"] / 1024, "gpus": gpus,
                                        "bare_metal": bool(t.get("BareMetal", False))}
    return specs


def fetch_spot(region: str, types: list[str], session: boto3.session.Session,
               zones: Optional[Iterable[str]] = None) -> dict[str, float]:
    """Highest current spot price of each type across the region's zones, or these zones (the conservative estimate)."""
    wanted = set(zones) if zones is not None else None
    client = aws_client(session, "ec2", region_name=region)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    spot: dict[str, float] = {}
    for i in range(0, len(types), 100):
        pages = client.get_paginator("describe_spot_price_history").paginate(
            InstanceTypes=types[i:i + 100], ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"], StartTime=start)
        for page in pages:
            for h in _field(page, "SpotPriceHistory"):
                if wanted is not None and h["AvailabilityZone"] not in wanted:
                    continue
                spot[h["InstanceType"]] = max(spot.get(h["InstanceType"], 0.0), float(h["SpotPrice"]))
    return spot


def _write(path: Path, text: str) -> None:
    """Replace `path` whole: a temporary file in the same folder, renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _csv(header: list[str], rows: Iterable[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def refresh(region: str, output_dir: Optional[Path] = None, session: Optional[boto3.session.Session] = None) -> dict[str, Any]:
    """Fetch, then write the refreshed tables; returns a summary (with `files`, the paths written).

    RefreshError for a usage problem, AwsCallError (one line) when a call fails, RuntimeError when AWS
    priced nothing; in each case nothing is written.
    """
    folder = output_dir or PRICING_DIR
    check_destination(region, folder)
    with aws_call("pricing", "GetProducts"):
        session = session or boto3.session.Session()
        od = fetch_on_demand(region, session)
    with aws_call("ec2", "DescribeInstanceTypes"):
        specs = fetch_specs(region, session)
    types = sorted(t for t in od if t in specs)
    if not types:
        raise RuntimeError(f"no priced instance types found for {region}; check the region and the Pricing API access")
    with aws_call("ec2", "DescribeSpotPriceHistory"):
        spot = fetch_spot(region, types, session)
    meta = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"), "region": region,
            "source": "AWS Pricing API (GetProducts) and EC2 DescribeInstanceTypes / DescribeSpotPriceHistory",
            "instance_types": len(types), "spot_prices": len(spot)}
    ec2_name, spot_name, meta_name = output_names(region)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / ec2_name, _csv(EC2_COLUMNS, ([t, specs[t]["vcpu"], f"{specs[t]['memory_gib']:g}", specs[t]["gpus"],
                                                  str(specs[t]["bare_metal"]).lower(), f"{od[t]:g}"] for t in types)))
    _write(folder / spot_name, _csv(["instance_type", "spot_usd_per_hour"], ([t, f"{spot[t]:g}"] for t in sorted(spot))))
    _write(folder / meta_name, json.dumps(meta, indent=2) + "\n")  # last: its date says the tables are complete
    return {**meta, "files": [str(folder / n) for n in (ec2_name, spot_name, meta_name)]}
