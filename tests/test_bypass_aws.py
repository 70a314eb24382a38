"""Ways around the AWS rules, each refused by the whole pack (rule + culprit named), and good twins that pass.

Every case is an attempt a reviewer made (or one found while closing those): compute launched by a path the rules did
not inspect, S3 settings that look right but mean less, CIDRs that open the internet in pieces, costs left unpriced.
Facts each rule relies on are cited in its module (policies/rules/*.py, infra/pricing/*.py).
"""

from __future__ import annotations

import json

import pytest

from tests.policy_helpers import DEFAULT_TAGS, assert_refused, refusals, res

ASG, LT = "aws:autoscaling/group:Group", "aws:ec2/launchTemplate:LaunchTemplate"
BUCKET, POLICY = "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy"
SG, SG_RULE = "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EKS = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SPOT_T, SPOT_FLEET_T = "aws:ec2/spotInstanceRequest:SpotInstanceRequest", "aws:ec2/spotFleetRequest:SpotFleetRequest"
HELM = "kubernetes:helm.sh/v3:Release"
ARN = "arn:aws:s3:::b"
IMDS = {"httpTokens": "required", "httpPutResponseHopLimit": 2}
TLS = {"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [ARN, f"{ARN}/*"],
       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def template(name="lt", itype="m5.large", **over):
    """A hardened launch template (IMDSv2, encrypted gp3 root)."""
    props = {"name": name, "instanceType": itype, "metadataOptions": IMDS, "blockDeviceMappings": [
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50, "volumeType": "gp3"}}]}
    props.update(over)
    return res(LT, name, {k: v for k, v in props.items() if v is not None})


def group(lt, name="workers", overrides=None, base=0, pct=0, max_size=4, role="worker", extra_tags=None, deps=()):
    """A worker pool launching from `lt` (and `deps`, per-override templates)."""
    tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in {**DEFAULT_TAGS, **(extra_tags or {})}.items()]
    tags.append({"key": "cloudviper.io/pool-role", "value": role, "propagateAtLaunch": False})
    props = {"minSize": 0, "maxSize": max_size, "tags": tags, "mixedInstancesPolicy": {
        "instancesDistribution": {"onDemandBaseCapacity": base, "onDemandPercentageAboveBaseCapacity": pct},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateName": lt.props["name"]},
                           "overrides": overrides if overrides is not None else [{"instanceType": "m5.large"}]}}}
    return res(ASG, name, props, mixedInstancesPolicy=[lt, *deps])


def pool(**kw):
    """[template, group] of a good worker pool; keyword arguments go to group()."""
    lt = template()
    return [lt, group(lt, **kw)]


def bucket(*statements, extra=(), name="b", **bucket_props):
    """A bucket with its public access block, encryption and one policy of `statements` (TLS deny by default)."""
    b = res(BUCKET, "data", {"bucket": name, "arn": f"arn:aws:s3:::{name}", **bucket_props})
    bpa = {"bucket": name, **dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                             "restrictPublicBuckets"), True)}
    sse = {"bucket": name, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}
    doc = json.dumps({"Version": "2012-10-17", "Statement": list(statements or [TLS])})
    return [b, res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "data", bpa, bucket=[b]),
            res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "data", sse,
                bucket=[b]), res(POLICY, "data", {"bucket": name, "policy": doc}, bucket=[b]), *extra]


def cluster(**vpc):
    """An EKS cluster with secrets encryption and the given vpcConfig."""
    return res(EKS, "eks", {"version": "1.35", "upgradePolicy": {"supportType": "STANDARD"}, "vpcConfig": vpc,
                            "encryptionConfig": {"provider": {"keyArn": "arn:k"}, "resources": ["secrets"]}})


def sg(*rules, name="sg"):
    """A security group with inline ingress rules (protocol, from, to, cidrs)."""
    ingress = [{"protocol": p, "fromPort": lo, "toPort": hi, "cidrBlocks": [c for c in cidrs if ":" not in c],
                "ipv6CidrBlocks": [c for c in cidrs if ":" in c]} for p, lo, hi, cidrs in rules]
    return res(SG, name, {"id": "sg-1", "ingress": ingress})


def rule(name, cidrs, proto="tcp", lo=22, hi=22):
    return res(SG_RULE, name, {"type": "ingress", "protocol": proto, "fromPort": lo, "toPort": hi,
                               "cidrBlocks": cidrs, "securityGroupId": "sg-1"})


def volume(name, gb, kind="gp2", **extra):
    return res("aws:ebs/volume:Volume", name, {"size": gb, "type": kind, "encrypted": True,
                                               "availabilityZone": "us-east-1a", **extra})


def node_group(**over):
    props = {"clusterName": "c", "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 4},
             "instanceTypes": ["m5.large"], "capacityType": "SPOT", "labels": {"cloudviper.io/pool-role": "worker"},
             "launchTemplate": {"name": "lt", "version": "1"}, **over}
    return res(NODE_GROUP, "ng", props)


def lt_linked_node_group(**over):
    lt = template()
    return [lt, res(NODE_GROUP, "ng", {**node_group(**over).props}, launchTemplate=[lt])]


ALLOW = {"allowed-resource-types": {"allowedResourceTypes": ["aws:eks/nodeGroup:*", "aws:ec2/spot*", "aws:ec2/fleet:*",
                                                             "aws:rds/*", "aws:s3/accessPoint:*"]}}
EXT_SUPPORT = {"version": "1.31", "upgradePolicy": {"supportType": "EXTENDED"},
               "vpcConfig": {"endpointPublicAccess": False},
               "encryptionConfig": {"provider": {"keyArn": "arn:k"}, "resources": ["secrets"]}}
REQ_WIDE = {"vcpuCount": {"min": 64, "max": 256}, "memoryMib": {"min": 0}}
REQ_NARROW = {"vcpuCount": {"min": 2, "max": 8}, "memoryMib": {"min": 4096}, "allowedInstanceTypes": ["m5.*"],
              "acceleratorCount": {"max": 0}}
SPOT_REQ = {"instanceType": "p4d.24xlarge", "metadataOptions": IMDS, "rootBlockDevice": {"encrypted": True}}
FLEET = {"launchTemplateConfigs": [{"launchTemplateSpecification": {"launchTemplateName": "lt", "version": "1"},
                                    "overrides": [{"instanceType": "p5.48xlarge"}]}],
         "targetCapacitySpecification": {"defaultTargetCapacityType": "spot", "totalTargetCapacity": 2}}
SPOT_FLEET = {"targetCapacity": 4, "iamFleetRole": "arn:r", "launchSpecifications": [
    {"ami": "ami-1", "instanceType": "m5.large", "rootBlockDevices": [{"encrypted": True}]}]}
PV_IO2 = {"spec": {"capacity": {"storage": "16Ti"}, "storageClassName": "fast",
                   "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}}
FAST = {"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "io2", "iopsPerGB": "500"}}
PVC_FAST = {"metadata": {"name": "c", "namespace": "ns"},
            "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "4Ti"}}}}
CAP5 = {"max-hourly-cost": {"maxHourlyUsd": 5}}


def with_override(**bad_template):
    """A pool whose second override launches from its own template 'bad' (first in the list)."""
    bad = template("bad", **bad_template)
    return [bad, group(template(), overrides=[{"instanceType": "m5.large"},
                                              {"launchTemplateSpecification": {"launchTemplateName": "bad"}}], deps=[bad])]


def case(cid, build, rule_name, culprit_index=-1, config=None):
    return pytest.param(build, rule_name, culprit_index, config, id=cid)


def only(type_token, name, props):
    """A stack of one resource."""
    return lambda: [res(type_token, name, props)]


BYPASSES = [
    # compute launched by paths the rules did not inspect
    case("spot-instance-request", only(SPOT_T, "s", SPOT_REQ), "allowed-resource-types"),
    case("spot-request-allowed-still-typed", only(SPOT_T, "s", SPOT_REQ), "instance-types", config=ALLOW),
    case("spot-fleet", only(SPOT_FLEET_T, "sf", SPOT_FLEET), "allowed-resource-types"),
    case("spot-fleet-launch-specification-imds", only(SPOT_FLEET_T, "sf", SPOT_FLEET), "imdsv2-required",
         config=ALLOW),
    case("ec2-fleet", lambda: [template(), res("aws:ec2/fleet:Fleet", "f", FLEET)], "allowed-resource-types"),
    case("ec2-fleet-allowed-p5", lambda: [template(), res("aws:ec2/fleet:Fleet", "f", FLEET)], "instance-types",
         config=ALLOW),
    case("eks-node-group", lambda: lt_linked_node_group(), "allowed-resource-types"),
    case("node-group-p5", lambda: lt_linked_node_group(instanceTypes=["p5.48xlarge"]), "instance-types", config=ALLOW),
    case("node-group-on-demand-workers", lambda: lt_linked_node_group(capacityType="ON_DEMAND"), "spot-workers",
         config=ALLOW),
    case("node-group-without-template", lambda: [node_group(launchTemplate=None)], "imdsv2-required", config=ALLOW),
    case("node-group-priced", lambda: lt_linked_node_group(instanceTypes=["m5.24xlarge"], capacityType="ON_DEMAND",
                                                           scalingConfig={"minSize": 2, "desiredSize": 2, "maxSize": 2}),
         "max-hourly-cost", config={**ALLOW, **CAP5}),
    case("rds-instance", only("aws:rds/instance:Instance", "db", {"instanceClass": "db.r5.24xlarge"}),
         "allowed-resource-types"),
    case("rds-allowed-not-priced-as-zero", only("aws:rds/cluster:Cluster", "db", {"engine": "aurora"}),
         "max-hourly-cost", config=ALLOW),
    case("other-package", only("aws-native:ec2:Instance", "i", {"instanceType": "p5.48xlarge"}),
         "allowed-resource-types"),
    case("other-provider", only("pulumi:providers:aws-native", "native", {}), "allowed-resource-types"),
    case("helm-chart-not-allowed", only(HELM, "r", {"chart": "miner", "repositoryOpts": {
        "repo": "https://example.org/charts"}}), "allowed-resource-types"),
    case("helm-known-chart-other-repo", only(HELM, "r", {"chart": "opencost", "repositoryOpts": {
        "repo": "https://evil.example/charts"}}), "allowed-resource-types"),
    # instance types
    case("asg-instance-requirements", lambda: pool(overrides=[{"instanceRequirements": REQ_WIDE}]), "instance-types"),
    case("template-instance-requirements", lambda: [template(itype=None, instanceRequirements=REQ_WIDE)],
         "instance-types", 0),
    case("per-override-template-type", lambda: with_override(itype="p4d.24xlarge"), "instance-types", 0),
    case("per-override-template-imds", lambda: with_override(metadataOptions={"httpTokens": "optional"}),
         "imdsv2-required", 0),
    case("per-override-template-ebs", lambda: with_override(blockDeviceMappings=[{"ebs": {"encrypted": "false"}}]),
         "ebs-encryption", 0),
    case("per-override-template-outside-stack", lambda: pool(overrides=[{"instanceType": "m5.large"}, {
        "launchTemplateSpecification": {"launchTemplateId": "lt-0external"}}]), "launch-templates-in-stack"),
    case("instance-from-template-outside-stack", lambda: [res("aws:ec2/instance:Instance", "i", {
        "launchTemplate": {"id": "lt-0external"}, "metadataOptions": IMDS, "rootBlockDevice": {"encrypted": True}})],
         "launch-templates-in-stack"),
    case("per-override-template-priced", lambda: with_override(itype="p4d.24xlarge"), "max-hourly-cost",
         config={"instance-types": {"allowedInstanceTypes": ["m5.*", "p4d.24xlarge"]},
                 "accelerated-pools": {"allowedGpuFamilies": ["p4d"]}}),
    # spot share, tags
    case("on-demand-base-covers-pool", lambda: pool(base=4, max_size=4), "spot-workers"),
    case("blank-tag-value", only("aws:ec2/vpc:Vpc", "vpc", {"tags": {"owner": "   "}}), "required-tags"),
    case("blank-asg-tag", lambda: pool(extra_tags={"cost-center": " "}), "required-tags"),
    # S3 whose settings mean less than they look
    case("tls-deny-one-prefix", lambda: bucket({**TLS, "Resource": [ARN, f"{ARN}/logs/*"]}), "s3-bucket-hardening", 0),
    case("tls-deny-one-action", lambda: bucket({**TLS, "Action": "s3:GetObject"}), "s3-bucket-hardening", 0),
    case("tls-deny-one-principal", lambda: bucket({**TLS, "Principal": {"AWS": "arn:aws:iam::1:root"}}),
         "s3-bucket-hardening", 0),
    case("tls-deny-extra-condition", lambda: bucket({**TLS, "Condition": {"Bool": {"aws:SecureTransport": "false"},
                                                                          "StringEquals": {"aws:PrincipalAccount": "1"}}}),
         "s3-bucket-hardening", 0),
    case("tls-deny-not-action", lambda: bucket({**{k: v for k, v in TLS.items() if k != "Action"},
                                                "NotAction": "s3:GetObject"}), "s3-bucket-hardening", 0),
    case("tls-version-only", lambda: bucket({**TLS, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}),
         "s3-bucket-hardening", 0),
    case("second-bucket-policy", lambda: bucket(extra=[res(POLICY, "later", {"bucket": "b", "policy": json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject",
                        "Resource": f"{ARN}/*"}]})})]), "s3-bucket-hardening", 0),
    case("inline-policy-too", lambda: bucket(policy=json.dumps({"Statement": []})), "s3-bucket-hardening", 0),
    case("allow-everyone", lambda: bucket(TLS, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                "Resource": f"{ARN}/*"}), "s3-bucket-hardening", 0),
    case("allow-everyone-over-tls", lambda: bucket(TLS, {"Effect": "Allow", "Principal": {"AWS": "*"},
                                                         "Action": "s3:GetObject", "Resource": f"{ARN}/*", "Condition":
                                                         {"Bool": {"aws:SecureTransport": "true"}}}),
         "s3-bucket-hardening", 0),
    case("allow-everyone-from-every-ip", lambda: bucket(TLS, {"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                                              "Resource": f"{ARN}/*", "Condition": {"IpAddress": {
                                                                  "aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}}}),
         "s3-bucket-hardening", 0),
    case("public-acl", lambda: bucket(extra=[res("aws:s3/bucketAcl:BucketAcl", "acl", {"bucket": "b",
                                                                                        "acl": "public-read"})]),
         "s3-bucket-hardening", 0),
    case("acl-grant-all-users", lambda: bucket(extra=[res("aws:s3/bucketAclV2:BucketAclV2", "acl", {
        "bucket": "b", "accessControlPolicy": {"grants": [{"permission": "READ", "grantee": {
            "type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}}]}})]), "s3-bucket-hardening", 0),
    case("bucket-v2-bare", only("aws:s3/bucketV2:BucketV2", "v2", {"bucket": "v2"}), "s3-bucket-hardening"),
    case("access-point-public", lambda: bucket(extra=[res("aws:s3/accessPoint:AccessPoint", "ap", {
        "bucket": "b", "publicAccessBlockConfiguration": {"blockPublicPolicy": False}})]), "s3-bucket-hardening",
         config=ALLOW),
    case("access-point-type", lambda: bucket(extra=[res("aws:s3/accessPoint:AccessPoint", "ap", {"bucket": "b"})]),
         "allowed-resource-types"),
    # CIDRs judged on the addresses they cover
    case("eks-two-halves", lambda: [cluster(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/1"])],
         "eks-endpoint-and-secrets"),
    case("eks-default-public-many-8s", lambda: [cluster(publicAccessCidrs=[f"{n}.0.0.0/8" for n in range(11, 40)])],
         "eks-endpoint-and-secrets"),
    case("eks-default-everything", lambda: [cluster()], "eks-endpoint-and-secrets"),
    case("sg-protocol-all-on-allowed-port", lambda: [sg(("-1", 443, 443, ["0.0.0.0/0"]))], "no-public-ingress",
         config={"no-public-ingress": {"allowedPublicPorts": [443]}}),
    case("sg-protocol-all-zero-ports", lambda: [sg(("-1", 0, 0, ["0.0.0.0/0"]))], "no-public-ingress",
         config={"no-public-ingress": {"allowedPublicPorts": [0]}}),
    case("sg-two-halves", lambda: [sg(("tcp", 22, 22, ["0.0.0.0/1", "128.0.0.0/1"]))], "no-public-ingress"),
    case("sg-two-public-8s", lambda: [sg(("tcp", 22, 22, ["11.0.0.0/8", "12.0.0.0/8"]))], "no-public-ingress"),
    case("sg-ipv6-halves", lambda: [sg(("tcp", 22, 22, ["::/1", "8000::/1"]))], "no-public-ingress"),
    case("sg-halves-in-two-rules", lambda: [sg(), rule("a", ["0.0.0.0/1"]), rule("b", ["128.0.0.0/1"])],
         "no-public-ingress"),
    case("vpc-ingress-rule-all-protocols", only(INGRESS_RULE, "r", {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0",
                                                                    "securityGroupId": "sg-1"}), "no-public-ingress"),
    case("default-sg-open", lambda: [res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "d", {
        "ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]})],
         "no-public-ingress"),
    case("prefix-list-of-the-world", lambda: [pl := res("aws:ec2/managedPrefixList:ManagedPrefixList", "pl", {
        "id": "pl-1", "addressFamily": "IPv4", "maxEntries": 2, "entries": [{"cidr": "0.0.0.0/0"}]}),
        res(INGRESS_RULE, "r", {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "prefixListId": "pl-1",
                                "securityGroupId": "sg-1"}, prefixListId=[pl])], "no-public-ingress"),
    case("prefix-list-outside-stack", only(INGRESS_RULE, "r", {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                                               "prefixListId": "pl-0aws", "securityGroupId": "sg-1"}),
         "no-public-ingress"),
    # every volume priced
    case("ebs-volumes-11-per-hour", lambda: [volume(f"v{i}", 7300) for i in range(11)], "max-hourly-cost", 0, CAP5),
    case("io2-iops-priced", lambda: [volume("v", 4000, "io2", iops=64000)], "max-hourly-cost", 0, CAP5),
    case("template-io2-volumes-priced", lambda: [lt := template(blockDeviceMappings=[{"deviceName": "/dev/xvdb", "ebs": {
        "encrypted": "true", "volumeSize": 8000, "volumeType": "io2", "iops": 64000}}]), group(lt)],
         "max-hourly-cost", -1, CAP5),
    case("instance-ebs-devices-priced", lambda: [res("aws:ec2/instance:Instance", "i", {
        "instanceType": "t3.small", "metadataOptions": IMDS, "rootBlockDevice": {"encrypted": True},
        "ebsBlockDevices": [{"deviceName": "/dev/sdb", "encrypted": True, "volumeSize": 16000, "volumeType": "io2",
                             "iops": 64000}]})], "max-hourly-cost", 0, CAP5),
    case("persistent-volume-priced", lambda: [res("kubernetes:storage.k8s.io/v1:StorageClass", "fast", FAST),
                                              res("kubernetes:core/v1:PersistentVolume", "pv", PV_IO2)],
         "max-hourly-cost", -1, CAP5),
    case("claim-on-io2-class-priced", lambda: [res("kubernetes:storage.k8s.io/v1:StorageClass", "fast", FAST),
                                               res("kubernetes:core/v1:PersistentVolumeClaim", "c", PVC_FAST)],
         "max-hourly-cost", -1, CAP5),
    case("dedicated-tenancy-not-priced-as-shared", lambda: [lt := template(placement={"tenancy": "dedicated"}),
                                                            group(lt)], "max-hourly-cost", 0),
    case("interface-endpoint-not-free", only("aws:ec2/vpcEndpoint:VpcEndpoint", "ep", {
        "vpcEndpointType": "Interface", "serviceName": "com.amazonaws.us-east-1.ec2"}), "max-hourly-cost", 0),
    case("extended-support-priced", only(EKS, "old", EXT_SUPPORT), "max-hourly-cost", 0,
         {"max-hourly-cost": {"maxHourlyUsd": 0.5}, "eks-version-support": "advisory"}),
]

GOOD = [
    pytest.param(lambda: pool(), None, id="worker-pool"),
    pytest.param(lambda: pool(base=1, max_size=8), None, id="small-on-demand-base"),
    pytest.param(lambda: pool(overrides=[{"instanceRequirements": REQ_NARROW}]), None, id="narrow-requirements"),
    pytest.param(lambda: bucket(), None, id="hardened-bucket"),
    pytest.param(lambda: bucket({**TLS, "Principal": {"AWS": ["*"]}, "Resource": "arn:aws:s3:::b*"}), None,
                 id="tls-deny-wildcards"),
    pytest.param(lambda: bucket(TLS, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                      "Resource": f"{ARN}/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}),
                 None, id="allow-from-one-endpoint"),
    pytest.param(lambda: [res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"serviceName": "com.amazonaws.us-east-1.s3",
                                                                        "vpcId": "vpc-1"})], None, id="gateway-endpoint"),
    pytest.param(lambda: [cluster(endpointPublicAccess=True, publicAccessCidrs=["192.0.2.0/24", "198.51.100.0/24"])],
                 None, id="eks-restricted"),
    pytest.param(lambda: [sg(("tcp", 443, 443, ["0.0.0.0/0"]), ("-1", 0, 0, ["10.0.0.0/8"]))],
                 {"no-public-ingress": {"allowedPublicPorts": [443]}}, id="sg-443-and-private"),
    pytest.param(only(HELM, "kps", {"chart": "kube-prometheus-stack", "repositoryOpts": {
        "repo": "https://prometheus-community.github.io/helm-charts"}}), None, id="program-chart"),
    pytest.param(lambda: [volume("v", 100)], CAP5, id="small-volume"),
    pytest.param(lambda: lt_linked_node_group(), ALLOW, id="allowed-spot-node-group"),
]


@pytest.fixture(autouse=True)
def _pinned_date(monkeypatch):
    # 1.31 is in extended support on this date (infra/pricing/eks-versions.csv)
    monkeypatch.setenv("CLOUDVIPER_TODAY", "2026-06-01")


@pytest.mark.parametrize(("build", "rule_name", "culprit_index", "config"), BYPASSES)
def test_bypass_is_refused(build, rule_name, culprit_index, config):
    resources = build()
    assert_refused(resources, rule_name, resources[culprit_index], config)


@pytest.mark.parametrize(("build", "config"), GOOD)
def test_good_twin_passes(build, config):
    assert refusals(build(), config) == {}


def test_a_template_of_the_stack_named_without_a_dependency_is_seen_by_id_or_name():
    # policies/rules/aws_common.py Templates: a specification resolves by the template's id or name, not only through
    # a property dependency; one naming a template outside the stack is still refused.
    lt = template(id="lt-0123")
    by_name = res(ASG, "workers", group(lt).props)  # the same props, no dependency on the template
    by_id = res("aws:ec2/instance:Instance", "i", {"launchTemplate": {"id": "lt-0123"}, "metadataOptions": IMDS,
                                                   "rootBlockDevice": {"encrypted": True}})
    assert "launch-templates-in-stack" not in refusals([lt, by_name, by_id])
    other = template("other", id="lt-0456")
    assert_refused([other, by_name], "launch-templates-in-stack", by_name)
    assert_refused([other, by_id], "launch-templates-in-stack", by_id)
