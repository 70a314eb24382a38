"""The network path between a federated pair: peering, routes, security groups, the scheduler's address, API access.

Both stacks are planned from their files; the primary's reference to burst is answered by burst's plan and
burst's reference back by the primary's (infra/plan/program.py: the deploy order target, source, target).
"""

from __future__ import annotations

import json

import pytest
import yaml

from infra.plan.secret_values import unwrap
from tests.test_federation import copy_project
from tests.test_plan_cli import plan

PRIMARY_CIDR, BURST_CIDR = "10.60.0.0/16", "10.61.0.0/16"


def routes_to(cap, cidr):
    return [r for r in cap.of_type("aws:ec2/route:Route") if r.props.get("destinationCidrBlock") == cidr]


def private_tables(cap):
    return [r for r in cap.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name]


def test_the_primary_peers_with_the_burst_vpc_and_routes_to_it(stack_capture):
    primary, burst = stack_capture("primary"), stack_capture("burst")
    (pcx,) = primary.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert pcx.props["vpcId"] == primary.one("aws:ec2/vpc:Vpc").outputs["id"]
    assert pcx.props["peerVpcId"] == burst.outputs["vpcId"].value == burst.one("aws:ec2/vpc:Vpc").outputs["id"]
    # pulumi_aws VpcPeeringConnection: auto_accept works for VPCs of one account and region; no peer_region here.
    assert pcx.props["autoAccept"] is True and "peerRegion" not in pcx.props
    routes = routes_to(primary, BURST_CIDR)
    assert sorted(r.props["routeTableId"] for r in routes) == sorted(t.outputs["id"] for t in private_tables(primary))
    assert {r.props["vpcPeeringConnectionId"] for r in routes} == {pcx.outputs["id"]}
    host = primary.one("kubernetes:core/v1:Service", "dask-scheduler-peers").outputs["status"]["loadBalancer"]["ingress"][0]
    assert primary.outputs["federationNetwork"].value == {"burst": {
        "kind": "peering", "peeringId": pcx.outputs["id"], "vpcCidr": PRIMARY_CIDR,
        "scheduler": {"namespace": "dask", "service": "dask-scheduler", "host": host["hostname"]}}}


def test_the_burst_stack_routes_back_through_the_primarys_peering(stack_capture):
    burst = stack_capture("burst")
    link = stack_capture("primary").outputs["federationNetwork"].value["burst"]
    routes = routes_to(burst, PRIMARY_CIDR)
    assert sorted(r.props["routeTableId"] for r in routes) == sorted(t.outputs["id"] for t in private_tables(burst))
    assert len(routes) == 2 and {r.props["vpcPeeringConnectionId"] for r in routes} == {link["peeringId"]}


@pytest.mark.parametrize(("stack", "other"), [("primary", BURST_CIDR), ("burst", PRIMARY_CIDR)])
def test_each_side_opens_exactly_the_worker_ports_to_the_other(stack_capture, stack, other):
    cap = stack_capture(stack)
    node_sg = cap.one("aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    rules = cap.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert {(r.props["cidrIpv4"], r.props["fromPort"], r.props["toPort"], r.props["ipProtocol"]) for r in rules} == {
        (other, 8788, 8788, "tcp"), (other, 8789, 8789, "tcp")}
    assert {r.props["securityGroupId"] for r in rules} == {node_sg}  # the nodes' (and so the pods') group
    # The ports are the ones the workers listen on (infra/documents/dask.py worker_args).
    worker = stack_capture("primary").one("kubernetes:kubernetes.dask.org/v1:DaskCluster").props["spec"]["worker"]
    ports = {p["containerPort"] for p in worker["spec"]["containers"][0]["ports"] if p["name"] in ("tcp-worker", "tcp-nanny")}
    assert ports == {8788, 8789}


def test_pods_reach_the_other_vpc_by_their_own_address(stack_capture):
    # aws/amazon-vpc-cni-k8s README: traffic to networks outside the VPC is SNATed to the node unless listed in
    # AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS.
    for stack, other in (("primary", BURST_CIDR), ("burst", PRIMARY_CIDR)):
        cni = stack_capture(stack).one("aws:eks/addon:Addon", "eks-vpc-cni")
        settings = json.loads(unwrap(cni.inputs)["configurationValues"])
        assert settings == {"enableNetworkPolicy": "true", "env": {"AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS": other}}
    dev = json.loads(unwrap(stack_capture("dev").one("aws:eks/addon:Addon", "eks-vpc-cni").inputs)["configurationValues"])
    assert dev == {"enableNetworkPolicy": "true"}


def test_the_primarys_egress_reaches_the_burst_api(stack_capture):
    egress = stack_capture("primary").outputs["egressCidrs"].value
    assert egress and all(c.endswith("/32") for c in egress)
    cidrs = stack_capture("burst").one("aws:eks/cluster:Cluster").props["vpcConfig"]["publicAccessCidrs"]
    assert set(egress) <= set(cidrs) and "203.0.113.0/24" in cidrs


