"""EKS control plane, node groups and add-ons under mocks: the captured resource graph."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from components.eks import ami_parameter
from infra.documents import iam
from infra.plan.secret_values import secret_paths
from tests.test_userdata import node_config_of

CLUSTER = "aws:eks/cluster:Cluster"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"


def group(cap, pool):
    return cap.one(ASG, f"pool-{pool}-asg")


def template(cap, pool):
    return cap.one(LT, f"pool-{pool}-lt")


def asg_tags(res):
    return {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in res.props["tags"]}


def test_cluster_access_endpoint_encryption_logs_and_packing(cluster_capture):
    c = cluster_capture.one(CLUSTER)
    p = c.props
    assert p["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    vpc = p["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["192.0.2.0/24"]
    key = cluster_capture.one("aws:kms/key:Key", "eks-secrets")
    assert key.props["enableKeyRotation"] is True
    assert p["encryptionConfig"] == {"provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"]}
    assert p["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert p["kubeSchedulerConfig"]["nodeResourcesFit"]["scoringStrategy"]["type"] == "MostAllocated"
    assert p["version"] == "1.35" and p["bootstrapSelfManagedAddons"] is False
    # botocore eks UpgradePolicyRequest: "The default value is EXTENDED"; without extendedSupport we say STANDARD.
    assert p["upgradePolicy"] == {"supportType": "STANDARD"}
    logs = cluster_capture.one("aws:cloudwatch/logGroup:LogGroup", "eks-logs")
    assert logs.props["name"] == "/aws/eks/cloudviper-test/cluster" and cluster_capture.depends_on(c, logs)


def test_oidc_provider_uses_the_cluster_issuer(cluster_capture):
    c = cluster_capture.one(CLUSTER)
    oidc = cluster_capture.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.props["url"] == c.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc.props["clientIdLists"] == ["sts.amazonaws.com"]


def test_access_entries_admins_and_groups(cluster_capture):
    entries = {r.props["principalArn"]: r.props for r in cluster_capture.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries["arn:aws:iam::123456789012:role/Admin"]["type"] == "STANDARD"
    assert entries["arn:aws:iam::123456789012:role/Scientists"]["kubernetesGroups"] == ["scientists"]
    node_role = cluster_capture.one("aws:iam/role:Role", "nodes-role")
    assert entries[node_role.outputs["arn"]]["type"] == "EC2_LINUX"
    (assoc,) = cluster_capture.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert assoc.props["principalArn"] == "arn:aws:iam::123456789012:role/Admin"
    assert assoc.props["policyArn"] == iam.EKS_ADMIN_ACCESS_POLICY and assoc.props["accessScope"] == {"type": "cluster"}


def test_kubeconfig_is_a_secret_output_using_get_token(cluster_capture):
    out = cluster_capture.outputs["kubeconfig"]
    assert out.secret is True
    doc = json.loads(out.value)
    assert doc["users"][0]["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "cloudviper-test"]
    provider = cluster_capture.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in secret_paths(provider.inputs)


def test_mixed_instances_policy_and_spot_share(cluster_capture):
    workers, system = group(cluster_capture, "workers").props, group(cluster_capture, "system").props
    dist = workers["mixedInstancesPolicy"]["instancesDistribution"]
    assert dist == {"onDemandBaseCapacity": 1, "onDemandPercentageAboveBaseCapacity": 0,
                    "spotAllocationStrategy": "price-capacity-optimized"}
    overrides = workers["mixedInstancesPolicy"]["launchTemplate"]["overrides"]
    assert [o["instanceType"] for o in overrides] == ["m5.xlarge", "m5a.xlarge"]
    assert workers["capacityRebalance"] is True
    assert system["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 100
    assert (workers["minSize"], workers["maxSize"]) == (0, 8)


def test_desired_capacity_is_left_to_the_autoscaler(cluster_capture):
    for pool in ("system", "workers", "gpu"):
        asg = group(cluster_capture, pool)
        assert "desiredCapacity" not in asg.props and "desiredCapacity" in asg.ignore_changes


@pytest.mark.parametrize(("pool", "arch", "gpu"), [("workers", "x86_64", False), ("gpu", "x86_64", True)])
def test_ami_comes_from_the_public_ssm_parameter(cluster_capture, pool, arch, gpu):
    path = ami_parameter("1.35", arch, gpu)
    assert path == f"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/{arch}/{'nvidia' if gpu else 'standard'}/recommended/image_id"
    # The mock answers an SSM lookup with an id derived from the exact parameter name.
    assert template(cluster_capture, pool).props["imageId"] == "ami-" + hashlib.sha1(path.encode()).hexdigest()[:17]


def test_launch_templates_require_imdsv2_and_encrypt_the_root_volume(cluster_capture):
    for pool in ("system", "workers", "gpu"):
        lt = template(cluster_capture, pool).props
        assert lt["metadataOptions"]["httpTokens"] == "required"
        # Hop limit 1: pods cannot reach IMDS, so none can borrow the node role ("block access to
        # instance metadata ... IMDSv2 only and updating the hop count to 1", aws/aws-eks-best-practices
        # latest/bpg/security/iam.adoc @dc0243a). aws-node and kube-proxy use the host network.
        assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (dev,) = lt["blockDeviceMappings"]
        assert dev["ebs"]["encrypted"] == "true" and dev["ebs"]["volumeType"] == "gp3"


def test_cpu_options_only_where_smt_is_off(cluster_capture):
    # botocore ec2 LaunchTemplateCpuOptionsRequest: "Both the core count and threads per core must be
    # specified in the request." m5.xlarge: 2 default cores (instance-facts.csv, from DescribeInstanceTypes).
    assert template(cluster_capture, "workers").props["cpuOptions"] == {"coreCount": 2, "threadsPerCore": 1}
    assert "cpuOptions" not in template(cluster_capture, "system").props


def test_labels_and_taints_in_user_data_and_autoscaler_tags(cluster_capture):
    lt = template(cluster_capture, "gpu").props
    cfg = node_config_of(base64.b64decode(lt["userData"]).decode())
    flags = cfg["spec"]["kubelet"]["flags"]
    assert "--register-with-taints=nvidia.com/gpu=true:NoSchedule" in flags
    assert any(f.startswith("--node-labels=") and "cloudviper.io/pool=gpu" in f for f in flags)
    assert cfg["spec"]["cluster"]["name"] == "cloudviper-test"
    tags = asg_tags(group(cluster_capture, "gpu"))
    assert tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == ("true:NoSchedule", False)
    assert tags["k8s.io/cluster-autoscaler/node-template/label/cloudviper.io/pool"] == ("gpu", False)
    workers = asg_tags(group(cluster_capture, "workers"))
    assert workers["k8s.io/cluster-autoscaler/node-template/label/team"] == ("astro", False)
    assert workers["k8s.io/cluster-autoscaler/node-template/taint/k8s.dask.org/dedicated"] == ("worker:NoSchedule", False)
    worker_flags = node_config_of(base64.b64decode(template(cluster_capture, "workers").props["userData"]).decode())
    assert "--register-with-taints=k8s.dask.org/dedicated=worker:NoSchedule" in worker_flags["spec"]["kubelet"]["flags"]


def test_asgs_carry_discovery_and_cost_tags(cluster_capture):
    tags = asg_tags(group(cluster_capture, "workers"))
    assert tags["k8s.io/cluster-autoscaler/enabled"] == ("true", False)
    assert tags["k8s.io/cluster-autoscaler/cloudviper-test"] == ("owned", False)
    assert tags["kubernetes.io/cluster/cloudviper-test"] == ("owned", True)
    for key in ("project", "stack", "owner", "cost-center"):
        assert tags[key][1] is True


def irsa_condition(cap, role_name):
    trust = json.loads(cap.one("aws:iam/role:Role", role_name).props["assumeRolePolicy"])
    (stmt,) = trust["Statement"]
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Principal"]["Federated"] == cap.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").outputs["arn"]
    return stmt["Condition"]["StringEquals"]


@pytest.mark.parametrize(("role", "subject"), [
    ("autoscaler-irsa", "system:serviceaccount:kube-system:cluster-autoscaler"),
    ("nth-irsa", "system:serviceaccount:kube-system:aws-node-termination-handler"),
    ("eks-vpc-cni-irsa", "system:serviceaccount:kube-system:aws-node"),
])
def test_irsa_trust_is_pinned_to_one_service_account_and_audience(cluster_capture, role, subject):
    cond = irsa_condition(cluster_capture, role)
    issuer = cluster_capture.one(CLUSTER).outputs["identities"][0]["oidcs"][0]["issuer"].removeprefix("https://")
    assert cond == {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}


def test_autoscaler_discovers_this_cluster_and_balances(cluster_capture):
    deploy = cluster_capture.one("kubernetes:apps/v1:Deployment", "autoscaler-deploy").props
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    assert "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/cloudviper-test" in c["args"]
    assert "--balance-similar-node-groups" in c["args"]
    sa = cluster_capture.one("kubernetes:core/v1:ServiceAccount", "autoscaler-sa").props
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == cluster_capture.one(
        "aws:iam/role:Role", "autoscaler-irsa").outputs["arn"]


def test_coredns_and_add_ons_wait_for_the_system_pool_only(cluster_capture):
    system = cluster_capture.one("cloudviper:cluster:NodeGroup", "pool-system")
    workers = cluster_capture.one("cloudviper:cluster:NodeGroup", "pool-workers")
    for res in (cluster_capture.one("aws:eks/addon:Addon", "eks-coredns"),
                cluster_capture.one("kubernetes:apps/v1:Deployment", "autoscaler-deploy")):
        assert cluster_capture.depends_on(res, system)
        assert not cluster_capture.depends_on(res, workers)  # worker pools idle at zero; nothing waits on them


def test_vpc_cni_enforces_network_policies(cluster_capture):
    # Without the agent, NetworkPolicy objects are accepted and ignored. EKS user guide
    # cni-network-policy-configure.adoc (awsdocs/amazon-eks-user-guide @d9a9cba5): "Enter the JSON key
    # "enableNetworkPolicy": and value "true" in Configuration values"; the chart default is "false"
    # (aws/amazon-vpc-cni-k8s charts/aws-vpc-cni/values.yaml @b5218838). Needs VPC CNI >= 1.14 and
    # kernel >= 5.10 (AL2023: 6.1+).
    cni = cluster_capture.one("aws:eks/addon:Addon", "eks-vpc-cni")
    assert json.loads(cni.props["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert cluster_capture.waits_for(cni, cluster_capture.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "eks-vpc-cni-irsa-AmazonEKS_CNI_Policy"))
    assert "configurationValues" not in cluster_capture.one("aws:eks/addon:Addon", "eks-kube-proxy").props
