"""What adaptive workers add up to and cost: no worker node at idle, `maximum` workers' nodes at max."""

from __future__ import annotations

import functools

import pytest

from infra.config.errors import ConfigError
from infra.plan.build import make_plan
from infra.plan.report import Plan
from infra.pricing.cost import estimate, storage_gib
from infra.pricing.tables import HOURS_PER_MONTH, load_prices
from tests.conftest import stacks_project
from tests.test_cost import v


@functools.cache
def plan_of(stack: str) -> Plan:
    return make_plan(stack, stacks_project())


def section(plan: Plan, title: str):
    (found,) = [s for s in plan.sections if s.title == title]
    return found.data


@pytest.mark.parametrize("stack", ["dev", "reference", "primary"])
def test_minimum_zero_puts_no_worker_node_in_the_idle_or_day_one_cost(stack):
    plan = plan_of(stack)
    dask = section(plan, "Dask")
    assert dask["minimum"] == 0
    (asg,) = [i for i in section(plan, "Cost")["items"] if i["name"] == f"pool-{dask['pool']}-asg"]
    assert asg["idle"] == asg["day_one"] == 0
    assert asg["max"] == pytest.approx(dask["workerNodesPerHour"]["max"], abs=1e-4) and asg["max"] > 0
    # and the max is `maximum` workers' nodes: the pool holds exactly that many
    groups = [r for r in plan.capture.of_type("aws:autoscaling/group:Group") if r.name == f"pool-{dask['pool']}-asg"]
    assert groups[0].props["maxSize"] == dask["nodesAtMaximum"]


def test_reference_reaches_256_threads_and_more_than_2_tb_and_costs_nothing_for_workers_at_idle():
    dask = section(plan_of("reference"), "Dask")
    assert dask["atMaximum"]["threads"] == 256
    assert dask["atMaximum"]["memoryGiB"] * 2**30 > 2e12
    assert dask["workerNodesPerHour"]["idle"] == 0


def test_dev_runs_between_zero_and_four_workers():
    dask = section(plan_of("dev"), "Dask")
    assert (dask["minimum"], dask["maximum"], dask["nodesAtMaximum"]) == (0, 4, 4)


def test_a_maximum_the_pool_cannot_hold_is_a_config_error(run_stack):
    from tests.conftest import CLUSTER_CONFIG

    dask = {"workers": {"cores": 1, "memory": "4Gi", "minimum": 0, "maximum": 9}, "schedulerCpu": "500m",
            "schedulerMemory": "1Gi"}
    with pytest.raises(ConfigError) as err:
        run_stack(**{k.split(":")[1]: val for k, val in CLUSTER_CONFIG.items()}, dask=dask)
    assert "cloudviper:dask.workers.maximum: 9 workers need" in str(err.value)
    assert "maxSize is 8" in str(err.value)


@pytest.mark.parametrize("quantity, expected", [("10Gi", 10), ("1Ti", 1024), ("512Mi", 0.5), ("20G", 18.626451)])
def test_storage_quantities_in_gib(quantity, expected):
    assert storage_gib(quantity) == pytest.approx(expected)


def test_claims_are_priced_as_gp3_storage():
    prices = load_prices("us-east-1")
    gp3 = prices.fixed_price("ebs_gp3_storage")
    est = estimate([v("kubernetes:core/v1:PersistentVolumeClaim", "home", spec={"resources": {"requests": {"storage": "10Gi"}}}),
                    v("kubernetes:apps/v1:StatefulSet", "locales", spec={"replicas": 3, "volumeClaimTemplates": [
                        {"spec": {"resources": {"requests": {"storage": "200Gi"}}}}]})], prices)
    assert est.total("idle") == pytest.approx(round((10 + 600) * gp3 / HOURS_PER_MONTH, 4))
    assert est.total("idle") == est.total("max")
