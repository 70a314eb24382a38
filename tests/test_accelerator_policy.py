"""accelerated-pools: GPU types and EFA pools only in the families the policy config allows; GPU pools priced at max."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.config.errors import ConfigError
from infra.config.policy_file import validate_policy_config
from policies.pack import POLICIES, pack_specs
from policies.rules import accelerators as acc
from policies.rules import cost
from tests.policy_helpers import DEFAULT_TAGS, check_stack, res

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
GPU_TAG = "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"
EFA_TAG = "k8s.io/cluster-autoscaler/node-template/resources/vpc.amazonaws.com/efa"
HOW = "in policies/config/<stack>.json"


def pool(types=("g5.xlarge",), lt_id="lt-1", max_size=4, pct=0, tags=None):
    """An Auto Scaling group's props as the program emits them (camelCase, tags as a list)."""
    tags_ = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in DEFAULT_TAGS.items()]
    tags_ += [{"key": k, "value": v, "propagateAtLaunch": False} for k, v in (tags or {}).items()]
    return {"minSize": 0, "maxSize": max_size, "tags": tags_, "placementGroup": "pg-1", "mixedInstancesPolicy": {
        "instancesDistribution": {"onDemandBaseCapacity": 0, "onDemandPercentageAboveBaseCapacity": pct},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": lt_id, "version": "1"},
                           "overrides": [{"instanceType": t} for t in types]}}}


def efa_template(lt_id="lt-efa", instance_type=None, cards=2):
    """A launch template's props with one EFA interface per network card."""
    props = {"id": lt_id, "networkInterfaces": [
        {"interfaceType": "efa", "deviceIndex": 0 if i == 0 else 1, "networkCardIndex": i, "securityGroups": ["sg-1"],
         "deleteOnTermination": "true"} for i in range(cards)]}
    return {**props, "instanceType": instance_type} if instance_type else props


def test_the_rule_follows_instance_types_in_the_pack():
    names = [p.name for p in POLICIES]
    assert names.index("accelerated-pools") == names.index("instance-types") + 1


# -- GPU types
def test_gpu_pool_is_refused_by_default_naming_type_family_setting_and_fix():
    (msg,) = check_stack(acc.POLICY, [res(ASG, "pool-gpu-asg", pool(tags={GPU_TAG: "1"}))])
    assert msg == ("aws:autoscaling/group:Group 'pool-gpu-asg': g5.xlarge (family g5, 1 GPU) is a GPU type and "
                   f'allowedGpuFamilies is []; add "g5" to allowedGpuFamilies {HOW}')


def test_gpu_pool_is_allowed_with_its_family():
    assert check_stack(acc.POLICY, [res(ASG, "gpu", pool())], config={"allowedGpuFamilies": ["g5"]}) == []


def test_gpu_family_patterns_are_globs():
    stack = [res(ASG, "gpu", pool(types=("g6.xlarge", "g6e.xlarge", "g5.12xlarge")))]
    (msg,) = check_stack(acc.POLICY, stack, config={"allowedGpuFamilies": ["g6*"]})
    assert "g5.12xlarge (family g5, 4 GPUs)" in msg and 'allowedGpuFamilies is ["g6*"]; add "g5"' in msg
    assert check_stack(acc.POLICY, stack, config={"allowedGpuFamilies": ["g6*", "g5"]}) == []


def test_a_pool_without_gpus_is_untouched():
    assert check_stack(acc.POLICY, [res(ASG, "cpu", pool(types=("m5.large", "r5.xlarge")))]) == []


def test_a_mixed_pool_names_only_the_offending_type():
    (msg,) = check_stack(acc.POLICY, [res(ASG, "mixed", pool(types=("m5.2xlarge", "g6.2xlarge", "g5.2xlarge")))],
                         config={"allowedGpuFamilies": ["g6"]})
    assert "'mixed': g5.2xlarge (family g5, 1 GPU)" in msg and "m5" not in msg and "g6.2xlarge" not in msg


