"""Cost model: hand-computed expectations."""

from __future__ import annotations

import pytest

from infra.pricing.compute import requirement_candidates
from infra.pricing.cost import ResourceView, estimate, price_group, split_on_demand
from infra.pricing.tables import DEFAULT_SPOT_RATIO, HOURS_PER_MONTH, PricingError, load_prices

PRICES = load_prices("us-east-1")


def v(type_token, name, **props):
    return ResourceView(type=type_token, name=name, urn=f"urn:{name}", props=props)


def test_price_table_has_the_documented_spot_checks():
    # infra/pricing/SOURCES.md, "Spot-checks I verified by eye"
    assert PRICES.on_demand("t3.small") == 0.0208
    assert PRICES.on_demand("m5dn.4xlarge") == 1.088
    t = PRICES.instance("c5n.18xlarge")
    assert (t.vcpu, t.memory_gib, t.on_demand_usd) == (72, 192, 3.888)
    assert PRICES.instance("m5.metal").bare_metal is True
    assert PRICES.instance("p5.48xlarge").gpus == 8
    assert len(PRICES.instances) == 1367


def test_nat_two_eips_and_a_bucket():
    est = estimate([v("aws:ec2/natGateway:NatGateway", "nat"), v("aws:ec2/eip:Eip", "ip1"),
                    v("aws:ec2/eip:Eip", "ip2"), v("aws:s3/bucket:Bucket", "data")], PRICES)
    # 0.045 NAT-hour + 2 x 0.005 public IPv4; the bucket is usage-based
    assert est.total("idle") == est.total("max") == pytest.approx(0.055)
    assert est.total("max") * HOURS_PER_MONTH == pytest.approx(40.15)
    assert any("S3 storage $0.023/GB-month" in n for n in est.notes)
    assert [i.name for i in est.top(1)] == ["nat"]


def test_eks_kms_and_volume():
    est = estimate([v("aws:eks/cluster:Cluster", "eks"), v("aws:kms/key:Key", "k"),
                    v("aws:ebs/volume:Volume", "vol", size=100)], PRICES)
    # a volume without a type is gp2, CreateVolume's default (botocore ec2 2016-11-15 service-2.json,
    # CreateVolumeRequest.VolumeType "Default: gp2"): $0.10/GB-month
    assert est.total("max") == pytest.approx(0.10 + 1 / 730 + 100 * 0.10 / 730, abs=1e-4)


@pytest.mark.parametrize(("count", "base", "pct", "expected"), [
    (0, 1, 0, (0, 0)), (10, 1, 0, (1, 9)), (10, 2, 50, (6, 4)), (3, 0, 100, (3, 0)), (5, 0, 25, (2, 3)),
])
def test_on_demand_spot_split(count, base, pct, expected):
    assert split_on_demand(count, base, pct) == expected


def test_spot_group_at_idle_day_one_and_max():
    asg = v("aws:autoscaling/group:Group", "workers", minSize=0, maxSize=4, desiredCapacity=2, mixedInstancesPolicy={
        "instancesDistribution": {"onDemandBaseCapacity": 1, "onDemandPercentageAboveBaseCapacity": 0},
        "launchTemplate": {"overrides": [{"instanceType": "m5.large"}, {"instanceType": "m5a.large"}]}})
    item = price_group(asg, PRICES)
    od, spot, vol = 0.096, 0.096 * DEFAULT_SPOT_RATIO, 20 * 0.08 / 730  # m5.large is the dearer type
    assert item.idle == 0
    assert item.day_one == pytest.approx(od + spot + 2 * vol, abs=1e-5)  # no day-one count given: desiredCapacity
    assert item.max == pytest.approx(od + 3 * spot + 4 * vol, abs=1e-5)


def test_group_without_mixed_policy_is_all_on_demand_and_reads_the_launch_template():
    lt = v("aws:ec2/launchTemplate:LaunchTemplate", "lt", instanceType="m5.large",
           blockDeviceMappings=[{"ebs": {"volumeSize": 100}}])
    asg = v("aws:autoscaling/group:Group", "g", minSize=1, maxSize=2, launchTemplate={"id": "lt-1"})
    asg.property_dependencies = {"launchTemplate": [lt]}
    item = price_group(asg, PRICES)
    assert item.max == pytest.approx(2 * (0.096 + 100 * 0.08 / 730), abs=1e-5)


def test_unknown_instance_type_is_an_error_not_zero():
    with pytest.raises(PricingError, match=r"'m5\.huge' is not in the us-east-1 price table; known m5 sizes"):
        estimate([v("aws:ec2/instance:Instance", "i", instanceType="m5.huge")], PRICES)


