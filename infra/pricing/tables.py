"""Price tables: EC2 instance specs and prices, fixed AWS prices, optional spot prices.

Standard library only, so the policy pack can import it without the program's dependencies.
Tables live in infra/pricing/ (sources in infra/pricing/SOURCES.md). A refreshed table
(`python -m infra prices refresh`) is written next to the bundled one and preferred.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Optional

PRICING_DIR = Path(__file__).resolve().parent
BUNDLED_REGION = "us-east-1"
HOURS_PER_MONTH = 730
# Spot prices vary by type, zone and hour; without a refreshed spot table we assume spot
# costs 40% of on-demand (AWS advertises "up to 90% off"; 55-70% off is typical for the
# general-purpose families in us-east-1, so 0.40 errs on the expensive side).
DEFAULT_SPOT_RATIO = 0.40


class PricingError(ValueError):
    """A price is needed that the table does not have (never priced as zero)."""


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type's shape and on-demand price."""

    name: str
    vcpu: int
    memory_gib: float
    gpus: int
    bare_metal: bool
    on_demand_usd: float


@dataclass
class PriceTable:
    """Prices for one region, and where they came from."""

    region: str
    instances: dict[str, InstanceType]
    fixed: dict[str, float]
    spot: dict[str, float] = field(default_factory=dict)
    source: str = ""
    spot_ratio: float = DEFAULT_SPOT_RATIO

    def instance(self, name: str) -> InstanceType:
        """Specs and price of an instance type; unknown types are an error."""
        try:
            return self.instances[name]
        except KeyError:
            close = sorted(fnmatch.filter(self.instances, name.split(".")[0] + ".*"))[:6]
            hint = f"; known {name.split('.')[0]} sizes: {', '.join(close)}" if close else ""
            raise PricingError(f"instance type {name!r} is not in the {self.region} price table{hint}") from None

    def on_demand(self, name: str) -> float:
        """On-demand $/hour of an instance type."""
        return self.instance(name).on_demand_usd

    def spot_price(self, name: str) -> float:
        """Spot $/hour: the refreshed table if it has the type, else on-demand x spot ratio."""
        if name in self.spot:
            return self.spot[name]
        return round(self.on_demand(name) * self.spot_ratio, 6)

    def fixed_price(self, item: str) -> float:
        """A fixed price such as `nat_gateway_hour`."""
        try:
            return self.fixed[item]
        except KeyError:
            raise PricingError(f"no fixed price {item!r} in the {self.region} table") from None


def _read_instances(path: Path) -> dict[str, InstanceType]:
    with path.open(newline="") as fh:
        return {
            row["instance_type"]: InstanceType(
                name=row["instance_type"], vcpu=int(row["vcpu"]), memory_gib=float(row["memory_gib"]),
                gpus=int(row["gpus"]), bare_metal=row["bare_metal"].strip().lower() == "true",
                on_demand_usd=float(row["on_demand_usd_per_hour"]),
            )
            for row in csv.DictReader(fh)
        }


def _read_fixed(path: Path) -> dict[str, float]:
    with path.open(newline="") as fh:
        return {row["item"]: float(row["usd"]) for row in csv.DictReader(fh)}


def _read_spot(path: Path) -> dict[str, float]:
    with path.open(newline="") as fh:
        return {row["instance_type"]: float(row["spot_usd_per_hour"]) for row in csv.DictReader(fh)}


BUNDLED_ONLY = "CLOUDVIPER_BUNDLED_PRICES"  # set (the tests do): refreshed tables are ignored, figures stay reproducible


@cache
def load_prices(region: str = BUNDLED_REGION, directory: Optional[Path] = None) -> PriceTable:
    """The price table for a region: a refreshed one if present, else the bundled us-east-1 table."""
    folder = directory or PRICING_DIR
    refreshed = folder / f"ec2-{region}.refreshed.csv"
    own = folder / f"ec2-{region}.csv"
    notes = []
    if refreshed.exists() and not os.environ.get(BUNDLED_ONLY):
        ec2_path = refreshed
        meta_path = folder / f"ec2-{region}.refreshed.json"
        date = json.loads(meta_path.read_text()).get("date", "?") if meta_path.exists() else "?"
        notes.append(f"refreshed table {refreshed.name} ({date})")
    elif own.exists():
        ec2_path = own
        notes.append(f"bundled table {own.name} (see infra/pricing/SOURCES.md)")
    else:
        ec2_path = PRICING_DIR / f"ec2-{BUNDLED_REGION}.csv"
        notes.append(f"no {region} table: using {BUNDLED_REGION} prices as an estimate")
    fixed_path = next((p for p in (folder / f"aws-fixed-{region}.csv", PRICING_DIR / f"aws-fixed-{region}.csv")
                       if p.exists()), PRICING_DIR / f"aws-fixed-{BUNDLED_REGION}.csv")
    spot_path = folder / f"spot-{region}.csv"
    spot = _read_spot(spot_path) if spot_path.exists() and not os.environ.get(BUNDLED_ONLY) else {}
    notes.append(f"spot from {spot_path.name}" if spot else f"spot = on-demand x {DEFAULT_SPOT_RATIO}")
    return PriceTable(
        region=region, instances=_read_instances(ec2_path), fixed=_read_fixed(fixed_path), spot=spot,
        source="; ".join(notes),
    )