def test_delegated_workers_reach_the_scheduler_through_an_internal_load_balancer(stack_capture):
    primary = stack_capture("primary")
    svc = primary.one("kubernetes:core/v1:Service", "dask-scheduler-peers")
    annotations = svc.props["metadata"]["annotations"]
    # kubernetes/cloud-provider-aws (the service controller EKS runs): NLB, internal; source ranges default to
    # 0.0.0.0/0 even for an internal load balancer, so they are set.
    assert annotations == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                           "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
                           # one scheduler pod behind externalTrafficPolicy Local: every zone's address must reach it
                           "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true"}
    spec = svc.props["spec"]
    assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == [BURST_CIDR]
    assert spec["externalTrafficPolicy"] == "Local"  # keeps the client's address for the NetworkPolicy
    assert {p["port"] for p in spec["ports"]} == {8786, 8787}  # comm, and the HTTP API the preStop hook calls
    cluster = primary.one("kubernetes:kubernetes.dask.org/v1:DaskCluster").props["spec"]
    assert spec["selector"] == cluster["scheduler"]["service"]["selector"]
    host = svc.outputs["status"]["loadBalancer"]["ingress"][0]["hostname"]
    # In the burst cluster the scheduler's in-cluster name (the operator's DASK_SCHEDULER_ADDRESS,
    # tcp://dask-scheduler.dask.svc.cluster.local:8786, dask_kubernetes/operator/controller/controller.py) resolves to it.
    # The burst stack writes it with its own credentials (Admiralty's source role has no patch on services and no
    # endpoints, which Pulumi's await logic needs), from the primary's federationNetwork output.
    burst = stack_capture("burst")
    remote = burst.one("kubernetes:core/v1:Service", "federation-accepted-primary-dask-scheduler")
    assert remote.props["metadata"]["name"] == "dask-scheduler" and remote.props["metadata"]["namespace"] == "dask"
    assert remote.props["spec"] == {"type": "ExternalName", "externalName": host}
    assert burst.by_urn(remote.provider_urn).name == "eks-k8s"
    assert primary.outputs["daskSchedulerPeerAddress"].value == f"tcp://{host}:8786"
    assert not [r for r in primary.of_type("kubernetes:core/v1:Service") if r.props["spec"].get("type") == "ExternalName"]


def test_network_policies_admit_the_burst_network_to_scheduler_and_workers(stack_capture):
    primary = stack_capture("primary")
    for name, ports in (("dask-dask-scheduler-ingress", {8786, 8787}), ("dask-dask-worker-ingress", {8788, 8789, 8790})):
        (rule,) = primary.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", name).props["spec"]["ingress"]
        assert {"ipBlock": {"cidr": BURST_CIDR}} in rule["from"]
        assert {p["port"] for p in rule["ports"]} == ports
    dev = stack_capture("dev").one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "dask-dask-scheduler-ingress")
    assert not [p for p in dev.props["spec"]["ingress"][0]["from"] if "ipBlock" in p]


def test_overlapping_vpcs_are_refused_before_anything_is_created(tmp_path):
    burst = copy_project(tmp_path)
    burst["config"]["cloudviper:network"]["cidr"] = "10.60.0.0/16"
    (tmp_path / "Pulumi.burst.yaml").write_text(yaml.safe_dump(burst))
    result = plan("--stack", "primary", "--project-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert ("cloudviper:federation.targets[burst]: stack organization/cloudviper/burst: its VPC 10.60.0.0/16 overlaps "
            "this stack's cloudviper:network.cidr 10.60.0.0/16") in result.stderr
    assert "Traceback" not in result.stderr


def test_a_transit_gateway_connects_the_pair_when_chosen(tmp_path):
    from infra.config.stackfile import load_stack_file
    from infra.plan.program import run_program

    copy_project(tmp_path)
    primary = yaml.safe_load((tmp_path / "Pulumi.primary.yaml").read_text())
    primary["config"]["cloudviper:federation"]["targets"][1]["network"] = "transitGateway"
    (tmp_path / "Pulumi.primary.yaml").write_text(yaml.safe_dump(primary))
    source = run_program(load_stack_file(tmp_path, "primary"), tmp_path)
    target = run_program(load_stack_file(tmp_path, "burst"), tmp_path)
    tgw = source.one("aws:ec2transitgateway/transitGateway:TransitGateway")
    assert tgw.props["defaultRouteTableAssociation"] == "enable" and tgw.props["defaultRouteTablePropagation"] == "enable"
    assert not source.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    for cap, cidr in ((source, BURST_CIDR), (target, PRIMARY_CIDR)):
        (attachment,) = cap.of_type("aws:ec2transitgateway/vpcAttachment:VpcAttachment")
        assert attachment.props["transitGatewayId"] == tgw.outputs["id"]
        assert attachment.props["vpcId"] == cap.one("aws:ec2/vpc:Vpc").outputs["id"]
        routes = routes_to(cap, cidr)
        assert len(routes) == 2 and {r.props["transitGatewayId"] for r in routes} == {tgw.outputs["id"]}


