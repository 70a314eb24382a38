"""The EKS version support calendar (eks-versions.csv) and what it means for a cluster's price; stdlib only.

A cluster on a version past its end of standard support costs the extended-support price if its
upgrade policy is EXTENDED (the EKS API default); with STANDARD, EKS upgrades it instead.
`today()` can be pinned with CLOUDVIPER_TODAY=YYYY-MM-DD so a plan or a test is reproducible.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CALENDAR_FILE = Path(__file__).resolve().parent / "eks-versions.csv"
CALENDAR_AS_OF = dt.date(2026, 11, 23)  # when eks-versions.csv was last checked (see SOURCES.md)
STANDARD, EXTENDED = "STANDARD", "EXTENDED"


@dataclass(frozen=True)
class SupportWindow:
    """One Kubernetes minor version on EKS."""

    version: str
    released: dt.date
    end_of_standard: dt.date
    end_of_extended: dt.date

    def tier(self, on: dt.date) -> str:
        """standard, extended or unsupported on a date."""
        if on < self.end_of_standard:
            return "standard"
        return "extended" if on < self.end_of_extended else "unsupported"


@cache
def calendar() -> dict[str, SupportWindow]:
    """Every version in eks-versions.csv."""
    with CALENDAR_FILE.open(newline="") as fh:
        return {
            r["version"]: SupportWindow(r["version"], dt.date.fromisoformat(r["eks_release"]),
                                        dt.date.fromisoformat(r["end_of_standard_support"]),
                                        dt.date.fromisoformat(r["end_of_extended_support"]))
            for r in csv.DictReader(fh)
        }


def today() -> dt.date:
    """The date the plan prices and judges support for (CLOUDVIPER_TODAY overrides the clock)."""
    pinned = os.environ.get("CLOUDVIPER_TODAY")
    if pinned:
        try:
            return dt.date.fromisoformat(pinned)
        except ValueError:
            raise ValueError(f"CLOUDVIPER_TODAY={pinned!r} is not a date; expected YYYY-MM-DD") from None
    return dt.datetime.now(dt.UTC).date()  # AWS bills support tiers by UTC day


def billed_tier(version: str, support_type: str, on: dt.date) -> str:
    """The price tier a cluster pays on a date: standard, or extended when it stays on an old version."""
    window = calendar().get(version)
    if window is None or support_type != EXTENDED:
        return "standard"
    return "extended" if window.tier(on) != "standard" else "standard"
