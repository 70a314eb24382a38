"""Config validation: every bad value names its key path, the value, and what is allowed."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config.errors import ConfigError
from infra.config.loader import SECTIONS, parse_stack_config
from infra.config.stack import StackConfig
from tests.conftest import BASE_CONFIG, stack_file


def parse(values: dict[str, Any]) -> StackConfig:
    return parse_stack_config("cloudviper", "test", values)


def with_key(key: str, value: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE_CONFIG)
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    return values


def test_dev_stack_config_loads():
    stack = stack_file("dev")
    cfg = parse_stack_config(stack.project, "dev", stack.values)
    assert cfg.region == "us-east-1"
    assert cfg.network.zone_count == 2
    assert cfg.network.nat_strategy == "single"
    assert [b.name for b in cfg.buckets] == ["data"]
    assert cfg.buckets[0].allow_destroy is False


def test_defaults_are_the_safe_choice():
    cfg = parse(with_key("cloudviper:buckets", [{"name": "raw"}]))
    bucket = cfg.buckets[0]
    assert (bucket.encryption, bucket.versioning, bucket.allow_destroy) == ("kms", True, False)
    assert cfg.network.flow_logs is False and cfg.network.nat_strategy == "single"


BAD_VALUES = [
    ("cloudviper:network", {"cidr": "10.0.0.0/33"}, 'cloudviper:network.cidr: "10.0.0.0/33" is not a valid IPv4 network'),
    ("cloudviper:network", {"cidr": "10.0.0.1/16"}, 'cloudviper:network.cidr: "10.0.0.1/16" has host bits set'),
    ("cloudviper:network", {"cidr": "10.0.0.0/24"}, 'cloudviper:network.cidr: "10.0.0.0/24" must have a prefix from /16 to /22'),
    ("cloudviper:network", {"cidr": "8.8.0.0/16"}, 'cloudviper:network.cidr: "8.8.0.0/16" is not a private range'),
    ("cloudviper:network", {"azCount": 7}, "cloudviper:network.azCount: 7 is not allowed: expected less than or equal to 6"),
    ("cloudviper:network", {"azCount": "two"}, 'cloudviper:network.azCount: "two" is not allowed: expected a whole number'),
    ("cloudviper:network", {"azCount": 2, "azs": ["us-east-1a"]}, "cloudviper:network: "),
    ("cloudviper:network", {"azs": ["us-west-2a"]}, 'cloudviper:network.azs[0]: "us-west-2a" is not a zone of region us-east-1'),
    ("cloudviper:network", {"azs": ["us-east-1a", "us-east-1a"]}, "cloudviper:network.azs: "),
    ("cloudviper:network", {"natStrategy": "two"}, "cloudviper:network.natStrategy: \"two\" is not allowed: expected 'none', 'single' or 'per-az'"),
    ("cloudviper:network", {"flowLogs": "sometimes"}, 'cloudviper:network.flowLogs: "sometimes" is not allowed: expected true or false'),
    ("cloudviper:network", {"cidrBlock": "10.0.0.0/16"}, 'cloudviper:network.cidrBlock: unknown key; did you mean "cidr"? allowed keys: azCount, azs, cidr'),
    ("cloudviper:network", ["10.0.0.0/16"], "cloudviper:network: [\"10.0.0.0/16\"] is not allowed: expected a map"),
    ("cloudviper:tags", {"owner": "x"}, "cloudviper:tags.costCenter is required"),
    ("cloudviper:tags", None, "cloudviper:tags is required"),
    ("cloudviper:tags", {"owner": "x", "costCenter": "y", "extra": {"aws:foo": "1"}}, "cloudviper:tags.extra: "),
    ("cloudviper:tags", {"owner": "x", "costCenter": "y", "extra": {"stack": "1"}}, "is set by cloudviper"),
    ("cloudviper:tags", {"owner": "x<y", "costCenter": "y"}, 'cloudviper:tags.owner: "x<y" has characters AWS does not accept'),
    ("cloudviper:buckets", {"name": "raw"}, 'cloudviper:buckets: {"name": "raw"} is not allowed: expected a list'),
    ("cloudviper:buckets", [{"name": "Raw"}], 'cloudviper:buckets[Raw].name: "Raw" must be 1-32 lowercase letters'),
    ("cloudviper:buckets", [{"name": "a"}, {"name": "a"}], 'cloudviper:buckets[1].name: "a" is already used by buckets[0]'),
    ("cloudviper:buckets", [{"name": "a", "encryption": "aes"}], "cloudviper:buckets[a].encryption: \"aes\" is not allowed: expected 'kms' or 's3'"),
    ("cloudviper:buckets", [{"name": "a", "bucketName": "Not_Valid"}], 'cloudviper:buckets[a].bucketName: "Not_Valid" is not a valid S3 bucket name'),
    ("cloudviper:buckets", [{"name": "a", "lifecycle": {"glacierIrAfterDays": 90, "expireAfterDays": 30}}],
     "cloudviper:buckets[a].lifecycle: "),
    ("cloudviper:buckets", [{"name": "a", "lifecycle": {"expireAfterDays": 0}}],
     "cloudviper:buckets[a].lifecycle.expireAfterDays: 0 is not allowed: expected greater than or equal to 1"),
    ("cloudviper:buckets", [{"name": "a", "allowDestory": True}], 'cloudviper:buckets[a].allowDestory: unknown key; did you mean "allowDestroy"? allowed keys: allowDestroy'),
    ("cloudviper:netwrok", {}, 'cloudviper:netwrok: unknown key; did you mean "cloudviper:network"? allowed keys: cloudviper:arkouda'),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["m5.large", "m5.xlarge"], "maxSize": 2}],
     'cloudviper:nodeGroups[w].instanceTypes: ["m5.large", "m5.xlarge"] mixes shapes (m5.large 2 vCPU/8 GiB, m5.xlarge 4 vCPU/16 GiB)'),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["m5.metal"], "maxSize": 2, "disableSmt": True}],
     "disableSmt cannot be used with bare-metal types (m5.metal)"),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["m5.large"], "minSize": 3, "maxSize": 2}],
     "minSize (3) is larger than maxSize (2)"),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["m5.lrge"], "maxSize": 2}],
     "cloudviper:nodeGroups[w].instanceTypes: [\"m5.lrge\"] instance type 'm5.lrge' is not in the us-east-1 price table"),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["m6g.large", "m5.large"], "maxSize": 2}], "mixes"),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["g5.xlarge"], "maxSize": 2}], "set gpu: true"),
    ("cloudviper:nodeGroups", [{"name": "w", "instanceTypes": ["m5.large"], "maxSize": 2}], "node groups need a cluster"),
    ("cloudviper:cluster", {}, "cloudviper:cluster: {} endpointPublicAccess needs publicAccessCidrs"),
    ("cloudviper:cluster", {"publicAccessCidrs": ["0.0.0.0/0"]}, "0.0.0.0/0 opens the API to the whole internet"),
    ("cloudviper:cluster", {"publicAccessCidrs": ["192.0.2.0/24"], "version": "1.29"}, "cloudviper:cluster.version: \"1.29\" is not allowed: expected '1.31'"),
    ("cloudviper:cluster", {"publicAccessCidrs": ["192.0.2.0/24"], "admins": ["alice"]}, "'alice' is not an IAM role or user ARN"),
    ("cloudviper:cluster", {"publicAccessCidrs": ["192.0.2.0/24"]}, "needs a node group with role: system and minSize >= 1"),
    ("cloudviper:namespaces", [{"name": "kube-system"}], 'cloudviper:namespaces[kube-system].name: "kube-system" is a system namespace'),
    ("cloudviper:namespaces", [{"name": "a", "quota": {"cpu": "lots"}}], 'cloudviper:namespaces[a].quota.cpu: "lots" is not a Kubernetes quantity'),
    ("cloudviper:namespaces", [{"name": "a", "podSecurityWarn": "baseline"}],
     "podSecurityWarn 'baseline' is looser than podSecurity 'restricted', so it would warn about nothing"),
    ("cloudviper:rbac", {"namespaceAccess": [{"namespace": "x", "group": "g", "user": "u"}]}, "set exactly one of group or user"),
    ("cloudviper:rbac", {"jobRobots": [{"name": "bot", "namespace": "nowhere"}]},
     'cloudviper:rbac.jobRobots[bot].namespace: "nowhere" is not a namespace of this stack'),
    ("cloudviper:secrets", [{"name": "s", "namespace": "x", "type": "kubernetes.io/dockerconfigjson", "values": {"a": "b"}}],
     "exactly one key: .dockerconfigjson"),
    ("cloudviper:dask", {}, "cloudviper:dask: Dask needs a cluster"),
    ("aws:region", "us-east", 'aws:region: "us-east" is not an AWS region; did you mean "us-east-2"?'),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_VALUES)
def test_bad_value_names_key_path_value_and_allowed(key, value, message):
    with pytest.raises(ConfigError) as info:
        parse(with_key(key, value))
    assert message in str(info.value)
    assert "Traceback" not in str(info.value)


def test_lifecycle_order_message_explains():
    with pytest.raises(ConfigError) as info:
        parse(with_key("cloudviper:buckets", [{"name": "a", "lifecycle": {"glacierIrAfterDays": 90, "expireAfterDays": 30}}]))
    assert "expireAfterDays (30) must be later than glacierIrAfterDays (90)" in str(info.value)


def test_every_problem_is_reported_at_once():
    values = with_key("cloudviper:network", {"cidr": "x", "natStrategy": "all"})
    values["cloudviper:buckets"] = [{"name": "OK"}]
    with pytest.raises(ConfigError) as info:
        parse(values)
    assert len(info.value.problems) == 3


def test_config_error_is_a_pulumi_run_error():
    # The Pulumi CLI prints a RunError's message without a Python traceback.
    assert issubclass(ConfigError, pulumi.RunError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Objects shaped like the real sections, so the fuzzer reaches the field validators too.
section_like = st.fixed_dictionaries(
    {},
    optional={
        "cidr": json_values | st.sampled_from(["10.0.0.0/16", "10.0.0.0/8", "192.168.0.0/22"]),
        "azCount": json_values, "azs": json_values, "natStrategy": json_values, "flowLogs": json_values,
        "owner": json_values, "costCenter": json_values, "extra": json_values, "name": json_values,
        "lifecycle": json_values, "encryption": json_values, "instanceTypes": json_values, "maxSize": json_values,
        "publicAccessCidrs": json_values, "version": json_values, "taints": json_values, "labels": json_values,
    },
)


@pytest.mark.parametrize("section", sorted(SECTIONS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values | section_like | st.lists(section_like, max_size=3))
def test_arbitrary_json_gives_a_model_or_a_config_error(section, value):
    values = with_key(f"cloudviper:{section}", value)
    try:
        cfg = parse(values)
    except ConfigError as exc:
        assert f"cloudviper:{section}" in str(exc)
    else:
        assert isinstance(cfg, StackConfig)
        json.dumps(cfg.model_dump(by_alias=True))


def test_stack_name_that_makes_an_invalid_default_bucket_name_is_rejected():
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "Prod", BASE_CONFIG)
    assert "cloudviper:buckets[raw]: the default bucket name cloudviper-Prod-raw-<account id>" in str(info.value)
    assert "set bucketName" in str(info.value)
    custom = copy.deepcopy(BASE_CONFIG)
    custom["cloudviper:buckets"] = [{"name": "raw", "bucketName": "my-lab-raw-data"}]
    assert parse_stack_config("cloudviper", "Prod", custom).buckets[0].bucket_name == "my-lab-raw-data"


def test_service_range_must_not_overlap_the_vpc():
    values = with_key("cloudviper:network", {"cidr": "172.20.0.0/16"})
    values["cloudviper:cluster"] = {"publicAccessCidrs": ["192.0.2.0/24"]}
    values["cloudviper:nodeGroups"] = [{"name": "s", "role": "system", "instanceTypes": ["t3.medium"], "minSize": 1, "maxSize": 1}]
    with pytest.raises(ConfigError, match=r"serviceCidr: \"172\.20\.0\.0/16\" overlaps the VPC range"):
        parse(values)


def test_reference_stack_reaches_256_threads_and_2_tb():
    from infra.pricing.tables import load_prices

    stack = stack_file("reference")
    cfg = parse_stack_config(stack.project, "reference", stack.values)
    workers = [g for g in cfg.node_groups if g.role == "worker"]
    table = load_prices()
    threads = sum(g.max_size * min(table.instance(t).vcpu // (2 if g.disable_smt else 1) for t in g.instance_types)
                  for g in workers)
    memory = sum(g.max_size * min(table.instance(t).memory_gib for t in g.instance_types) for g in workers)
    assert sum(g.max_size for g in workers) == 32 and threads >= 256 and memory > 2048
    (scheduler,) = [g for g in cfg.node_groups if g.role == "scheduler"]
    assert scheduler.instance_types == ["m5dn.4xlarge"] and not scheduler.spot and scheduler.max_size == 1


def cluster_values(**dask):
    values = copy.deepcopy(BASE_CONFIG)
    from tests.conftest import CLUSTER_CONFIG

    values.update(copy.deepcopy(CLUSTER_CONFIG))
    values["cloudviper:dask"] = {"workers": {"cores": 1, "memory": "4Gi"}, **dask}
    return values


@pytest.mark.parametrize(("dask", "message"), [
    ({"workers": {"cores": 8}}, "cloudviper:dask.workers: 8 cores / 8Gi does not fit a node of pool workers"),
    ({"workers": {"cores": 2}}, "cloudviper:dask.workers: 2 cores / 8Gi does not fit a node of pool workers (about 1.78 cores"),
    ({"workers": {"cores": 2, "cpuRequest": "3"}}, 'cloudviper:dask.workers.cpuRequest: "3" is more than cores (2)'),
    ({"workers": {"pool": "nope"}}, 'cloudviper:dask.workers.pool: "nope" is not a node group; groups: system, workers, gpu'),
    ({"schedulerPool": "workers"}, "cloudviper:dask.schedulerPool: pool workers is spot; the scheduler needs a pool with spot: false"),
    ({"schedulerMemory": "64Gi"}, "the scheduler need 1 CPU / 64.0 GiB, more than a node of pool system offers"),
    ({"jupyter": {"enabled": True}, "schedulerMemory": "1Gi"}, 'cloudviper:dask.jupyter.tokenSecretValue: "jupyterToken" is not in cloudviper:secretValues'),
    ({"workers": {"replicas": 3}}, "replicas (3) is gone: workers are adaptive now; set minimum"),
    ({"workers": {"minimum": 3, "maximum": 2}}, "minimum (3) is larger than maximum (2)"),
    ({"workers": {"cores": 1, "memory": "4Gi", "spill": "900Gi"}},
     'cloudviper:dask.workers.spill: "900Gi" of spill is more local disk than a node of pool workers offers'),
    ({"clientNamespaces": ["astro"]}, 'cloudviper:dask.clientNamespaces[0]: "astro" is not a namespace of cloudviper:namespaces'),
    ({"users": [{"group": "a", "user": "b"}]}, "set exactly one of group or user"),
    # a bare number is bytes to Kubernetes: refused, as is a spill too small to hold anything
    ({"workers": {"cores": 1, "memory": "4Gi", "spill": "100"}}, 'cloudviper:dask.workers.spill: "100" needs a unit'),
    ({"workers": {"cores": 1, "memory": "4Gi", "spill": "0"}}, 'cloudviper:dask.workers.spill: "0" needs a unit'),
    ({"workers": {"cores": 1, "memory": "4Gi", "spill": "512Mi"}}, 'cloudviper:dask.workers.spill: "512Mi" is less than 1Gi'),
    ({"workers": {"cores": 1, "memory": "8"}}, 'cloudviper:dask.workers.memory: "8" needs a unit'),
    ({"jupyter": {"home": "5"}}, 'cloudviper:dask.jupyter.home: "5" needs a unit'),
])
def test_dask_placement_errors(dask, message):
    with pytest.raises(ConfigError) as info:
        parse(cluster_values(**dask))
    assert message in str(info.value)


def test_names_used_twice_are_named_with_both_positions():
    values = with_key("cloudviper:namespaces", [{"name": "astro"}, {"name": "bio"}, {"name": "astro"}])
    with pytest.raises(ConfigError, match=r'cloudviper:namespaces\[2\]\.name: "astro" is already used by namespaces\[0\]'):
        parse(values)
