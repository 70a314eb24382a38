"""EKS versions: the support calendar, the upgrade policy, the price tier and the rule that guards them.

Sources: awsdocs/amazon-eks-user-guide latest/ug/versioning/kubernetes-versions.adoc @0138560 (1.31-1.34 dates;
"A minor version is under standard support in Amazon EKS for the first 14 months after it's released ...
extended support for the next 12 months"; "Extended support is enabled by default"); endoflife-date/endoflife.date
products/amazon-eks.md @a70eca3 (1.35, 1.36, scraped from AWS's table); botocore eks 2017-11-01
UpgradePolicyRequest ("The default value is EXTENDED"); AWS Containers blog "Amazon EKS extended support for
Kubernetes versions pricing" ($0.60 vs $0.10 per cluster-hour); kubernetes/autoscaler tags cluster-autoscaler-1.31.5,
-1.32.7, -1.33.6, -1.34.5, -1.35.2, -1.36.1.
"""

from __future__ import annotations

import datetime as dt

import pytest

from infra.config.cluster import AUTOSCALER_RELEASES, DEFAULT_VERSION, K8S_VERSIONS
from infra.pricing import eks_support
from infra.pricing.cost import ResourceView, price_control_plane
from infra.pricing.tables import load_prices
from policies.rules import support
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, run_config
from tests.policy_helpers import check

CLUSTER = "aws:eks/cluster:Cluster"


def test_the_calendar_follows_the_14_plus_12_month_rule():
    cal = eks_support.calendar()
    assert list(cal) == ["1.31", "1.32", "1.33", "1.34", "1.35", "1.36"]
    assert cal["1.33"].end_of_standard == dt.date(2026, 7, 29) and cal["1.34"].end_of_standard == dt.date(2026, 12, 2)
    for w in cal.values():
        months_standard = (w.end_of_standard.year - w.released.year) * 12 + w.end_of_standard.month - w.released.month
        months_extended = ((w.end_of_extended.year - w.end_of_standard.year) * 12
                           + w.end_of_extended.month - w.end_of_standard.month)
        assert (months_standard, months_extended) == (14, 12), w.version


def test_the_default_version_has_a_quarter_of_standard_support_ahead():
    window = eks_support.calendar()[DEFAULT_VERSION]
    assert window.tier(eks_support.CALENDAR_AS_OF) == "standard"
    assert (window.end_of_standard - eks_support.CALENDAR_AS_OF).days >= 90
    assert all(v in AUTOSCALER_RELEASES for v in K8S_VERSIONS) and DEFAULT_VERSION in K8S_VERSIONS


@pytest.mark.parametrize(("version", "support_type", "on", "usd", "tier"), [
    ("1.35", "STANDARD", "2026-11-23", 0.10, "standard"),
    ("1.33", "STANDARD", "2026-11-23", 0.10, "standard"),  # EKS upgrades it instead of billing extended
    ("1.33", "EXTENDED", "2026-11-23", 0.60, "extended"),
    ("1.33", None, "2026-11-23", 0.60, "extended"),  # no upgrade policy: the API default, EXTENDED
    ("1.35", "EXTENDED", "2026-11-23", 0.10, "standard"),
    ("1.35", "EXTENDED", "2027-03-27", 0.60, "extended"),  # the day standard support ends, billing changes
])
def test_the_control_plane_is_priced_at_its_tier(monkeypatch, version, support_type, on, usd, tier):
    monkeypatch.setenv("CLOUDVIPER_TODAY", on)
    props = {"version": version, **({"upgradePolicy": {"supportType": support_type}} if support_type else {})}
    item = price_control_plane(ResourceView(CLUSTER, "c", "urn:c", props), load_prices())
    assert item.max == usd and f"({tier} support)" in item.detail


def test_a_stack_without_extended_support_sets_standard_and_pays_standard(cluster_capture):
    c = cluster_capture.one(CLUSTER)
    assert c.props["upgradePolicy"] == {"supportType": "STANDARD"}


def test_opting_in_sets_extended():
    values = {**BASE_CONFIG, **CLUSTER_CONFIG}
    values["cloudviper:cluster"] = {**CLUSTER_CONFIG["cloudviper:cluster"], "version": "1.33", "extendedSupport": True}
    cap = run_config(values, stack="ext")
    assert cap.one(CLUSTER).props["upgradePolicy"] == {"supportType": "EXTENDED"}


def rule(monkeypatch, on, version, support_type=None, config=None):
    monkeypatch.setenv("CLOUDVIPER_TODAY", on)
    props = {"version": version, **({"upgradePolicy": {"supportType": support_type}} if support_type else {})}
    return check(support.POLICY, CLUSTER, props, config=config)


def test_rule_passes_a_version_in_standard_support(monkeypatch):
    assert rule(monkeypatch, "2026-11-23", "1.35", "STANDARD") == []


@pytest.mark.parametrize(("version", "fragment"), [
    ("1.33", "standard support for Kubernetes 1.33 ended on 2026-07-29"),
    ("1.34", "standard support for Kubernetes 1.34 ends on 2026-12-02"),  # 9 days < 30
])
def test_rule_refuses_a_version_leaving_standard_support(monkeypatch, version, fragment):
    (message,) = rule(monkeypatch, "2026-11-23", version, "STANDARD")
    assert fragment in message and "extendedSupport: true" in message


def test_rule_lets_a_stack_that_opted_in_stay_and_honours_its_setting(monkeypatch):
    assert rule(monkeypatch, "2026-11-23", "1.33", "EXTENDED") == []
    assert rule(monkeypatch, "2026-11-23", "1.34", "STANDARD", config={"minDaysOfStandardSupport": 5}) == []


def test_rule_refuses_a_version_past_all_support_even_when_opted_in(monkeypatch):
    (message,) = rule(monkeypatch, "2026-12-01", "1.31", "EXTENDED")
    assert "EKS ended all support for 1.31 on 2026-11-26" in message


def test_a_bad_pinned_date_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CLOUDVIPER_TODAY", "next tuesday")
    with pytest.raises(ValueError, match="CLOUDVIPER_TODAY='next tuesday' is not a date"):
        eks_support.today()


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_autoscaler_image_follows_the_clusters_minor(version):
    from infra.config.cluster import ClusterConfig

    cfg = ClusterConfig.model_validate({"version": version, "publicAccessCidrs": ["192.0.2.0/24"]})
    assert cfg.autoscaler_image == f"registry.k8s.io/autoscaling/cluster-autoscaler:v{AUTOSCALER_RELEASES[version]}"
    assert cfg.autoscaler_image.rsplit(":v", 1)[1].startswith(version + ".")


def test_the_budget_rule_prices_an_extended_support_cluster_at_the_extended_rate(monkeypatch):
    from policies.rules import cost
    from tests.policy_helpers import check_stack, res

    monkeypatch.setenv("CLOUDVIPER_TODAY", "2026-06-01")  # 1.31: past standard support (2025-11-26), in extended
    props = {"version": "1.31", "upgradePolicy": {"supportType": "EXTENDED"}}
    (msg,) = check_stack(cost.BUDGET, [res(CLUSTER, "eks", props)], config={"maxHourlyUsd": 0.5})
    assert "estimated $0.60/hour at maximum scale" in msg and "aws:eks/cluster:Cluster 'eks' $0.60/h" in msg
    standard = {**props, "upgradePolicy": {"supportType": "STANDARD"}}  # EKS upgrades it instead: standard price
    assert check_stack(cost.BUDGET, [res(CLUSTER, "eks", standard)], config={"maxHourlyUsd": 0.5}) == []
