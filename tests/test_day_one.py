"""Day one: the nodes the stack's own pods need right after `pulumi up` (infra/pricing/day_one.py)."""

from __future__ import annotations

import pytest

from infra.plan.build import make_plan
from infra.pricing.cost import ResourceView
from infra.pricing.day_one import Group, day_one, pack
from infra.pricing.day_one_pods import PodSpec, effective_requests, pod_spec
from tests.conftest import stacks_project


def section(stack: str, title: str = "Cost"):
    (found,) = [s for s in make_plan(stack, stacks_project()).sections if s.title == title]
    return found.data


def group(name: str, cpu: int = 4000, mem: float = 16000, start: int = 0, most: int = 5, **labels: str) -> Group:
    return Group(name=name, labels={"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", **labels}, taints=[],
                 cpu_m=cpu, memory_mib=mem, pods=29, ephemeral_gib=50, start=start, max=most)


def test_dev_day_one_is_the_one_system_node_with_every_pod_on_it():
    # t3.medium: allocatable 1930m / 3103Mi / 17 pods (nodeadm reserves); DaemonSets aws-node 50m + kube-proxy 100m;
    # pods 500m/1Gi scheduler + 100m/600Mi autoscaler + 100m/256Mi operator + 2 x 100m/70Mi coredns + 2 x 50m/128Mi
    # NTH = 1150m / 2276Mi with the DaemonSets: one node, so day one costs what idle costs.
    cost = section("dev")
    by_group = {g["group"]: g for g in cost["dayOne"]["groups"]}
    assert by_group["pool-system-asg"]["nodes"] == 1 and by_group["pool-workers-asg"]["nodes"] == 0
    assert {"dask/dask scheduler", "coredns (EKS add-on) x2", "kube-system/cluster-autoscaler"} <= set(
        by_group["pool-system-asg"]["workloads"])
    assert cost["perHour"]["day_one"] == cost["perHour"]["idle"] == pytest.approx(0.1998, abs=1e-4)
    assert cost["dayOne"]["unplaced"] == []


def test_arkouda_day_one_runs_a_node_per_locale_and_the_server():
    # required anti-affinity per hostname between server and locales: 1 + 3 nodes of the locales pool, on-demand at
    # the dearest type (r5/r6i.2xlarge $0.504) with a 50 GB gp3 root each, on top of idle
    cost = section("arkouda")
    by_group = {g["group"]: g for g in cost["dayOne"]["groups"]}
    assert by_group["pool-locales-asg"]["nodes"] == 4
    assert {"arkouda/arkouda-locale x3", "arkouda/arkouda-server"} <= set(by_group["pool-locales-asg"]["workloads"])
    node = 0.504 + 50 * 0.08 / 730
    assert cost["perHour"]["day_one"] == pytest.approx(cost["perHour"]["idle"] + 4 * node, abs=1e-4)
    assert cost["perHour"]["idle"] < cost["perHour"]["day_one"] <= cost["perHour"]["max"]


def test_primary_needs_a_second_system_node_for_admiralty_and_cert_manager():
    by_group = {g["group"]: g for g in section("primary")["dayOne"]["groups"]}
    assert by_group["pool-system-asg"]["nodes"] == 2
    assert "admiralty-proxy-scheduler x2" in by_group["pool-system-asg"]["workloads"]


def test_taints_need_tolerations_and_selectors_pick_the_pool():
    tainted = group("gpu", start=0)
    tainted.taints = [("nvidia.com/gpu", "true", "NoSchedule")]
    plain = group("cpu", start=0)
    pod = PodSpec("job", cpu_m=1000, memory_mib=1000)
    tolerant = PodSpec("gpu-job", cpu_m=1000, memory_mib=1000, node_selector={"cloudviper.io/pool": "gpu"},
                       tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    tainted.labels["cloudviper.io/pool"] = "gpu"
    result = pack([tainted, plain], [pod, tolerant], [])
    assert result.count("gpu") == 1 and result.count("cpu") == 1
    assert [p.workload for p in result.nodes["gpu"][0].pods] == ["gpu-job"]


def test_required_anti_affinity_opens_a_node_per_pod_and_stops_at_max_size():
    anti = {"matchLabels": {"app": "locale"}}
    pods = [PodSpec(f"locale-{i}", labels={"app": "locale"}, cpu_m=100, memory_mib=100, anti=[anti]) for i in range(3)]
    result = pack([group("locales", most=2)], pods, [])
    assert result.count("locales") == 2
    ((pod, why),) = result.unplaced
    assert pod.workload == "locale-2"  # biggest first, then by name: the last one waits
    assert "every matching group is at maxSize (locales)" in why


def test_least_waste_picks_the_group_that_leaves_least_idle():
    # a 3-core / 12 GiB pod: the 4-core / 16 GiB group wastes less than the 16-core / 64 GiB one
    small, big = group("small", cpu=3900, mem=15000), group("big", cpu=15800, mem=62000)
    result = pack([big, small], [PodSpec("w", cpu_m=3000, memory_mib=12288)], [])
    assert result.count("small") == 1 and result.count("big") == 0


def test_daemonsets_take_their_share_of_every_node_first():
    daemon = PodSpec("agent", cpu_m=500, memory_mib=100, tolerations=[{"operator": "Exists"}])
    result = pack([group("g", cpu=2000, start=1)], [PodSpec("a", cpu_m=1000), PodSpec("b", cpu_m=1000)], [daemon])
    assert result.count("g") == 2  # 500m + 1000m fits, a second 1000m does not


def test_effective_request_counts_sidecars_and_the_biggest_init_container():
    # kubernetes.io/docs/concepts/resource-management/effective-pod-requests-limits: app 100m + sidecar 50m = 150m;
    # the 400m init container starts after the sidecar, so it needs 450m: that is the pod's request
    spec = {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}}],
            "initContainers": [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}},
                               {"resources": {"requests": {"cpu": "400m", "memory": "128Mi"}}}]}
    assert effective_requests(spec) == (450.0, 1024 + 64, 0.0)


