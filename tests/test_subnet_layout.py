"""Subnet layout: no overlaps, inside the VPC, stable when zones are added (property tests)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.documents.subnets import MAX_ZONES, subnet_layout

vpcs = st.builds(
    lambda a, b, prefix: str(ipaddress.IPv4Network((f"10.{a}.{b}.0", prefix), strict=False)),
    st.integers(0, 255), st.integers(0, 255), st.integers(16, 22),
)
zones = st.integers(1, MAX_ZONES)


@given(vpc=vpcs, n=zones)
def test_subnets_are_inside_the_vpc_and_do_not_overlap(vpc, n):
    net = ipaddress.IPv4Network(vpc)
    subnets = [ipaddress.IPv4Network(c) for z in subnet_layout(vpc, n) for c in (z.private, z.public)]
    assert len(subnets) == 2 * n
    for s in subnets:
        assert s.subnet_of(net)
    for i, a in enumerate(subnets):
        for b in subnets[i + 1:]:
            assert not a.overlaps(b), (a, b)


@given(vpc=vpcs, n=zones, m=zones)
def test_adding_zones_never_renumbers_existing_subnets(vpc, n, m):
    small, large = sorted((n, m))
    assert subnet_layout(vpc, large)[:small] == subnet_layout(vpc, small)


@given(vpc=vpcs)
def test_private_subnets_are_larger_than_public_ones(vpc):
    for z in subnet_layout(vpc, MAX_ZONES):
        assert ipaddress.IPv4Network(z.private).num_addresses == 8 * ipaddress.IPv4Network(z.public).num_addresses


def test_layout_is_pinned_for_a_16():
    # Pinned: changing these would replace every subnet of every deployed stack.
    layout = subnet_layout("10.40.0.0/16", 3)
    assert [(z.private, z.public) for z in layout] == [
        ("10.40.0.0/19", "10.40.224.0/22"),
        ("10.40.32.0/19", "10.40.228.0/22"),
        ("10.40.64.0/19", "10.40.232.0/22"),
    ]


@pytest.mark.parametrize(("vpc", "n"), [("10.0.0.0/16", 0), ("10.0.0.0/16", 7), ("10.0.0.0/24", 1)])
def test_out_of_range_input_is_refused(vpc, n):
    with pytest.raises(ValueError):
        subnet_layout(vpc, n)
