"""Network component under mocks: subnets, NAT per strategy, S3 endpoint, flow logs."""

from __future__ import annotations

import json

import pytest

from infra.documents.subnets import subnet_layout

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
ROUTE = "aws:ec2/route:Route"
RT = "aws:ec2/routeTable:RouteTable"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def test_vpc_has_dns_hostnames_and_the_configured_range(run_stack):
    cap = run_stack()
    vpc = cap.one(VPC).props
    assert vpc["cidrBlock"] == "10.0.0.0/16"
    assert vpc["enableDnsHostnames"] is True and vpc["enableDnsSupport"] is True


def test_subnets_follow_the_pinned_layout_and_carry_kubernetes_tags(run_stack):
    cap = run_stack()
    layout = subnet_layout("10.0.0.0/16", 3)
    subnets = {r.name: r.props for r in cap.of_type(SUBNET)}
    assert len(subnets) == 6
    for z in layout:
        pub, priv = subnets[f"network-public-z{z.index}"], subnets[f"network-private-z{z.index}"]
        assert pub["cidrBlock"] == z.public and priv["cidrBlock"] == z.private
        assert pub["availabilityZone"] == priv["availabilityZone"] == f"us-east-1{'abc'[z.index]}"
        assert pub["tags"]["kubernetes.io/role/elb"] == "1"
        assert priv["tags"]["kubernetes.io/role/internal-elb"] == "1"
        for tags in (pub["tags"], priv["tags"]):
            assert tags["kubernetes.io/cluster/cloudviper-test"] == "shared"
        assert pub.get("mapPublicIpOnLaunch") is False


def test_az_count_picks_the_first_available_zones(run_stack):
    cap = run_stack(network={"azCount": 2})
    zones = sorted(r.props["availabilityZone"] for r in cap.of_type(SUBNET))
    assert zones == ["us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b"]
    assert cap.outputs["availabilityZones"].value == ["us-east-1a", "us-east-1b"]


@pytest.mark.parametrize(("strategy", "expected"), [("none", 0), ("single", 1), ("per-az", 3)])
def test_nat_gateway_count_per_strategy(run_stack, strategy, expected):
    cap = run_stack(network={"azs": ["us-east-1a", "us-east-1b", "us-east-1c"], "natStrategy": strategy})
    assert len(cap.of_type(NAT)) == expected
    assert len(cap.of_type(EIP)) == expected
    for eip in cap.of_type(EIP):
        assert eip.props["domain"] == "vpc"


@pytest.mark.parametrize("strategy", ["single", "per-az"])
def test_every_private_route_table_routes_to_a_nat_in_a_public_subnet(run_stack, strategy):
    cap = run_stack(network={"azs": ["us-east-1a", "us-east-1b", "us-east-1c"], "natStrategy": strategy})
    nat_ids = {n.id for n in cap.of_type(NAT)}
    public_ids = {s.id for s in cap.of_type(SUBNET) if "public" in s.name}
    for nat in cap.of_type(NAT):
        assert nat.props["subnetId"] in public_ids
    private_rts = {r.id: r for r in cap.of_type(RT) if "private" in r.name}
    defaults = {r.props["routeTableId"]: r.props for r in cap.of_type(ROUTE) if r.props["routeTableId"] in private_rts}
    assert set(defaults) == set(private_rts)
    used = {d["natGatewayId"] for d in defaults.values()}
    assert used <= nat_ids and len(used) == (1 if strategy == "single" else 3)


def test_no_nat_means_no_default_route_from_private_subnets(run_stack):
    cap = run_stack(network={"azs": ["us-east-1a"], "natStrategy": "none"})
    private_rt = cap.one(RT, "network-private-z0")
    assert not [r for r in cap.of_type(ROUTE) if r.props["routeTableId"] == private_rt.id]


def test_s3_gateway_endpoint_is_on_every_private_route_table(run_stack):
    cap = run_stack()
    endpoint = cap.one(ENDPOINT).props
    assert endpoint["vpcEndpointType"] == "Gateway"
    assert endpoint["serviceName"] == "com.amazonaws.us-east-1.s3"
    private_rts = {r.id for r in cap.of_type(RT) if "private" in r.name}
    assert len(private_rts) == 3
    assert set(endpoint["routeTableIds"]) == private_rts


def test_default_security_group_allows_nothing(run_stack):
    sg = run_stack().one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").props
    assert sg["ingress"] == [] and sg["egress"] == []


def test_flow_logs_off_by_default_and_scoped_when_on(run_stack):
    assert not run_stack().of_type("aws:ec2/flowLog:FlowLog")
    cap = run_stack(network={"azs": ["us-east-1a"], "flowLogs": True, "flowLogsRetentionDays": 14})
    flow = cap.one("aws:ec2/flowLog:FlowLog").props
    group = cap.one("aws:cloudwatch/logGroup:LogGroup")
    assert flow["logDestination"] == group.outputs["arn"]
    assert group.props["retentionInDays"] == 14
    trust = json.loads(cap.one("aws:iam/role:Role").props["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    policy = json.loads(cap.one("aws:iam/rolePolicy:RolePolicy").props["policy"])
    assert all(res.startswith(group.outputs["arn"]) for res in policy["Statement"][0]["Resource"])
