"""Node pools on a real account: zones, scale-from-zero templates, refresh, credits, and the autoscaler's flags.

Sources: kubernetes/autoscaler @cluster-autoscaler-1.35.2: cloudprovider/aws/README.md (node-template
resources tags: "The units are identical to the units used in the resources field of a Pod specification";
"you can either suspend the AZRebalance feature"; one ASG per AZ for EBS-backed workloads with
--balance-similar-node-groups), cloudprovider/aws/aws_manager.go buildNodeFromTemplate (capacity from the
instance type's default vCPUs and whole memory unless a resources tag overrides it),
processors/nodegroupset/aws_nodegroups.go (zone labels ignored when balancing), config/flags/flags.go
(--skip-nodes-with-local-storage defaults to true: "never delete nodes with pods with local storage, e.g. EmptyDir"),
expander/priority/priority.go (ConfigMap cluster-autoscaler-priority-expander, key `priorities`, map of int to
regexes matched against the ASG name), cluster-autoscaler-1.36.1 examples/cluster-autoscaler-autodiscover.yaml
(resource.k8s.io rule). pulumi_aws 7.51.1 docstrings: autoscaling.Group instance_refresh ("A refresh will not start
when version = "$Latest" is configured"), ssm.get_parameter `insecure_value` ("never marked as sensitive") vs
`value` ("always marked as sensitive"), ec2.LaunchTemplate credit_specification ("T3 instances are launched as
unlimited by default").
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from infra.config.capacity import node_capacity
from infra.plan.secret_values import secret_paths
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, run_config

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def capture_with(**pool_changes: dict[str, Any]) -> Any:
    values = copy.deepcopy({**BASE_CONFIG, **CLUSTER_CONFIG})
    for pool in values["cloudviper:nodeGroups"]:
        pool.update(pool_changes.get(pool["name"], {}))
    if "cluster" in pool_changes:
        values["cloudviper:cluster"].update(pool_changes["cluster"])
    return run_config(values, stack="pools")


def tags(asg: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in asg.props["tags"]}


def test_scale_from_zero_templates_carry_what_a_node_really_holds(cluster_capture):
    from infra.config.loader import parse_stack_config

    cfg = parse_stack_config("cloudviper", "test", {**BASE_CONFIG, **CLUSTER_CONFIG})
    for pool in cfg.node_groups:
        t = tags(cluster_capture.one(ASG, f"pool-{pool.name}-asg"))
        cap = node_capacity(pool)
        prefix = "k8s.io/cluster-autoscaler/node-template/resources/"
        assert t[prefix + "cpu"] == f"{cap.cpu_m}m" and t[prefix + "memory"] == f"{cap.memory_mib}Mi"
        assert t[prefix + "pods"] == str(cap.pods)
    workers = tags(cluster_capture.one(ASG, "pool-workers-asg"))
    # m5.xlarge with SMT off: 2 cores online, not the 4 vCPUs the autoscaler would read from the type
    assert workers["k8s.io/cluster-autoscaler/node-template/resources/cpu"] == "1930m"


def test_groups_suspend_az_rebalance_and_pin_the_template_version(cluster_capture):
    for asg in cluster_capture.of_type(ASG):
        assert asg.props["suspendedProcesses"] == ["AZRebalance"]
        spec = asg.props["mixedInstancesPolicy"]["launchTemplate"]["launchTemplateSpecification"]
        lt = cluster_capture.one(LT, asg.name.removesuffix("-asg") + "-lt")
        assert spec["version"] == str(lt.outputs["latestVersion"]) == "1"  # not "$Latest"
        assert "instanceRefresh" not in asg.props  # opt-in


def test_instance_refresh_when_asked():
    cap = capture_with(workers={"instanceRefresh": True})
    refresh = cap.one(ASG, "pool-workers-asg").props["instanceRefresh"]
    assert refresh == {"strategy": "Rolling", "preferences": {"minHealthyPercentage": 100, "maxHealthyPercentage": 200}}
    assert "instanceRefresh" not in cap.one(ASG, "pool-system-asg").props


def test_the_ami_id_is_not_a_secret(cluster_capture):
    for lt in cluster_capture.of_type(LT):
        assert "imageId" not in secret_paths(lt.inputs) and lt.props["imageId"].startswith("ami-")


def test_burstable_pools_run_in_standard_credit_mode():
    cap = capture_with(system={"instanceTypes": ["t3.medium"]})
    assert cap.one(LT, "pool-system-lt").props["creditSpecification"] == {"cpuCredits": "standard"}
    assert "creditSpecification" not in cap.one(LT, "pool-workers-lt").props


def test_per_zone_pools_are_one_group_per_zone_balanced_by_the_autoscaler():
    cap = capture_with(workers={"perZone": True, "maxSize": 8, "onDemandBase": 1})
    groups = sorted((a for a in cap.of_type(ASG) if a.name.startswith("pool-workers-")), key=lambda a: a.name)
    assert [g.props["name"] for g in groups] == [f"cloudviper-pools-workers-z{i}" for i in range(3)]
    assert [g.props["maxSize"] for g in groups] == [3, 3, 2] and sum(g.props["maxSize"] for g in groups) == 8
    assert [g.props["mixedInstancesPolicy"]["instancesDistribution"]["onDemandBaseCapacity"] for g in groups] == [1, 0, 0]
    subnets = [g.props["vpcZoneIdentifiers"] for g in groups]
    assert all(len(s) == 1 for s in subnets) and len({s[0] for s in subnets}) == 3
    # same labels (zone labels are ignored when balancing), so the autoscaler treats them as one pool
    labels = [{k: v for k, v in tags(g).items() if "/label/" in k} for g in groups]
    assert labels[0] == labels[1] == labels[2]
    hooks = {h.props["autoscalingGroupName"] for h in cap.of_type("aws:autoscaling/lifecycleHook:LifecycleHook")}
    assert {g.props["name"] for g in groups} <= hooks
    assert cap.outputs["nodeGroups"].value["workers"] == [g.props["name"] for g in groups]


def test_a_single_zone_pool_uses_that_zones_subnet_only():
    cap = capture_with(workers={"zones": ["us-east-1b"]})
    (subnet,) = cap.one(ASG, "pool-workers-asg").props["vpcZoneIdentifiers"]
    private = cap.of_type("aws:ec2/subnet:Subnet")
    zone_b = next(s for s in private if s.name.endswith("private-z1"))
    assert subnet == zone_b.outputs["id"]


def autoscaler(cap: Any) -> dict[str, Any]:
    (c,) = cap.one("kubernetes:apps/v1:Deployment", "autoscaler-deploy").props["spec"]["template"]["spec"]["containers"]
    return c


def test_autoscaler_flags_image_and_rbac(cluster_capture):
    c = autoscaler(cluster_capture)
    assert "--skip-nodes-with-local-storage=false" in c["args"]  # Dask pods use emptyDir
    assert c["image"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2"
    assert {"name": "AWS_REGION", "value": "us-east-1"} in c["env"]  # no IMDS for the region (hop limit 1)
    rules = cluster_capture.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "autoscaler-cr").props["rules"]
    assert {"apiGroups": ["resource.k8s.io"], "resources": ["deviceclasses", "resourceslices", "resourceclaims"],
            "verbs": ["watch", "list", "get"]} in rules
    assert not cluster_capture.of_type("kubernetes:core/v1:ConfigMap")


def test_the_priority_expander_gets_its_configmap():
    cap = capture_with(cluster={"autoscaler": {"expander": "priority", "priorities": {"50": ["workers"], "10": ["gpu"]}}})
    (cm,) = cap.of_type("kubernetes:core/v1:ConfigMap")
    assert cm.props["metadata"]["name"] == "cluster-autoscaler-priority-expander"
    assert cm.props["metadata"]["namespace"] == "kube-system"
    assert yaml.safe_load(cm.props["data"]["priorities"]) == {50: ["^cloudviper\\-pools\\-workers$"],
                                                              10: ["^cloudviper\\-pools\\-gpu$"]}
    assert "--expander=priority" in autoscaler(cap)["args"]
