"""Every rule: a passing case and a failing case whose message names the resource."""

from __future__ import annotations

import pytest

from policies.pack import POLICIES
from policies.rules import aws_security as sec
from policies.rules import cost, region, s3, spot, tags
from policies.rules import ingress as ing
from policies.rules import k8s_security as k8s
from tests.policy_helpers import DEFAULT_TAGS, check, check_stack, provider, res

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1:"


def worker_group(pct=0, types=("m5.large",), max_size=4, base=0, worker=True, mip=True):
    tags_ = [{"key": "cloudviper.io/pool-role", "value": "worker" if worker else "system", "propagateAtLaunch": True}]
    tags_ += [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in DEFAULT_TAGS.items()]
    props = {"minSize": 0, "maxSize": max_size, "tags": tags_}
    if mip:
        props["mixedInstancesPolicy"] = {
            "instancesDistribution": {"onDemandBaseCapacity": base, "onDemandPercentageAboveBaseCapacity": pct,
                                      "spotAllocationStrategy": "price-capacity-optimized"},
            "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-1"},
                               "overrides": [{"instanceType": t} for t in types]},
        }
    return props


def test_every_rule_is_documented_and_configured():
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)) >= 14
    for p in POLICIES:
        assert p.description and p.enforcement_level and p.severity and p.config_schema is not None
        for prop in p.config_schema.properties.values():
            assert "default" in prop and "description" in prop


# -- allowed-regions
def test_region_provider_in_allowed_region_passes():
    assert check(region.POLICY, "pulumi:providers:aws", {"region": "us-east-1"}) == []


@pytest.mark.parametrize(("props", "fragment"), [
    ({"region": "us-west-2"}, "deploys to region us-west-2"),
    ({}, "sets no region"),
])
def test_region_provider_elsewhere_fails(props, fragment):
    (msg,) = check(region.POLICY, "pulumi:providers:aws", props, name="aws")
    assert fragment in msg and "pulumi:providers:aws 'aws'" in msg


def test_region_zone_and_resource_region_are_checked():
    (msg,) = check(region.POLICY, "aws:ec2/subnet:Subnet", {"availabilityZone": "us-west-2a"}, name="sub")
    assert "aws:ec2/subnet:Subnet 'sub'" in msg and "us-west-2a" in msg
    (msg,) = check(region.POLICY, "aws:s3/bucket:Bucket", {"region": "eu-west-1"}, name="b")
    assert "sets region eu-west-1" in msg
    assert check(region.POLICY, "aws:ec2/subnet:Subnet", {"availabilityZone": "us-east-1a"}) == []
    assert check(region.POLICY, "pulumi:providers:aws", {"region": "eu-west-1"},
                 config={"allowedRegions": ["eu-west-1"]}) == []


# -- max-hourly-cost
def test_budget_passes_for_a_small_group():
    assert check_stack(cost.BUDGET, [res(ASG, "workers", worker_group(max_size=2))]) == []


def test_budget_fails_with_estimate_and_top_items():
    stack = [res(ASG, "gpu-workers", worker_group(pct=100, types=("p4d.24xlarge",), max_size=8)),
             res("aws:ec2/natGateway:NatGateway", "nat", {})]
    (msg,) = check_stack(cost.BUDGET, stack)
    # 8 x p4d.24xlarge on-demand 21.957642 + 8 x 20 GB gp3 x 0.08/730 = 175.6787; + NAT 0.045
    assert "estimated $175.72/hour at maximum scale" in msg
    assert "exceeds maxHourlyUsd $25.00" in msg and "aws:autoscaling/group:Group 'gpu-workers' $175.68/h" in msg


def test_budget_caps_day_one_and_idle_separately():
    # a system group that must run 1 node (minSize) and a worker group at 0..8: day one prices the system node only
    system = {**worker_group(pct=100, worker=False, types=("m5.large",), max_size=2), "minSize": 1}
    stack = [res(ASG, "system", system), res(ASG, "workers", worker_group(types=("m5.large",), max_size=8))]
    one_node = 0.096 + 20 * 0.08 / 730  # m5.large on-demand + its 20 GB gp3 root volume
    assert check_stack(cost.BUDGET, stack, config={"maxDayOneHourlyUsd": 0.2, "maxIdleHourlyUsd": 0.2}) == []
    (msg,) = check_stack(cost.BUDGET, stack, config={"maxDayOneHourlyUsd": 0.05})
    assert f"estimated ${one_node:.2f}/hour on day one" in msg and "exceeds maxDayOneHourlyUsd $0.05" in msg
    (msg,) = check_stack(cost.BUDGET, stack, config={"maxIdleHourlyUsd": 0.05})
    assert "at idle" in msg and "exceeds maxIdleHourlyUsd $0.05" in msg
    assert check_stack(cost.BUDGET, stack) == []  # unset caps check nothing (max is under the default 25)