def test_other_regions_say_they_use_us_east_1_prices():
    assert "no eu-west-1 table: using us-east-1 prices" in load_prices("eu-west-1").source


def test_federation_networks_load_balancer_and_transit_gateway():
    est = estimate([v("kubernetes:core/v1:Service", "peers", spec={"type": "LoadBalancer"}),
                    v("kubernetes:core/v1:Service", "plain", spec={"type": "ClusterIP"}),
                    v("aws:ec2transitgateway/vpcAttachment:VpcAttachment", "a"),
                    v("aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "pcx")], PRICES)
    # infra/pricing/SOURCES.md: NLB $0.0225/h, attachment $0.05/h; a ClusterIP Service and peering cost nothing
    assert est.total("idle") == pytest.approx(0.0225 + 0.05)
    assert any("$0.006/NLCU-hour" in n for n in est.notes) and any("peering" in n for n in est.notes)
    assert not [n for n in estimate([v("kubernetes:core/v1:Service", "plain", spec={"type": "ClusterIP"})],
                                    PRICES).notes]


# -- every volume by type (infra/pricing/volumes.py; prices in aws-fixed-us-east-1.csv, sources in SOURCES.md)
@pytest.mark.parametrize(("kind", "gib", "iops", "mbps", "monthly"), [
    ("gp3", 100, 6000, 250, 100 * 0.08 + 3000 * 0.005 + 125 * 0.04),  # 3,000 IOPS and 125 MB/s included
    ("gp3", 100, 3000, 125, 8.0),
    ("gp2", 100, None, None, 10.0),
    ("io1", 100, 1000, None, 100 * 0.125 + 1000 * 0.065),
    ("io2", 100, 1000, None, 100 * 0.125 + 1000 * 0.065),
    ("st1", 500, None, None, 22.5),
    ("sc1", 500, None, None, 7.5),
    ("standard", 100, None, None, 5.0),
])
def test_ebs_volume_types_storage_iops_and_throughput(kind, gib, iops, mbps, monthly):
    est = estimate([v("aws:ebs/volume:Volume", "vol", size=gib, type=kind, iops=iops, throughput=mbps)], PRICES)
    assert est.items[0].max * HOURS_PER_MONTH == pytest.approx(monthly, abs=1e-3)  # items keep 6 decimals


def test_an_unknown_volume_type_is_an_error():
    with pytest.raises(PricingError, match="EBS volume type 'gp9' is not one of gp2, gp3"):
        estimate([v("aws:ebs/volume:Volume", "vol", size=10, type="gp9")], PRICES)


def test_instance_block_devices_are_priced_by_type():
    inst = v("aws:ec2/instance:Instance", "i", instanceType="t3.small", rootBlockDevice={"volumeSize": 30},
             ebsBlockDevices=[{"volumeSize": 100, "volumeType": "io1", "iops": 1000}])
    monthly = 0.0208 * HOURS_PER_MONTH + 30 * 0.08 + 100 * 0.125 + 1000 * 0.065
    assert estimate([inst], PRICES).items[0].max * HOURS_PER_MONTH == pytest.approx(monthly, abs=1e-3)


def test_claims_use_their_storage_class_and_persistent_volumes_on_ebs_are_priced():
    fast = v("kubernetes:storage.k8s.io/v1:StorageClass", "fast", metadata={"name": "fast"},
             parameters={"type": "io2", "iopsPerGB": "10"})
    claim = v("kubernetes:core/v1:PersistentVolumeClaim", "c",
              spec={"storageClassName": "fast", "resources": {"requests": {"storage": "100Gi"}}})
    pv = v("kubernetes:core/v1:PersistentVolume", "pv", spec={"capacity": {"storage": "200Gi"},
                                                               "awsElasticBlockStore": {"volumeID": "vol-1"}})
    est = estimate([fast, claim, pv], PRICES)
    # claim: io2 100 GiB + 1,000 IOPS (10 per GiB); pv: no class, the EBS CSI default gp3
    assert sum(i.max for i in est.items) * HOURS_PER_MONTH == pytest.approx(100 * 0.125 + 1000 * 0.065 + 200 * 0.08,
                                                                            abs=1e-3)
    vol = v("aws:ebs/volume:Volume", "vol", size=200, type="gp3")
    on_vol = v("kubernetes:core/v1:PersistentVolume", "pv2", spec=pv.props["spec"])
    on_vol.property_dependencies = {"spec": [vol]}
    assert estimate([on_vol], PRICES).total("max") == 0  # the volume is priced on aws:ebs/volume itself


# -- compute launched any way (infra/pricing/compute.py, launchers.py)
def lt(name, **props):
    return ResourceView(type="aws:ec2/launchTemplate:LaunchTemplate", name=name, urn=f"urn:{name}",
                        props={"name": name, **props})


def test_a_per_override_template_is_priced_at_its_type():
    cheap, dear = lt("cheap", instanceType="m5.large"), lt("dear", instanceType="p4d.24xlarge")
    asg = v("aws:autoscaling/group:Group", "g", minSize=0, maxSize=1, mixedInstancesPolicy={
        "instancesDistribution": {"onDemandPercentageAboveBaseCapacity": 100},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateName": "cheap"},
                           "overrides": [{"instanceType": "m5.large"},
                                         {"launchTemplateSpecification": {"launchTemplateName": "dear"}}]}})
    asg.property_dependencies = {"mixedInstancesPolicy": [cheap, dear]}
    assert price_group(asg, PRICES).max == pytest.approx(21.957642 + 20 * 0.08 / 730, abs=1e-5)


def test_attribute_based_selection_is_priced_at_the_dearest_type_it_may_pick():
    req = {"vcpuCount": {"min": 2, "max": 4}, "memoryMib": {"min": 8192, "max": 16384},
           "allowedInstanceTypes": ["m5.*", "g4dn.*"]}
    picks = requirement_candidates(req, PRICES)
    assert picks == ["g4dn.xlarge", "m5.large", "m5.xlarge"]  # 2-4 vCPUs, 8-16 GiB
    assert requirement_candidates({**req, "acceleratorCount": {"max": 0}}, PRICES) == ["m5.large", "m5.xlarge"]
    assert "m5.metal" not in requirement_candidates({"allowedInstanceTypes": ["m5.*"]}, PRICES)  # bare metal: excluded
    asg = v("aws:autoscaling/group:Group", "g", minSize=0, maxSize=2, mixedInstancesPolicy={
        "instancesDistribution": {"onDemandPercentageAboveBaseCapacity": 100},
        "launchTemplate": {"overrides": [{"instanceRequirements": req}]}})
    assert price_group(asg, PRICES).max == pytest.approx(2 * (PRICES.on_demand("g4dn.xlarge") + 20 * 0.08 / 730),
                                                         abs=1e-5)


def test_node_groups_spot_requests_and_fleets_are_priced():
    ng = v("aws:eks/nodeGroup:NodeGroup", "ng", instanceTypes=["m5.large"], capacityType="SPOT",
           scalingConfig={"minSize": 1, "desiredSize": 2, "maxSize": 4})
    each = 0.096 * DEFAULT_SPOT_RATIO + 20 * 0.08 / 730  # EKS's default 20 GiB disk
    item = estimate([ng], PRICES).items[0]
    assert (item.idle, item.day_one, item.max) == pytest.approx((each, 2 * each, 4 * each), abs=1e-5)
    assert estimate([v("aws:eks/nodeGroup:NodeGroup", "d", scalingConfig={"maxSize": 1})], PRICES).items[0].detail \
        .endswith("t3.medium on-demand (EKS managed node group)")  # EKS CreateNodegroup's default type
    spot = v("aws:ec2/spotInstanceRequest:SpotInstanceRequest", "s", instanceType="m5.large")
    assert estimate([spot], PRICES).total("max") == pytest.approx(0.096 * DEFAULT_SPOT_RATIO + 20 * 0.08 / 730,
                                                                   abs=1e-4)
    fleet = v("aws:ec2/fleet:Fleet", "f", launchTemplateConfigs=[{"overrides": [
        {"instanceType": "m5.large", "weightedCapacity": 2}, {"instanceType": "m5.xlarge", "weightedCapacity": 4}]}],
        targetCapacitySpecification={"defaultTargetCapacityType": "on-demand", "totalTargetCapacity": 8})
    # 8 units at 2 units per instance at least: 4 instances, priced at the dearer type
    assert estimate([fleet], PRICES).total("max") == pytest.approx(4 * (0.192 + 20 * 0.08 / 730), abs=1e-4)


def test_hourly_services_without_a_price_are_an_error_not_zero():
    with pytest.raises(PricingError, match="aws:rds/instance:Instance 'db' bills by the hour"):
        estimate([v("aws:rds/instance:Instance", "db", instanceClass="db.m5.large")], PRICES)
