"""What AWS, EKS or the kubelet would refuse at apply time is refused as a config error first.

Each row cites the rule it enforces.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.pools import kubelet_may_set, zone_split
from infra.config.stack import StackConfig
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG


def config(**changes: Any) -> dict[str, Any]:
    """BASE_CONFIG + CLUSTER_CONFIG, with `section.key` (or `nodeGroups[i].key`) values replaced."""
    values = copy.deepcopy({**BASE_CONFIG, **CLUSTER_CONFIG})
    for path, value in changes.items():
        section, _, key = path.partition(".")
        target = values[f"cloudviper:{section}"]
        if section == "nodeGroups":
            index, _, key = key.partition(".")
            target = target[int(index)]
        if key:
            target[key] = value
        else:
            values[f"cloudviper:{section}"] = value
    return values


def parse(values: dict[str, Any]) -> StackConfig:
    return parse_stack_config("cloudviper", "test", values)


REFUSED = [
    # botocore eks CreateClusterRequest.resourcesVpcConfig: "You must specify at least two subnets";
    # EKS user guide network-reqs.adoc: "The subnets must be in at least two different Availability Zones."
    ({"network": {"cidr": "10.0.0.0/16", "azs": ["us-east-1a"]}},
     "the cluster needs subnets in at least two availability zones"),
    # botocore eks KubernetesNetworkConfigRequest.serviceIpv4Cidr: "Within one of the following private IP
    # address blocks: 10.0.0.0/8, 172.16.0.0/12, or 192.168.0.0/16 ... Between /24 and /12."
    ({"cluster.serviceCidr": "100.64.0.0/16"}, "must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
    ({"cluster.serviceCidr": "172.20.0.0/25"}, "between /12 and /24"),
    ({"cluster.serviceCidr": "10.0.0.0/8"}, "between /12 and /24"),
    # botocore eks CreateAccessEntryRequest.principalArn: "You can't use the STS session principal type with
    # access entries"; "You can't specify the same ARN in more than one access entry."
    ({"cluster.admins": ["arn:aws:sts::123456789012:assumed-role/Admin/alice"]}, "is an STS session"),
    ({"cluster.accessEntries": [{"principalArn": "arn:aws:iam::123456789012:role/Admin", "groups": ["x"]}]},
     "is named twice in admins/accessEntries"),
    # kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/aws_cloud_provider.go @1.35.2: Pricing() returns
    # ErrNotImplemented, and expander/factory/expander_factory.go calls klog.Fatalf for `price`.
    ({"cluster.autoscaler": {"expander": "price"}}, "expander: \"price\" is not allowed"),
    # expander/priority/readme.md: "If the ConfigMap is missing or malformed, cluster autoscaler will skip the
    # priority expander" - a silent no-op, so refuse it without priorities.
    ({"cluster.autoscaler": {"expander": "priority"}}, "expander priority needs priorities"),
    ({"cluster.autoscaler": {"expander": "priority", "priorities": {"10": ["nosuch"]}}},
     'cloudviper:cluster.autoscaler.priorities[10]: "nosuch" is not a node group'),
    # README "Releases": use "the latest Cluster Autoscaler release that corresponds to the minor version".
    ({"cluster.autoscaler": {"image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.6"}},
     "is not a 1.35.x release"),
    # staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go IsKubeletLabel; cmd/kubelet/app/options ValidateKubeletFlags:
    # "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels" -> the kubelet exits.
    ({"nodeGroups.1.labels": {"node-role.kubernetes.io/worker": "true"}}, "a kubelet may not set on its own node"),
    ({"nodeGroups.1.labels": {"example.k8s.io/tier": "a"}}, "a kubelet may not set on its own node"),
    # EC2 rules for specifying CPU options: "You can't specify CPU options for bare metal instances"; instance-facts.csv
    # (DescribeInstanceTypes): m7a has one thread per core; g5 lists no valid threads per core (no CPU options).
    ({"nodeGroups.1.instanceTypes": ["m7a.xlarge"]}, "runs one thread per core already"),
    ({"nodeGroups.1.instanceTypes": ["m5.metal"]}, "EC2 rejects CPU options for .metal instances"),
    ({"nodeGroups.2.disableSmt": True}, "disableSmt cannot be used with g5.xlarge: EC2 does not accept CPU options"),
    ({"nodeGroups.0.instanceTypes": ["t3.large", "m5.large"]}, "mixes burstable"),
    # Pools name zones of the VPC; a perZone pool gets a node per zone.
    ({"nodeGroups.1.zones": ["us-east-1d"]}, "must name distinct zones of the VPC"),
    ({"network": {"cidr": "10.0.0.0/16", "azCount": 2}, "nodeGroups.1.zones": ["us-east-1a"]},
     "needs the VPC's zones by name"),
    ({"nodeGroups.1.perZone": True, "nodeGroups.1.maxSize": 2}, "cannot give each of the 3 zones of a perZone pool"),
    # aws/amazon-vpc-cni-k8s docs/eni-and-ip-target.md: WARM_ENI_TARGET=1 keeps "a full ENI" of addresses spare;
    # a /22 VPC has /25 private subnets (123 usable addresses); 8 m5.xlarge nodes can hold 4 ENIs x 15.
    ({"network": {"cidr": "10.0.0.0/22", "azs": ["us-east-1a", "us-east-1b"]}, "nodeGroups.1.maxSize": 8},
     "at maxSize the node groups can claim"),
    # S3 import needs the kept bucket's exact name.
    ({"buckets": [{"name": "raw", "importExisting": True}]}, "importExisting needs bucketName"),
    ({"buckets": [{"name": "raw", "kmsKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}]}, "kmsKeyId adopts a kept key"),
]


@pytest.mark.parametrize(("changes", "message"), REFUSED, ids=[m[:40] for _, m in REFUSED])
def test_refused_before_apply(changes, message):
    values = config(**{k: v for k, v in changes.items() if "." in k})
    for section, value in changes.items():
        if "." not in section:
            values[f"cloudviper:{section}"] = value
    with pytest.raises(ConfigError) as info:
        parse(values)
    assert message in str(info.value)


def test_the_base_config_is_accepted():
    cfg = parse(config())
    assert cfg.cluster is not None and cfg.cluster.version == "1.35"


@pytest.mark.parametrize(("key", "allowed"), [
    ("cloudviper.io/pool", True), ("k8s.dask.org/node-purpose", True), ("team", True),
    ("node.kubernetes.io/exclude-from-external-load-balancers", True), ("topology.kubernetes.io/zone", True),
    ("kubelet.kubernetes.io/x", True), ("example.node.kubernetes.io/x", True),
    ("node-role.kubernetes.io/worker", False), ("kubernetes.io/role", False), ("k8s.io/x", False),
    ("node-restriction.kubernetes.io/x", False),
])
def test_kubelet_label_rules(key, allowed):
    assert kubelet_may_set(key) is allowed


@pytest.mark.parametrize(("total", "zones", "split"), [(32, 3, [11, 11, 10]), (1, 2, [1, 0]), (0, 3, [0, 0, 0])])
def test_zone_split_spreads_evenly_and_keeps_the_total(total, zones, split):
    assert zone_split(total, zones) == split and sum(split) == total


def test_two_imported_buckets_must_share_the_stacks_one_key():
    values = config(buckets=[
        {"name": "a", "bucketName": "kept-a", "importExisting": True, "kmsKeyId": "key-1"},
        {"name": "b", "bucketName": "kept-b", "importExisting": True, "kmsKeyId": "key-2"}])
    with pytest.raises(ConfigError, match="every imported kms bucket must name the same one"):
        parse(values)