def test_budget_refuses_to_price_unknown_types_as_zero():
    (msg,) = check_stack(cost.BUDGET, [res(ASG, "w", worker_group(types=("m5.huge",)))])
    assert "cannot price the stack" in msg and "'m5.huge' is not in the us-east-1 price table" in msg


# -- spot-workers
def test_spot_worker_pool_all_spot_passes_and_system_pool_is_ignored():
    assert check(spot.SPOT, ASG, worker_group(pct=0, base=1)) == []
    assert check(spot.SPOT, ASG, worker_group(pct=100, worker=False)) == []


@pytest.mark.parametrize(("props", "fragment"), [
    (worker_group(pct=100), "onDemandPercentageAboveBaseCapacity 100"),
    (worker_group(mip=False), "without a mixed instances policy"),
])
def test_spot_worker_pool_with_on_demand_fails(props, fragment):
    (msg,) = check(spot.SPOT, ASG, props, name="workers")
    assert fragment in msg and "aws:autoscaling/group:Group 'workers'" in msg


def test_spot_worker_marker_on_node_template_label():
    props = worker_group(pct=50, worker=False)
    props["tags"].append({"key": "k8s.io/cluster-autoscaler/node-template/label/k8s.dask.org/node-purpose",
                          "value": "worker", "propagateAtLaunch": False})
    assert check(spot.SPOT, ASG, props)


# -- instance-types
def test_instance_types_default_allows_general_purpose_and_denies_p4d():
    assert check(cost.INSTANCE_TYPES, LT, {"instanceType": "m5.large"}) == []
    (msg,) = check(cost.INSTANCE_TYPES, ASG, worker_group(types=("m5.large", "p4d.24xlarge")), name="g")
    assert "aws:autoscaling/group:Group 'g': p4d.24xlarge matches deniedInstanceTypes (p4d.*)" == msg


def test_instance_types_explicit_allow_overrides_deny_and_allow_list_restricts():
    assert check(cost.INSTANCE_TYPES, LT, {"instanceType": "p4d.24xlarge"},
                 config={"allowedInstanceTypes": ["m5.*", "p4d.24xlarge"]}) == []
    (msg,) = check(cost.INSTANCE_TYPES, "aws:ec2/instance:Instance", {"instanceType": "c5.large"},
                   config={"allowedInstanceTypes": ["m5.*"]}, name="i")
    assert "c5.large is not in allowedInstanceTypes (m5.*)" in msg and "'i'" in msg


# -- instance-limits
def test_instance_limits():
    assert check_stack(cost.INSTANCE_LIMITS, [res(ASG, "a", worker_group(max_size=100))]) == []
    (msg,) = check_stack(cost.INSTANCE_LIMITS, [res(ASG, "big", worker_group(max_size=101))])
    assert "aws:autoscaling/group:Group 'big' can grow to 101 instances" in msg
    msgs = check_stack(cost.INSTANCE_LIMITS, [res(ASG, f"g{i}", worker_group(max_size=80)) for i in range(4)])
    assert msgs == ["the stack can reach 320 instances, above maxInstancesPerStack 300"]


# -- required-tags
def test_required_tags_from_provider_defaults_pass():
    assert check(tags.POLICY, "aws:ec2/vpc:Vpc", {"tags": {"Name": "x"}}) == []
    assert check(tags.POLICY, "aws:ec2/route:Route", {}, prov=provider(tags={})) == []  # not taggable


def test_required_tags_missing_fail():
    (msg,) = check(tags.POLICY, "aws:ec2/vpc:Vpc", {"tags": {"owner": "me"}}, prov=provider(tags={}), name="vpc")
    assert msg == "aws:ec2/vpc:Vpc 'vpc' is missing required tags: project, stack, cost-center"