@pytest.mark.parametrize(("type_token", "props"), [
    (LT, {"instanceType": "g4dn.xlarge"}),
    ("aws:ec2/instance:Instance", {"instanceType": "g4dn.xlarge"}),
    ("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m5.large", "g4dn.xlarge"]}),
])
def test_every_resource_that_launches_a_gpu_type_is_checked(type_token, props):
    (msg,) = check_stack(acc.POLICY, [res(type_token, "x", props)])
    assert msg.startswith(f"{type_token} 'x': g4dn.xlarge (family g4dn, 1 GPU) is a GPU type")


# -- EFA pools
def efa_message(name, itype, why, allowed="[]"):
    fam = itype.split(".")[0]
    return (f"aws:autoscaling/group:Group {name!r}: {itype} (family {fam}) is in an EFA pool ({why}) and "
            f'allowedEfaFamilies is {allowed}; add "{fam}" to allowedEfaFamilies {HOW}')


def test_efa_pool_found_by_its_launch_template_id():
    stack = [res(LT, "efa-lt", efa_template("lt-efa")),
             res(ASG, "pool-efa-asg", pool(types=("c5n.18xlarge",), lt_id="lt-efa"))]
    (msg,) = check_stack(acc.POLICY, stack)
    assert msg == efa_message("pool-efa-asg", "c5n.18xlarge",
                              "launch template aws:ec2/launchTemplate:LaunchTemplate 'efa-lt' has EFA network interfaces")
    assert check_stack(acc.POLICY, stack, config={"allowedEfaFamilies": ["c5n"]}) == []


def test_efa_pool_found_by_its_tag_alone():
    stack = [res(ASG, "tagged", pool(types=("c5n.18xlarge",), lt_id="lt-elsewhere", tags={EFA_TAG: "1"}))]
    (msg,) = check_stack(acc.POLICY, stack, config={"allowedEfaFamilies": ["p5*"]})
    assert msg == efa_message("tagged", "c5n.18xlarge", f"tag {EFA_TAG} = 1", allowed='["p5*"]')
    assert check_stack(acc.POLICY, stack, config={"allowedEfaFamilies": ["c5*"]}) == []


def test_efa_pool_found_by_dependency_while_ids_are_unknown():
    # during preview neither the template's id nor the group's reference to it is known yet
    lt = res(LT, "efa-lt", efa_template(UNKNOWN_STRING_VALUE))
    group = res(ASG, "efa", pool(types=("c5n.18xlarge",), lt_id=UNKNOWN_STRING_VALUE), mixedInstancesPolicy=[lt])
    (msg,) = check_stack(acc.POLICY, [lt, group])
    assert "'efa': c5n.18xlarge (family c5n) is in an EFA pool (launch template" in msg


def test_a_pool_whose_template_has_no_efa_is_untouched():
    stack = [res(LT, "plain", {"id": "lt-1", "networkInterfaces": [{"deviceIndex": 0, "securityGroups": ["sg-1"]}]}),
             res(ASG, "cpu", pool(types=("c5n.18xlarge",), lt_id="lt-1"))]
    assert check_stack(acc.POLICY, stack) == []


def test_efa_launch_template_with_its_own_type_is_checked_directly():
    (msg,) = check_stack(acc.POLICY, [res(LT, "efa-lt", efa_template(instance_type="c5n.18xlarge"))])
    assert msg.startswith("aws:ec2/launchTemplate:LaunchTemplate 'efa-lt': c5n.18xlarge (family c5n) is in an EFA "
                          "pool (it has EFA network interfaces) and allowedEfaFamilies is []")
    # a GPU type with EFA needs both settings
    p5 = [res(LT, "efa-lt", efa_template(instance_type="p5.48xlarge"))]
    assert len(check_stack(acc.POLICY, p5, config={"allowedEfaFamilies": ["p5"]})) == 1
    assert check_stack(acc.POLICY, p5, config={"allowedEfaFamilies": ["p5"], "allowedGpuFamilies": ["p5"]}) == []


