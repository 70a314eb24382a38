"""Cost model: hand-computed expectations."""

from __future__ import annotations

import pytest

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
    assert est.total("max") == pytest.approx(0.10 + 1 / 730 + 100 * 0.08 / 730, abs=1e-4)


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