def test_asg_needs_its_own_tags_because_default_tags_skip_it():
    (msg,) = check(tags.POLICY, ASG, {"tags": [{"key": "Name", "value": "w", "propagateAtLaunch": True}]}, name="w")
    assert "'w' is missing required tags: project, stack, owner, cost-center" in msg
    assert check(tags.POLICY, ASG, worker_group()) == []


# -- s3-bucket-hardening
TLS_DENY = ('{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b",'
            '"arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}')


def bucket_with(bpa=True, sse=True, tls=True, flags_off=()):
    bucket = res("aws:s3/bucket:Bucket", "data", {"bucket": "b", "arn": "arn:aws:s3:::b"})
    out = [bucket]
    if bpa:
        out.append(res(s3.BPA, "data", {"bucket": "b", **{f: f not in flags_off for f in s3.BPA_FLAGS}}, bucket=[bucket]))
    if sse:
        out.append(res(s3.SSE[0], "data", {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}, bucket=[bucket]))
    if tls:
        out.append(res(s3.POLICY_T, "data", {"bucket": "b", "policy": TLS_DENY}, bucket=[bucket]))
    return out


def test_s3_hardened_bucket_passes():
    assert check_stack(sec.S3, bucket_with()) == []


def test_s3_bare_bucket_fails_three_ways():
    msgs = check_stack(sec.S3, bucket_with(bpa=False, sse=False, tls=False))
    assert len(msgs) == 3 and all("aws:s3/bucket:Bucket 'data'" in m for m in msgs)
    (msg,) = check_stack(sec.S3, bucket_with(flags_off=("restrictPublicBuckets",)))
    assert "leaves restrictPublicBuckets off" in msg


# -- ebs-encryption and imdsv2-required
GOOD_LT = {"instanceType": "m5.large", "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2},
           "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50}}]}


def test_ebs_and_imds_pass_for_a_hardened_launch_template():
    assert check(sec.EBS, LT, GOOD_LT) == [] and check(sec.IMDS, LT, GOOD_LT) == []
    assert check(sec.EBS, "aws:ebs/volume:Volume", {"encrypted": True, "size": 10}) == []


@pytest.mark.parametrize(("type_token", "props", "fragment"), [
    (LT, {**GOOD_LT, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]}, "volume /dev/xvda is not encrypted"),
    (LT, {**GOOD_LT, "blockDeviceMappings": []}, "sets no EBS block device"),
    ("aws:ebs/volume:Volume", {"size": 10}, "is not encrypted"),
    ("aws:ec2/instance:Instance", {"rootBlockDevice": {"encrypted": False}}, "has an unencrypted volume"),
])
def test_ebs_unencrypted_fails(type_token, props, fragment):
    (msg,) = check(sec.EBS, type_token, props, name="x")
    assert fragment in msg and f"{type_token} 'x'" in msg


def test_imds_optional_fails():
    (msg,) = check(sec.IMDS, LT, {**GOOD_LT, "metadataOptions": {"httpTokens": "optional"}}, name="lt")
    assert msg == "aws:ec2/launchTemplate:LaunchTemplate 'lt' does not require IMDSv2 (metadataOptions.httpTokens is optional)"


# -- no-public-ingress
SG = "aws:ec2/securityGroup:SecurityGroup"


def test_ingress_from_private_ranges_and_allowed_ports_passes():
    tcp = {"protocol": "tcp", "fromPort": 22, "toPort": 22}
    assert check_stack(ing.INGRESS, [res(SG, "sg", {"ingress": [{**tcp, "cidrBlocks": ["10.0.0.0/8"]}]})]) == []
    open_443 = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}
    assert check_stack(ing.INGRESS, [res(SG, "sg", {"ingress": [open_443]})], config={"allowedPublicPorts": [443]}) == []


@pytest.mark.parametrize(("type_token", "props"), [
    (SG, {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
     {"ipProtocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrIpv6": "::/0", "securityGroupId": "sg-1"}),
    ("aws:ec2/securityGroupRule:SecurityGroupRule",
     {"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"],
      "securityGroupId": "sg-1"}),
])
def test_ingress_from_anywhere_fails(type_token, props):
    (msg,) = check_stack(ing.INGRESS, [res(type_token, "sg", props)])
    assert f"{type_token} 'sg' allows ingress on " in msg and "tcp ports" in msg and "the whole" in msg


