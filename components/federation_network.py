"""The network path of federation: stack references to the other side, VPC peering or a transit gateway,
routes and security group rules on each side, and what the other side needs from this one.

Each stack changes only its own VPC and cluster: the source (which sends pods) creates the peering (or the
transit gateway) and its own routes and rules, and exports what the target needs; the target reads that through
its own stack reference to the source and adds its routes and rules, its API access for the source's egress
addresses, and the source's network to its CNI's no-SNAT list. So both sides are deployed in turn: the target
(its credential), the source (peering), the target again (routes, API access) -- README: Federation.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.k8s_objects import meta
from infra.config.federation import FederationConfig, FederationTargetConfig
from infra.documents.dask import NANNY_PORT, WORKER_PORT

# Delegated Dask workers reach the scheduler through its load balancer; the scheduler and the workers of the other
# cluster open connections to a worker's advertised pod address (worker port) and to its nanny (distributed 2026.1:
# scheduler -> worker for gather/replicate/run, worker -> worker for data, scheduler -> nanny for restart).
WORKER_PORTS = (WORKER_PORT, NANNY_PORT)


def stack_short_name(ref: str) -> str:
    """`organization/project/stack` -> `stack`: how a target stack knows itself (pulumi.get_stack())."""
    return ref.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class OwnNetwork:
    """This stack's side: its VPC, routing and the security group of its nodes (and pods, under the VPC CNI)."""

    vpc_id: pulumi.Input[str]
    cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    private_route_table_ids: Sequence[pulumi.Input[str]]
    region: str


def peer_cidr(own: str, what: str) -> Any:
    """A check for the other side's network: present, and not overlapping ours (EC2 refuses such a peering)."""
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise pulumi.RunError(f"{what} exports no vpcCidr; `pulumi up` that stack first (README: Federation)")
        if ipaddress.IPv4Network(value).overlaps(ipaddress.IPv4Network(own)):
            raise pulumi.RunError(f"{what}: its VPC {value} overlaps this stack's cloudviper:network.cidr {own}; "
                                  "peered or routed networks must not overlap: give one of them another cidr")
        return value
    return check


def worker_rules(name: str, security_group_id: pulumi.Input[str], cidr: pulumi.Input[str],
                 opts: pulumi.ResourceOptions) -> list[aws.vpc.SecurityGroupIngressRule]:
    """Ingress from the other side's network to the Dask worker and nanny ports, nothing else."""
    return [aws.vpc.SecurityGroupIngressRule(
        f"{name}-{port}", security_group_id=security_group_id, cidr_ipv4=cidr, ip_protocol="tcp", from_port=port,
        to_port=port, description=f"federated Dask {'worker' if port == WORKER_PORT else 'nanny'} port", opts=opts)
        for port in WORKER_PORTS]


