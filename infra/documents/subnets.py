"""Deterministic subnet layout: pure, pinned by tests, stable when zones are added.

The VPC range is cut into 8 equal blocks. Zone i (0-5) gets block i as its private subnet
(pods and nodes live there, so it is large). Block 7 is cut into 8 public subnets and zone i
gets the i-th. Block 6 is kept free for later use (e.g. a second private tier). A zone's
subnets depend only on the VPC range and the zone's index, so adding a zone never renumbers
an existing subnet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_ZONES = 6


@dataclass(frozen=True)
class ZoneSubnets:
    """The two subnets of one availability zone."""

    index: int
    private: str
    public: str


def subnet_layout(vpc_cidr: str, zones: int) -> list[ZoneSubnets]:
    """Subnets for zones 0..zones-1 of a /16-/22 VPC."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if not 1 <= zones <= MAX_ZONES:
        raise ValueError(f"zones must be 1-{MAX_ZONES}, got {zones}")
    if vpc.prefixlen > 22:
        raise ValueError(f"{vpc_cidr} is smaller than /22")
    blocks = list(vpc.subnets(prefixlen_diff=3))
    public_blocks = list(blocks[7].subnets(prefixlen_diff=3))
    return [
        ZoneSubnets(index=i, private=str(blocks[i]), public=str(public_blocks[i]))
        for i in range(zones)
    ]