def test_top_level_launch_template_references_link_groups_and_node_groups():
    plain = res(LT, "plain", {"id": "lt-1", "instanceType": "c5n.18xlarge"})
    group = res(ASG, "tagged", {"minSize": 0, "maxSize": 2, "launchTemplate": {"id": "lt-1", "version": "$Latest"},
                                "tags": [{"key": EFA_TAG, "value": "1", "propagateAtLaunch": False}]})
    # the group has no types of its own: it launches its template's
    assert check_stack(acc.POLICY, [plain, group]) == [efa_message("tagged", "c5n.18xlarge", f"tag {EFA_TAG} = 1")]
    node_group = res("aws:eks/nodeGroup:NodeGroup", "ng", {"launchTemplate": {"id": "lt-efa", "version": "1"},
                                                          "instanceTypes": ["c5n.18xlarge"]})
    (msg,) = check_stack(acc.POLICY, [res(LT, "efa-lt", efa_template("lt-efa")), node_group])
    assert msg.startswith("aws:eks/nodeGroup:NodeGroup 'ng': c5n.18xlarge (family c5n) is in an EFA pool")


# -- config
def test_config_settings_are_validated_like_the_rest_of_the_policy_file():
    with pytest.raises(ConfigError) as info:
        validate_policy_config({"accelerated-pools": {"allowedGpuFamilies": "g5"}}, "policies/config/lab.json",
                               pack_specs())
    assert info.value.problems == ['policies/config/lab.json: accelerated-pools.allowedGpuFamilies: "g5" is not '
                                   'allowed: expected a list of strings, e.g. ["x"]']
    config = validate_policy_config({"accelerated-pools": {"allowedEfaFamilies": ["p5"]}}, "x.json", pack_specs())
    assert config.rules["accelerated-pools"] == ("mandatory", {"allowedGpuFamilies": [], "allowedEfaFamilies": ["p5"]})
    with pytest.raises(ConfigError, match=r"accelerated-pools.allowedEfaFamilies\[0\]: 5 is not allowed"):
        check_stack(acc.POLICY, [], config={"allowedEfaFamilies": [5]})


# -- max-hourly-cost prices a GPU pool at its maximum
def test_budget_prices_a_gpu_pool_at_max_size_on_demand():
    # 5 x g5.12xlarge on-demand 5.672 = 28.36, + 5 x 20 GB gp3 x 0.08/730 = 0.011 -> 28.37
    (msg,) = check_stack(cost.BUDGET, [res(ASG, "gpu-pool", pool(types=("g5.12xlarge",), max_size=5, pct=100))])
    assert "estimated $28.37/hour at maximum scale" in msg and "exceeds maxHourlyUsd $25.00" in msg
    assert "aws:autoscaling/group:Group 'gpu-pool' $28.37/h" in msg
    assert check_stack(cost.BUDGET, [res(ASG, "gpu-pool", pool(types=("g5.12xlarge",), max_size=4, pct=100))]) == []


def test_attribute_based_selection_is_judged_on_every_gpu_type_it_may_pick():
    req = {"vcpuCount": {"min": 4, "max": 8}, "memoryMib": {"min": 16384, "max": 32768}, "allowedInstanceTypes": ["g*"]}
    props = pool()
    props["mixedInstancesPolicy"]["launchTemplate"]["overrides"] = [{"instanceRequirements": req}]
    msgs = check_stack(acc.POLICY, [res(ASG, "pool", props)])
    # g4dn, g5, g6, ... types with 4-8 vCPUs and 16-32 GiB: three named, the rest summed up in one message
    assert len(msgs) == 4 and "more GPU types its instanceRequirements may pick" in msgs[-1]
    assert all(m.startswith("aws:autoscaling/group:Group 'pool': ") for m in msgs)
    props["mixedInstancesPolicy"]["launchTemplate"]["overrides"] = [
        {"instanceRequirements": {**req, "allowedInstanceTypes": ["m5.*"], "acceleratorCount": {"max": 0}}}]
    assert check_stack(acc.POLICY, [res(ASG, "pool", props)]) == []