@pytest.mark.parametrize(("target", "message"), [
    ({"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "dask"},
     "target onprem would run Dask workers with no network path back to the scheduler"),
    ({"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "dask", "network": "vpn",
      "cidrs": ["10.60.128.0/20"]}, 'cloudviper:federation.targets[onprem].cidrs[0]: "10.60.128.0/20" overlaps this stack\'s '
                                    "10.60.0.0/16"),
    ({"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "dask", "network": "peering"},
     "network peering connects stacks of this project; for kind external use vpn"),
    ({"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "dask", "network": "vpn"},
     "network vpn needs cidrs"),
    ({"name": "b2", "kind": "stack", "stack": "organization/cloudviper/burst", "namespace": "dask",
      "network": "transitGateway", "transitGatewayId": "my-tgw"}, "transitGatewayId 'my-tgw' is not a transit gateway id"),
])
def test_federated_dask_targets_need_a_network_path(target, message):
    from infra.config.errors import ConfigError
    from infra.config.loader import parse_stack_config
    from tests.test_federation import GOOD_KUBECONFIG, stack_values

    values = stack_values("primary")
    values["cloudviper:federation"]["targets"].append(target)
    values["cloudviper:secretValues"] = {"onprem": GOOD_KUBECONFIG}
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "primary", values, secret_keys={"cloudviper:secretValues"})
    assert message in str(info.value)


def test_a_vpn_target_gets_the_worker_ports_and_the_load_balancer(run_stack):
    from infra.config.stackfile import StackFile
    from infra.plan.program import run_program
    from tests.test_federation import GOOD_KUBECONFIG, stack_values

    values = stack_values("primary")
    values["cloudviper:federation"]["targets"] = [
        {"name": "local", "kind": "self", "namespace": "dask"},
        {"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "dask", "network": "vpn",
         "cidrs": ["192.168.0.0/20"], "preference": 20}]
    values["cloudviper:secretValues"] = {"onprem": GOOD_KUBECONFIG}
    cap = run_program(StackFile(project="cloudviper", stack="primary", values=values, secret_keys=["cloudviper:secretValues"]))
    rules = cap.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert {(r.props["cidrIpv4"], r.props["fromPort"]) for r in rules} == {("192.168.0.0/20", 8788), ("192.168.0.0/20", 8789)}
    assert not cap.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    svc = cap.one("kubernetes:core/v1:Service", "dask-scheduler-peers")
    assert svc.props["spec"]["loadBalancerSourceRanges"] == ["192.168.0.0/20"]
    assert cap.outputs["daskSchedulerPeerHost"].value == svc.outputs["status"]["loadBalancer"]["ingress"][0]["hostname"]
    annotations = cap.one("kubernetes:kubernetes.dask.org/v1:DaskCluster").props["spec"]["worker"]["metadata"]["annotations"]
    terms = json.loads(annotations["multicluster.admiralty.io/proxy-pod-scheduling-constraints"])["affinity"][
        "nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(t["weight"], t["preference"]["matchExpressions"][0]["values"][0]) for t in terms] == [(100, "local"), (20, "onprem")]


@pytest.mark.parametrize(("change", "message"), [
    (lambda v: v["cloudviper:network"].update(natStrategy="none"),
     'cloudviper:network.natStrategy: "none": Admiralty here calls each target stack\'s API'),
])
def test_a_source_needs_egress_to_reach_its_targets(change, message):
    from infra.config.errors import ConfigError
    from infra.config.loader import parse_stack_config
    from tests.test_federation import stack_values

    values = stack_values("primary")
    change(values)
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "primary", values)
    assert message in str(info.value)


def test_a_target_with_a_private_api_cannot_accept_a_source_stack_and_service_accounts_need_a_namespace():
    from infra.config.errors import ConfigError
    from infra.config.loader import parse_stack_config
    from tests.test_federation import stack_values

    values = stack_values("burst")
    values["cloudviper:cluster"] = {**values["cloudviper:cluster"], "endpointPublicAccess": False}
    values["cloudviper:cluster"].pop("publicAccessCidrs")
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "burst", values)
    assert "cloudviper:federation.sources[primary].stack: the source calls this cluster's public API endpoint" in str(info.value)
    values = stack_values("burst")
    values["cloudviper:federation"]["sources"] = [{"name": "primary", "clusterWide": True, "serviceAccounts": ["dask"]}]
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "burst", values)
    assert "serviceAccounts need the source's namespace" in str(info.value)
