"""Namespace budgets admit what the stack runs at its largest, and nothing in them is refused silently.

A ResourceQuota refuses pods over it at admission: the Deployment just shows fewer ready replicas
(kubernetes.io docs, "Resource Quotas": "If creating or updating a resource violates a quota
constraint, the request will fail with HTTP status code 403 FORBIDDEN"). When a quota limits
`limits.cpu`, "every new Pod must have a CPU limit" unless a LimitRange gives a default ("Resource
Quotas" / "Limit Ranges"), so team namespaces get a default CPU limit.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.config.errors import ConfigError
from infra.config.quotas import cores
from tests.conftest import CLUSTER_CONFIG
from tests.test_cluster_rules import config, parse

QUOTA = "kubernetes:core/v1:ResourceQuota"


def hard(cap, namespace):
    (q,) = [r for r in cap.of_type(QUOTA) if r.props["metadata"]["namespace"] == namespace]
    return q.props["spec"]["hard"]


def test_dev_dask_budget_is_scheduler_operator_and_the_most_workers(stack_capture):
    # dev: scheduler 500m / 1Gi, the operator 500m / 256Mi (limits), maximum 4 workers of 1 core / 4Gi plus room
    # to replace one (a terminating pod still counts against the quota): 0.5 + 0.5 + 5 x 1 = 6 cores,
    # 1Gi + 256Mi + 5 x 4Gi = 21760Mi, 7 pods.
    h = hard(stack_capture("dev"), "dask")
    assert (h["requests.cpu"], h["limits.cpu"], h["requests.memory"], h["pods"]) == ("6", "6", "21760Mi", "7")


def test_reference_dask_budget_admits_the_32_worker_benchmark(stack_capture):
    # 32 workers + 4 to replace: 4 + 0.5 + 36 x 8 = 292.5 cores; 32Gi + 256Mi + 36 x 110Gi = 4088064Mi; 38 pods.
    # The old fixed 64 CPU quota admitted 7 workers.
    h = hard(stack_capture("reference"), "dask")
    assert (h["limits.cpu"], h["limits.memory"], h["pods"]) == ("292500m", "4088064Mi", "38")


def test_arkouda_budget_is_its_locales(stack_capture, stacks_dir):
    h = hard(stack_capture("arkouda"), "arkouda")
    ak = yaml.safe_load((stacks_dir / "Pulumi.arkouda.yaml").read_text())["config"]["cloudviper:arkouda"]
    assert cores(h["limits.cpu"]) == ak["locales"] * ak["threadsPerLocale"] and h["pods"] == str(ak["locales"])


def dask_values(**dask):
    values = config()
    values["cloudviper:dask"] = {"schedulerCpu": "500m", "schedulerMemory": "1Gi",
                                 "workers": {"cores": 1, "memory": "4Gi"}, **dask}
    return values


def test_a_configured_quota_that_cannot_admit_the_workers_is_an_error():
    with pytest.raises(ConfigError) as info:
        parse(dask_values(quota={"cpu": "4", "memory": "16Gi", "pods": 10},
                          workers={"cores": 1, "memory": "4Gi", "maximum": 8}))
    assert ("cloudviper:dask.quota: does not admit the scheduler, JupyterLab and the 8 workers of workers.maximum, "
            "with room to replace 1") in str(info.value)
    assert "cpu 10 > 4" in str(info.value)


def test_a_maximum_the_pool_cannot_hold_is_an_error():
    with pytest.raises(ConfigError) as info:
        parse(dask_values(workers={"cores": 1, "memory": "4Gi", "maximum": 9}))
    assert "cloudviper:dask.workers.maximum: 9 workers need 9 nodes of pool workers (1 per node), but its maxSize is 8" \
        in str(info.value)


def test_spill_that_no_node_can_hold_is_an_error():
    with pytest.raises(ConfigError) as info:
        parse(dask_values(workers={"cores": 1, "memory": "4Gi", "spill": "500Gi"}))
    assert "cloudviper:dask.workers.spill: \"500Gi\" of spill is more local disk than a node of pool workers offers" \
        in str(info.value)


def test_team_namespaces_default_a_cpu_limit(run_stack):
    cap = run_stack(**{k.split(":")[1]: v for k, v in copy.deepcopy(CLUSTER_CONFIG).items()},
                    namespaces=[{"name": "astro"}])
    (lr,) = cap.of_type("kubernetes:core/v1:LimitRange")
    default = lr.props["spec"]["limits"][0]["default"]
    assert default == {"cpu": "1", "memory": "4Gi"} and "limits.cpu" in hard(cap, "astro")


def test_a_new_cluster_spec_replaces_the_cluster(stack_capture):
    # The operator does not pass spec changes on to what it created (dask/dask-kubernetes#636).
    cluster = stack_capture("dev").one("kubernetes:kubernetes.dask.org/v1:DaskCluster", "dask-cluster")
    assert cluster.props["metadata"]["name"] == "dask"