# -- eks-endpoint-and-secrets
EKS = "aws:eks/cluster:Cluster"
GOOD_EKS = {"vpcConfig": {"endpointPublicAccess": True, "endpointPrivateAccess": True, "publicAccessCidrs": ["192.0.2.0/24"]},
            "encryptionConfig": {"provider": {"keyArn": "arn:k"}, "resources": ["secrets"]}}


def test_eks_restricted_and_encrypted_passes():
    assert check(sec.EKS, EKS, GOOD_EKS) == []
    assert check(sec.EKS, EKS, {**GOOD_EKS, "vpcConfig": {"endpointPublicAccess": False}}) == []


@pytest.mark.parametrize(("props", "fragment"), [
    ({**GOOD_EKS, "vpcConfig": {"endpointPublicAccess": True}}, "public API endpoint open to the internet"),
    ({**GOOD_EKS, "vpcConfig": {"publicAccessCidrs": ["0.0.0.0/0"]}}, "public API endpoint open to the internet"),
    ({"vpcConfig": GOOD_EKS["vpcConfig"]}, "does not encrypt Kubernetes Secrets"),
])
def test_eks_open_or_unencrypted_fails(props, fragment):
    (msg,) = check(sec.EKS, EKS, props, name="cluster")
    assert fragment in msg and "aws:eks/cluster:Cluster 'cluster'" in msg


# -- kubernetes
DEPLOY = "kubernetes:apps/v1:Deployment"


def deployment(ns="science", **pod):
    spec = {"containers": [{"name": "app", "image": "x:1"}], **pod}
    return {"metadata": {"name": "d", "namespace": ns}, "spec": {"template": {"spec": spec}}}


def test_k8s_plain_pod_passes_and_kube_system_may_use_host():
    assert check(k8s.PODS, DEPLOY, deployment()) == []
    assert check(k8s.PODS, DEPLOY, deployment(ns="kube-system", hostNetwork=True)) == []


@pytest.mark.parametrize(("type_token", "props", "fragment"), [
    (DEPLOY, deployment(containers=[{"name": "c", "securityContext": {"privileged": True}}]), "privileged: container 'c'"),
    (DEPLOY, deployment(hostNetwork=True), "hostNamespaces: hostNetwork"),
    ("kubernetes:core/v1:Pod", {"metadata": {"name": "p"}, "spec": {"containers": [], "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}, "hostPathVolumes: volume 'h'"),
    ("kubernetes:batch/v1:CronJob", {"metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [], "hostPID": True}}}}}}, "hostNamespaces: hostPID"),
])
def test_k8s_host_access_fails(type_token, props, fragment):
    (msg,) = check(k8s.PODS, type_token, props, name="w")
    assert fragment in msg and f"{type_token} 'w'" in msg


def test_cluster_admin_for_service_account_fails_for_group_passes():
    crb = RBAC + "ClusterRoleBinding"
    sa = {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]}
    (msg,) = check_stack(k8s.CLUSTER_ADMIN, [res(crb, "bot-admin", sa)])
    assert "'bot-admin' binds cluster-admin to ServiceAccount ci/bot" in msg
    grp = {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "Group", "name": "cloudviper:cluster-admins"}]}
    assert check_stack(k8s.CLUSTER_ADMIN, [res(crb, "admins", grp)]) == []


def test_wildcard_roles_only_for_admins():
    role = res(RBAC + "Role", "r", {"metadata": {"name": "everything", "namespace": "ns"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]})
    to_sa = res(RBAC + "RoleBinding", "b", {"metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"kind": "Role", "name": "everything"},
                                           "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "ns"}]})
    (msg,) = check_stack(k8s.WILDCARDS, [role, to_sa])
    assert "RoleBinding 'b' grants kubernetes:rbac.authorization.k8s.io/v1:Role 'r' with verbs '*' to ServiceAccount ns/robot" in msg
    to_admins = res(RBAC + "RoleBinding", "b", {"metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"kind": "Role", "name": "everything"},
                                               "subjects": [{"kind": "Group", "name": "system:masters"}]})
    assert check_stack(k8s.WILDCARDS, [role, to_admins]) == []