class FederationPaths(pulumi.ComponentResource):
    """Source side: per target stack, a peering (or a transit gateway attachment) with routes to its VPC and worker
    ports open to it; per vpn target, worker ports open to its networks. `peer_cidrs` are all of them."""

    peer_cidrs: pulumi.Output[list[str]]
    exports: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, fed: FederationConfig, own: OwnNetwork, security_group_id: pulumi.Input[str],
                 references: dict[str, pulumi.StackReference], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:Paths", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cidrs: list[pulumi.Input[str]] = []
        exports: dict[str, Any] = {}
        tgw: Optional[pulumi.Output[str]] = None
        for t in fed.targets:
            if t.path == "vpn":
                for i, c in enumerate(t.cidrs):
                    worker_rules(f"{name}-{t.name}-{i}", security_group_id, c, child)
                cidrs += t.cidrs
            if t.path not in ("peering", "transitGateway"):
                continue
            ref = references[f"t:{t.name}"]
            what = f"cloudviper:federation.targets[{t.name}]: stack {t.stack}"
            cidr = ref.get_output("vpcCidr").apply(peer_cidr(own.cidr, what))
            region = ref.get_output("region").apply(same_region(own.region, what))
            if t.path == "peering":
                link = self._peering(name, t, own, ref.get_output("vpcId"), region, child)
                hop: dict[str, Any] = {"vpc_peering_connection_id": link.id}
                exports[stack_short_name(str(t.stack))] = {"kind": "peering", "peeringId": link.id, "vpcCidr": own.cidr}
            else:
                if tgw is None:
                    tgw = self._transit_gateway(name, t, own, child)
                hop = {"transit_gateway_id": tgw}
                exports[stack_short_name(str(t.stack))] = {"kind": "transitGateway", "transitGatewayId": tgw,
                                                           "vpcCidr": own.cidr}
            for i, rt in enumerate(own.private_route_table_ids):
                aws.ec2.Route(f"{name}-{t.name}-z{i}", route_table_id=rt, destination_cidr_block=cidr, **hop, opts=child)
            worker_rules(f"{name}-{t.name}", security_group_id, cidr, child)
            cidrs.append(cidr)
        self.peer_cidrs = pulumi.Output.all(*cidrs).apply(lambda v: sorted(set(v))) if cidrs else pulumi.Output.from_input([])
        self.exports = pulumi.Output.from_input(exports)
        self.register_outputs({"peerCidrs": self.peer_cidrs})

    def _peering(self, name: str, t: FederationTargetConfig, own: OwnNetwork, peer_vpc: pulumi.Output[Any],
                 region: pulumi.Output[str], child: pulumi.ResourceOptions) -> aws.ec2.VpcPeeringConnection:
        """A peering accepted at once: auto_accept works for two VPCs of one account and region (pulumi_aws
        VpcPeeringConnection docs), which same_region checks and the README requires."""
        return aws.ec2.VpcPeeringConnection(
            f"{name}-{t.name}", vpc_id=own.vpc_id, peer_vpc_id=pulumi.Output.all(peer_vpc, region).apply(lambda v: v[0]),
            auto_accept=True, tags={"Name": f"{name}-{t.name}"}, opts=child)

    def _transit_gateway(self, name: str, t: FederationTargetConfig, own: OwnNetwork,
                         child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The stack's transit gateway (or the one configured) and this VPC's attachment to it; attachments are
        associated with and propagate to the default route table, so the gateway routes between them."""
        tgw_id: pulumi.Output[str]
        if t.transit_gateway_id:
            tgw_id = pulumi.Output.from_input(t.transit_gateway_id)
        else:
            tgw_id = aws.ec2transitgateway.TransitGateway(
                f"{name}-tgw", description="cloudviper federation", default_route_table_association="enable",
                default_route_table_propagation="enable", auto_accept_shared_attachments="disable",
                tags={"Name": f"{name}-tgw"}, opts=child).id
        attachment = aws.ec2transitgateway.VpcAttachment(
            f"{name}-tgw-attachment", transit_gateway_id=tgw_id, vpc_id=own.vpc_id, subnet_ids=list(own.private_subnet_ids),
            tags={"Name": f"{name}-tgw-attachment"}, opts=child)
        return pulumi.Output.all(tgw_id, attachment.id).apply(lambda v: str(v[0]))


def same_region(own: str, what: str) -> Any:
    """Peering and transit gateway attachments here connect VPCs of one region (and account)."""
    def check(value: Any) -> str:
        if value != own:
            raise pulumi.RunError(f"{what} is in region {value!r}, this stack in {own!r}; federation networks connect "
                                  "stacks of one region and account (README: Federation, network paths)")
        return str(value)
    return check


class AcceptedPaths(pulumi.ComponentResource):
    """Target side: per source stack, routes back to its VPC through the peering or transit gateway it exports, the
    worker ports open to it, and the source's scheduler under its in-cluster name (an ExternalName Service).

    What the source exports is known only once it is deployed, so the routes are registered when its stack reference
    resolves (in `pulumi preview` too: stack outputs are read, not computed); until then this side warns."""

    def __init__(self, name: str, fed: FederationConfig, own: OwnNetwork, security_group_id: pulumi.Input[str],
                 references: dict[str, pulumi.StackReference], stack: str, provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:AcceptedPaths", name, None, opts)
        self.provider = provider
        for s in fed.sources:
            if s.stack is None:
                continue
            what = f"cloudviper:federation.sources[{s.name}]: stack {s.stack}"
            link = source_link(references[f"s:{s.name}"], stack)
            link.apply(functools.partial(self._connect, f"{name}-{s.name}", own=own, security_group_id=security_group_id,
                                         what=what))
        self.register_outputs({})

    def _connect(self, name: str, link: Any, *, own: OwnNetwork, security_group_id: pulumi.Input[str], what: str) -> list[str]:
        if not isinstance(link, dict):
            pulumi.log.warn(f"{what} has not connected to this stack yet: `pulumi up` it, then this stack again "
                            "(README: Federation, deploying a pair)")
            return []
        cidr = peer_cidr(own.cidr, what)(link.get("vpcCidr"))
        child = pulumi.ResourceOptions(parent=self)
        if link.get("kind") == "transitGateway":
            attachment = aws.ec2transitgateway.VpcAttachment(
                f"{name}-tgw-attachment", transit_gateway_id=link["transitGatewayId"], vpc_id=own.vpc_id,
                subnet_ids=list(own.private_subnet_ids), tags={"Name": f"{name}-tgw-attachment"}, opts=child)
            hop: dict[str, Any] = {"transit_gateway_id": link["transitGatewayId"]}
            route_opts = pulumi.ResourceOptions(parent=self, depends_on=[attachment])
        else:
            hop, route_opts = {"vpc_peering_connection_id": link["peeringId"]}, child
        for i, rt in enumerate(own.private_route_table_ids):
            aws.ec2.Route(f"{name}-z{i}", route_table_id=rt, destination_cidr_block=cidr, **hop, opts=route_opts)
        worker_rules(name, security_group_id, cidr, child)
        scheduler = link.get("scheduler")
        if isinstance(scheduler, dict):
            # The workers' DASK_SCHEDULER_ADDRESS, tcp://<cluster>-scheduler.<ns>.svc.cluster.local:8786 (dask-kubernetes
            # operator controller.py), resolves here to the source's internal load balancer (a CNAME).
            k8s.core.v1.Service(f"{name}-dask-scheduler", metadata=meta(scheduler["service"], scheduler["namespace"]),
                spec={"type": "ExternalName", "externalName": scheduler["host"]},
                opts=pulumi.ResourceOptions(parent=self, provider=self.provider))
        return [cidr]


def source_link(ref: pulumi.StackReference, stack: str) -> pulumi.Output[Any]:
    """What a source stack exports for this stack: {kind, peeringId | transitGatewayId, vpcCidr}, or None yet."""
    return ref.get_output("federationNetwork").apply(lambda v: v.get(stack) if isinstance(v, dict) else None)


def cni_peer_cidrs(fed: FederationConfig, references: dict[str, pulumi.StackReference], stack: str) -> pulumi.Output[list[str]]:
    """Networks pods talk to without SNAT (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS): the targets' VPCs and vpn networks,
    and the sources' VPCs, so each side sees the other's pod addresses (which NetworkPolicies and workers' contact
    addresses are about)."""
    parts: list[pulumi.Output[list[str]]] = []
    for t in fed.targets:
        if t.path in ("peering", "transitGateway"):
            parts.append(references[f"t:{t.name}"].get_output("vpcCidr").apply(lambda v: [v] if isinstance(v, str) else []))
        parts.append(pulumi.Output.from_input(list(t.cidrs)))
    for s in fed.sources:
        if s.stack:
            parts.append(source_link(references[f"s:{s.name}"], stack).apply(
                lambda v: [v["vpcCidr"]] if isinstance(v, dict) and v.get("vpcCidr") else []))
    return flatten(parts)


def source_egress(fed: FederationConfig, references: dict[str, pulumi.StackReference]) -> pulumi.Output[list[str]]:
    """The source stacks' NAT addresses, for this cluster's publicAccessCidrs (their Admiralty calls this API)."""
    return flatten([references[f"s:{s.name}"].get_output("egressCidrs").apply(
        functools.partial(egress_of, what=f"cloudviper:federation.sources[{s.name}]: stack {s.stack}"))
        for s in fed.sources if s.stack])


def egress_of(value: Any, what: str) -> list[str]:
    """The source's NAT addresses, or none yet (with a warning) before it is deployed."""
    if value is None:
        pulumi.log.warn(f"{what} exports no egressCidrs yet: its Admiralty cannot reach this API until this stack is "
                        "updated after it")
        return []
    return sorted(str(v) for v in value)


def flatten(parts: list[pulumi.Output[list[str]]]) -> pulumi.Output[list[str]]:
    """One sorted list of the parts' items."""
    if not parts:
        return pulumi.Output.from_input([])
    return pulumi.Output.all(*parts).apply(lambda v: sorted({x for part in v for x in part}))


def stack_references(fed: FederationConfig, opts: pulumi.ResourceOptions) -> dict[str, pulumi.StackReference]:
    """One StackReference per target or source that is a stack of this project, keyed `t:<target>` / `s:<source>`."""
    refs: dict[str, pulumi.StackReference] = {}
    for t in fed.targets:
        if t.kind == "stack":
            refs[f"t:{t.name}"] = pulumi.StackReference(f"federation-{t.name}", stack_name=t.stack, opts=opts)
    for s in fed.sources:
        if s.stack:
            refs[f"s:{s.name}"] = pulumi.StackReference(f"federation-source-{s.name}", stack_name=s.stack, opts=opts)
    return refs
