"""The pack as a whole: entry point, config files, taggable list, example stacks, the bad stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi_aws
import pytest

from policies.pack import POLICIES
from policies.taggable_types import DATA, scan
from tests.test_plan_cli import plan

FIXTURE = Path(__file__).parent / "fixtures" / "bad_stack"


def test_pack_entry_point_starts_the_analyzer(repo_root):
    proc = subprocess.Popen([sys.executable, "__main__.py"], cwd=repo_root / "policies", stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit() and 0 < int(port) < 65536, port
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_shipped_taggable_list_matches_the_pinned_sdk():
    assert DATA.read_text().splitlines() == scan(Path(pulumi_aws.__file__).parent)


def test_dev_plan_shows_cost_and_zero_mandatory_violations():
    result = plan("--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert "== Cost" in result.stdout and "$/hour" in result.stdout
    assert f"0 mandatory violations, 0 advisory ({len(POLICIES)} rules, config: policies/config/dev.json)" in result.stdout


def test_bad_stack_is_stopped_by_region_type_spot_tags_and_budget():
    result = plan("--stack", "bad", "--project-dir", str(FIXTURE), "--json")
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)["sections"]["policy"]
    by_rule: dict[str, list[str]] = {}
    for violation in doc["violations"]:
        assert violation["level"] == "mandatory"
        by_rule.setdefault(violation["policy"], []).append(violation["message"])
    assert {"allowed-regions", "instance-types", "spot-workers", "required-tags", "max-hourly-cost"} <= set(by_rule)
    assert any("deploys to region us-west-2" in m for m in by_rule["allowed-regions"])
    assert any("LaunchTemplate 'gpu': p4d.24xlarge matches deniedInstanceTypes" in m for m in by_rule["instance-types"])
    assert any("'gpu-workers' is a worker pool without a mixed instances policy" in m for m in by_rule["spot-workers"])
    assert any("'gpu-workers' is missing required tags: project, stack, owner, cost-center" in m for m in by_rule["required-tags"])
    (budget,) = by_rule["max-hourly-cost"]
    # 4 x p4d.24xlarge 21.957642 + 4 x 100 GB x 0.08/730 = 87.8744 (us-west-2 priced with us-east-1's table)
    assert "estimated $87.87/hour at maximum scale" in budget and "aws:autoscaling/group:Group 'gpu-workers' $87.87/h" in budget


def test_bad_stack_text_report_names_rule_and_resource():
    result = plan("--stack", "bad", "--project-dir", str(FIXTURE))
    assert result.returncode == 3
    assert "[mandatory] instance-types: aws:ec2/launchTemplate:LaunchTemplate 'gpu': p4d.24xlarge" in result.stdout


# -- what the AWS rules rely on, pinned to the installed SDKs (pulumi_aws 7.51.1 and botocore 1.44.5, requirements.txt)
SDK = Path(pulumi_aws.__file__).parent


def test_every_type_the_pack_names_is_in_the_pinned_sdk():
    from infra.pricing import compute, launchers
    from policies.rules import ingress, resource_types, s3
    from policies.taggable_types import all_types

    named = {*resource_types.UNDERSTOOD, *resource_types.INERT, *launchers.UNPRICED_HOURLY, s3.ACCESS_POINT, *s3.ACLS,
             *s3.SSE, *s3.BUCKETS, ingress.PREFIX_LIST, ingress.SG_RULE, ingress.INGRESS_RULE, ingress.DEFAULT_SG,
             compute.NODE_GROUP, compute.SPOT_REQUEST, compute.SPOT_FLEET, compute.EC2_FLEET}
    assert named - set(all_types(SDK)) == set()


@pytest.mark.parametrize("name", [
    # autoscaling: mixed instances, attribute-based selection, per-override launch templates
    "mixedInstancesPolicy", "instancesDistribution", "onDemandBaseCapacity", "onDemandPercentageAboveBaseCapacity",
    "launchTemplateSpecification", "instanceRequirements", "launchTemplateId", "launchTemplateName", "vcpuCount",
    "memoryMib", "allowedInstanceTypes", "excludedInstanceTypes", "acceleratorCount", "bareMetal", "weightedCapacity",
    # fleets, spot requests, EKS node groups
    "launchTemplateConfigs", "targetCapacitySpecification", "totalTargetCapacity", "onDemandTargetCapacity",
    "spotTargetCapacity", "defaultTargetCapacityType", "targetCapacityUnitType", "targetCapacity",
    "launchSpecifications", "rootBlockDevices", "ebsBlockDevices", "rootBlockDevice", "metadataOptions", "httpTokens",
    "scalingConfig", "capacityType", "instanceTypes", "diskSize", "desiredSize", "maxSize", "minSize",
    # volumes, security groups, EKS endpoint, S3
    "volumeType", "volumeSize", "blockDeviceMappings", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds", "fromPort",
    "toPort", "ipProtocol", "cidrIpv4", "cidrIpv6", "prefixListId", "securityGroupId", "endpointPublicAccess",
    "publicAccessCidrs", "accessControlPolicy", "publicAccessBlockConfiguration", "serverSideEncryptionConfiguration",
    "applyServerSideEncryptionByDefault", "sseAlgorithm", "repositoryOpts",
])
def test_the_input_names_the_rules_read_are_the_sdks(name):
    import pulumi_kubernetes

    sdks = [SDK / "autoscaling", SDK / "ec2", SDK / "eks", SDK / "vpc", SDK / "s3", Path(pulumi_kubernetes.__file__).parent / "helm"]
    assert any(f'getter(name="{name}")' in p.read_text() for d in sdks for p in d.rglob("*.py")), name


def _shape(service: str, shape: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service).shape_for(shape)


def _doc(service: str, shape: str, member: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", _shape(service, shape).members[member].documentation))


def test_the_aws_api_facts_the_rules_rely_on():
    assert "specifying -1 or a protocol number other than tcp, udp, icmp, or icmpv6 allows traffic on all ports, " \
           "regardless of any port range you specify" in _doc("ec2", "IpPermission", "IpProtocol")
    assert "Default: gp2" in _doc("ec2", "CreateVolumeRequest", "VolumeType")
    overrides = _shape("autoscaling", "LaunchTemplateOverrides").members
    assert {"InstanceType", "LaunchTemplateSpecification", "InstanceRequirements"} <= set(overrides)
    assert "wild cards" in _doc("autoscaling", "InstanceRequirements", "AllowedInstanceTypes")
    assert "set Max to 0" in _doc("autoscaling", "InstanceRequirements", "AcceleratorCount")
    assert "Default: excluded" in _doc("autoscaling", "InstanceRequirements", "BareMetal")
    assert "InstanceRequirements" in _shape("ec2", "FleetLaunchTemplateOverridesRequest").members
    assert "The default value for this parameter is true" in _doc("eks", "VpcConfigRequest", "endpointPublicAccess")
    assert "The default value is 0.0.0.0/0" in _doc("eks", "VpcConfigRequest", "publicAccessCidrs")
    assert "then t3.medium is used, by default" in _doc("eks", "CreateNodegroupRequest", "instanceTypes")


def test_the_default_helm_charts_are_the_programs():
    from components import federation
    from infra.documents import monitoring as m
    from policies.rules.resource_types import PROGRAM_CHARTS

    assert PROGRAM_CHARTS == [f"{m.KPS_REPO}/{m.KPS_CHART}", f"{m.OPENCOST_REPO}/{m.OPENCOST_CHART}",
                              f"{federation.CERT_MANAGER_REPO}/cert-manager", federation.ADMIRALTY_CHART]
