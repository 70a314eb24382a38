"""Network: VPC, public/private subnets per zone, NAT per strategy, S3 gateway endpoint, flow logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from infra.config.network import NetworkConfig
from infra.documents.subnets import subnet_layout


@dataclass(frozen=True)
class NetworkArgs:
    """What the network is built from."""

    config: NetworkConfig
    name_prefix: str
    cluster_name: str
    region: str


class Network(pulumi.ComponentResource):
    """A VPC laid out for an EKS cluster: nodes in private subnets, load balancers in public ones."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    zone_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:network:Network", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        n = args.name_prefix
        zones = cfg.zone_count
        layout = subnet_layout(cfg.cidr, zones)
        self.zone_names = self._zone_names(cfg, zones)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cfg.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{n}-vpc"},
            opts=child,
        )
        # CIS: the default security group of a VPC must allow nothing.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
            tags={"Name": f"{n}-default-deny"}, opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{n}-igw"}, opts=child
        )
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags={"Name": f"{n}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default", route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child,
        )

        public_subnets, private_subnets, private_rts = [], [], []
        for z in layout:
            az = self.zone_names.apply(_nth(z.index))
            letter = f"z{z.index}"
            pub = aws.ec2.Subnet(
                f"{name}-public-{letter}", vpc_id=vpc.id, cidr_block=z.public,
                availability_zone=az, map_public_ip_on_launch=False,
                tags={"Name": f"{n}-public-{letter}", "kubernetes.io/role/elb": "1", **cluster_tag},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{letter}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child
            )
            priv = aws.ec2.Subnet(
                f"{name}-private-{letter}", vpc_id=vpc.id, cidr_block=z.private,
                availability_zone=az,
                tags={"Name": f"{n}-private-{letter}", "kubernetes.io/role/internal-elb": "1", **cluster_tag},
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{letter}", vpc_id=vpc.id, tags={"Name": f"{n}-private-{letter}"}, opts=child
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{letter}", subnet_id=priv.id, route_table_id=rt.id, opts=child
            )
            public_subnets.append(pub)
            private_subnets.append(priv)
            private_rts.append(rt)

        eips = self._nat(name, n, cfg, public_subnets, private_rts, igw)
        # Where the private subnets' traffic to the internet comes from (other clusters' API allow-lists).
        self.egress_cidrs: pulumi.Output[list[str]] = pulumi.Output.all(*[e.public_ip for e in eips]).apply(
            lambda ips: [f"{ip}/32" for ip in ips]) if eips else pulumi.Output.from_input([])

        # S3 through a gateway endpoint: free, and S3 traffic pays no NAT data charge.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{n}-s3"},
            opts=child,
        )
        if cfg.flow_logs:
            self._flow_logs(name, n, cfg, vpc)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.private_route_table_ids = [rt.id for rt in private_rts]
        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
        })

    def _zone_names(self, cfg: NetworkConfig, zones: int) -> pulumi.Output[list[str]]:
        if cfg.azs is not None:
            return pulumi.Output.from_input(list(cfg.azs))
        found = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        def first(names: list[str]) -> list[str]:
            if len(names) < zones:
                raise pulumi.RunError(
                    f"cloudviper:network.azCount: {zones} is more than the {len(names)} zones available"
                )
            return sorted(names)[:zones]

        return found.names.apply(first)

    def _nat(self, name: str, n: str, cfg: NetworkConfig, public_subnets: list[aws.ec2.Subnet],
             private_rts: list[aws.ec2.RouteTable], igw: aws.ec2.InternetGateway) -> list[aws.ec2.Eip]:
        """NAT gateways: none, one in the first zone, or one per zone (each zone routes to its own)."""
        if cfg.nat_strategy == "none":
            return []
        count = 1 if cfg.nat_strategy == "single" else len(public_subnets)
        gateways, eips = [], []
        for i in range(count):
            eip = aws.ec2.Eip(
                f"{name}-nat-z{i}", domain="vpc", tags={"Name": f"{n}-nat-z{i}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            eips.append(eip)
            gateways.append(aws.ec2.NatGateway(
                f"{name}-nat-z{i}", allocation_id=eip.id, subnet_id=public_subnets[i].id,
                connectivity_type="public", tags={"Name": f"{n}-nat-z{i}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            ))
        for i, rt in enumerate(private_rts):
            aws.ec2.Route(
                f"{name}-private-z{i}-default", route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0", nat_gateway_id=gateways[min(i, count - 1)].id,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return eips

    def _flow_logs(self, name: str, n: str, cfg: NetworkConfig, vpc: aws.ec2.Vpc) -> None:
        """VPC flow logs to a CloudWatch log group, written by a role that can do only that."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", name=f"/cloudviper/{n}/vpc-flow-logs",
            retention_in_days=cfg.flow_logs_retention_days, tags={"Name": f"{n}-flow-logs"}, opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=json.dumps(flow_logs_trust_policy()),
            tags={"Name": f"{n}-flow-logs"},
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs", role=role.id,
            policy=group.arn.apply(lambda arn: json.dumps(flow_logs_write_policy(arn))),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs", vpc_id=vpc.id, traffic_type="ALL",
            log_destination_type="cloud-watch-logs", log_destination=group.arn,
            iam_role_arn=role.arn, max_aggregation_interval=600,
            tags={"Name": f"{n}-flow-logs"}, opts=child,
        )


def _nth(i: int) -> Callable[[list[str]], str]:
    return lambda names: names[i]


def flow_logs_trust_policy() -> dict:
    """Only the VPC flow logs service may assume the flow-log role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }],
    }


def flow_logs_write_policy(log_group_arn: str) -> dict:
    """Write flow-log streams into one log group and nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        }],
    }