def test_groups_are_read_from_the_autoscaler_template_tags():
    tags = [{"key": "k8s.io/cluster-autoscaler/node-template/resources/cpu", "value": "1930m"},
            {"key": "k8s.io/cluster-autoscaler/node-template/resources/memory", "value": "3103Mi"},
            {"key": "k8s.io/cluster-autoscaler/node-template/resources/pods", "value": "17"},
            {"key": "k8s.io/cluster-autoscaler/node-template/label/cloudviper.io/pool", "value": "system"},
            {"key": "k8s.io/cluster-autoscaler/node-template/taint/dedicated", "value": "system:NoSchedule"}]
    asg = ResourceView("aws:autoscaling/group:Group", "sys", "urn:sys", {"minSize": 1, "maxSize": 2, "tags": tags})
    pod = pod_spec("x", {"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}],
                                  "nodeSelector": {"cloudviper.io/pool": "system"}}}, "default")
    deploy = ResourceView("kubernetes:apps/v1:Deployment", "d", "urn:d",
                          {"metadata": {"name": "x"}, "spec": {"replicas": 1, "template": pod_template(pod)}})
    result = day_one([asg, deploy], {"sys": ["t3.medium"]})
    assert result.count("sys") == 1 and result.unplaced and "taints" in result.unplaced[0][1]  # no toleration


def pod_template(pod: PodSpec) -> dict:
    return {"spec": {"containers": [{"resources": {"requests": {"cpu": f"{int(pod.cpu_m)}m"}}}],
                     "nodeSelector": pod.node_selector}}


def test_add_on_and_chart_pods_are_the_upstream_defaults():
    from infra.documents.admiralty import chart_values
    from infra.pricing.node_pods import EKS_ADDON_PODS, chart_pods

    # eksctl-io/eksctl pkg/addons/default/assets/coredns-1.33.json (@99984adb): 2 replicas, 100m / 70Mi
    coredns = EKS_ADDON_PODS["coredns"]
    assert coredns.replicas == 2 and effective_requests(coredns.pod["spec"])[:2] == (100, 70)
    # kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver values.yaml + templates/controller.yaml (2.64.0):
    # replicaCount 2; five containers at controller.resources 10m/40Mi, liveness-probe 10m/32Mi
    ebs = EKS_ADDON_PODS["aws-ebs-csi-driver"]
    assert ebs.replicas == 2 and effective_requests(ebs.pod["spec"])[:2] == (60, 5 * 40 + 32)
    # cert-manager v1.16.2 values.yaml: three Deployments of one replica; only the controller gets `resources`
    parts = chart_pods("cert-manager", {"resources": {"requests": {"cpu": "50m", "memory": "128Mi"}}}, "cert-manager")
    assert [(p.workload, p.replicas, effective_requests(p.pod["spec"])[0]) for p in parts] == [
        ("cert-manager", 1, 50), ("cert-manager-webhook", 1, 0), ("cert-manager-cainjector", 1, 0)]
    # admiraltyio/admiralty v0.17.0 charts/multicluster-scheduler/templates/deploy.yaml: controller-manager
    # (controllerManager.replicas 2), proxy- and candidate-scheduler and restarter (all scheduler.replicas 2)
    pods = chart_pods("oci://public.ecr.aws/admiralty/admiralty", chart_values(True, []), "admiralty")
    assert sum(p.replicas for p in pods) == 8
    assert {effective_requests(p.pod["spec"])[:2] for p in pods} == {(100, 128)}
