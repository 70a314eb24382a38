"""How much of the internet a list of CIDR ranges opens: judged on the address space covered, not the prefix text.

`0.0.0.0/0` is one way to say "everyone"; `0.0.0.0/1` + `128.0.0.0/1`, or 256 /8s, are others. The config
check on the API endpoint's publicAccessCidrs and the policy pack's ingress and endpoint rules all ask
the same question here: how many public addresses do these ranges cover together (overlaps counted once)?
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

# The widest opening we accept by default: one IPv4 /8 (16,777,216 addresses; the largest
# allocation a single organisation holds) or one IPv6 /32 (a regional registry's default allocation to an ISP).
MAX_OPEN_V4_PREFIX = 8
MAX_OPEN_V6_PREFIX = 32


def networks(cidrs: Iterable[object]) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv6Network]]:
    """The valid ranges among `cidrs` (host bits ignored), IPv4 and IPv6 apart; anything else is skipped."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            continue
        if isinstance(net, ipaddress.IPv4Network):
            v4.append(net)
        else:
            v6.append(net)
    return v4, v6


# Not reachable from the internet (RFC 1918, RFC 6598 shared, loopback, link-local; RFC 4193 unique local,
# IPv6 loopback and link-local): ranges inside a VPC or a campus network, not an opening to the world.
NOT_PUBLIC = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "fc00::/7", "::1/128", "fe80::/10")]


def _public(nets: list[Any]) -> int:
    """Addresses of disjoint ranges outside NOT_PUBLIC (CIDR ranges are either nested or disjoint)."""
    total = 0
    for net in ipaddress.collapse_addresses(nets):
        private = sum(min(net.num_addresses, p.num_addresses) for p in NOT_PUBLIC
                      if p.version == net.version and net.overlaps(p))
        total += net.num_addresses - private
    return total


def covered(cidrs: Iterable[object]) -> tuple[int, int]:
    """(IPv4 addresses, IPv6 addresses) reachable from the internet that the ranges cover, each counted once."""
    v4, v6 = networks(cidrs)
    return _public(v4), _public(v6)


PUBLIC_V4, PUBLIC_V6 = covered(["0.0.0.0/0"])[0], covered(["::/0"])[1]


def too_open(cidrs: Iterable[object], v4_prefix: int = MAX_OPEN_V4_PREFIX,
             v6_prefix: int = MAX_OPEN_V6_PREFIX) -> str | None:
    """None when the ranges together open at most a /v4_prefix (IPv4) and a /v6_prefix (IPv6), else why not."""
    n4, n6 = covered(cidrs)
    if n4 > 2 ** (32 - v4_prefix):
        whole = " (the whole IPv4 internet)" if n4 >= PUBLIC_V4 else ""
        return f"together cover {n4:,} IPv4 addresses{whole}, more than a /{v4_prefix}"
    if n6 > 2 ** (128 - v6_prefix):
        whole = " (the whole IPv6 internet)" if n6 >= PUBLIC_V6 else ""
        return f"together cover {n6:.3g} IPv6 addresses{whole}, more than a /{v6_prefix}"
    return None
