"""GPU and EFA pools, their device plugins and the GPU Dask cluster, against upstream facts.

Sources:
- NVIDIA/k8s-device-plugin v0.20.0 (commit 1b826acc) deployments/static/nvidia-device-plugin.yml: image
  nvcr.io/nvidia/k8s-device-plugin:v0.20.0, toleration {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule},
  priorityClassName system-node-critical, allowPrivilegeEscalation false, capabilities drop ALL, hostPath
  /var/lib/kubelet/device-plugins; no node selector (and since v0.18.0 FAIL_ON_INIT_ERROR defaults to true, so it
  fails on a node without GPUs: we place it on the GPU pools only).
- awslabs/amazon-eks-ami v20260724: no device plugin in the AL2023 NVIDIA AMI; nodeadm
  internal/containerd/runtime_config_nvidia.go makes `nvidia` containerd's default runtime (no RuntimeClass needed).
  EKS user guide ml-eks-optimized-ami: "do not include the NVIDIA Kubernetes device plugin".
- kubernetes/autoscaler cluster-autoscaler-1.36.1 cloudprovider/aws: aws_cloud_provider.go
  `GPULabel = "k8s.amazonaws.com/accelerator"` (processors/customresources/gpu_processor.go: a node with the label
  but no allocatable GPU is unready, so no second scale-up while the device plugin starts); aws_manager.go
  extractAllocatableResourcesFromAsg reads node-template/resources/<name> tags (so resources/nvidia.com/gpu),
  extractTaintsFromAsg node-template/taint/<key> = value:effect; README "Special note on GPU instances".
- EKS user guide platform-versions: ExtendedResourceToleration is enabled; ml-node-pools and the EKS best
  practices (aiml_compute) taint GPU nodes nvidia.com/gpu.
- aws/eks-charts stable/aws-efa-k8s-device-plugin v0.5.30 (@bfe91c4b): image
  602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20, privileged, hostNetwork,
  hostPaths device-plugins, /dev/infiniband, /opt/aws/neuron; resource vpc.amazonaws.com/efa.
- EFA: EC2 user guide create-efa (security group allowing all traffic to and from itself); botocore ec2 model
  (SecurityGroupIds: "If you specify a network interface, you must specify any security groups as part of the network
  interface"; NetworkCardIndex: "The primary network interface must be assigned to network card index 0");
  eksctl pkg/cfn/builder/network_interfaces.go (card 0 device 0, further cards device index 1); botocore
  autoscaling PlacementGroup ("You cannot specify multiple Availability Zones and a cluster placement group").
- GPU and EFA facts: EC2 DescribeInstanceTypes GpuInfo / NetworkInfo.EfaInfo (moto's snapshot, instance-facts.csv).
- GPU Dask: rapidsai/docker v26.04.00 README (tag form `${RAPIDS_VER}-cuda${CUDA_MAJOR}-py${PYTHON_VER}`), matrix.yaml
  (CUDA 12.9.1, Python 3.11-3.14), Dockerfile (`groupadd conda`, /opt/conda root:conda 770, `useradd -g conda -u 1001
  rapids`); rapids-dask-dependency 26.4.0 (dask/distributed 2026.1.1, the Dask image's); rapidsai/dask-cuda v26.04.00
  dask_cuda/cli.py (`dask cuda worker [SCHEDULER]`, --name kept with one GPU, --listen-address/--contact-address from
  #1618, --rmm-pool-size) and device_host_file.py (--memory-limit is the host cache, spilled to disk when full);
  dask-kubernetes 2026.3.0 controller.py daskautoscaler_adapt (only `<cluster>-default` is scaled; #914).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.config.capacity import node_capacity
from infra.config.loader import parse_stack_config
from infra.config.pools import NodeGroupConfig
from infra.config.stackfile import load_stack_file
from infra.documents.accelerators import efa_device_plugin, nvidia_device_plugin
from infra.documents.crd import validate_custom_resource
from infra.pricing.day_one import Node, group_from
from infra.pricing.day_one_pods import daemonset_specs, pod_spec
from infra.pricing.instance_facts import read_facts

ASG, LT = "aws:autoscaling/group:Group", "aws:ec2/launchTemplate:LaunchTemplate"
TEMPLATE = "k8s.io/cluster-autoscaler/node-template/"
DS = "kubernetes:apps/v1:DaemonSet"
DASK = "kubernetes:kubernetes.dask.org/v1:"


def pool(**changes: Any) -> NodeGroupConfig:
    return NodeGroupConfig.model_validate({"name": "gpu", "maxSize": 2, "instanceTypes": ["g5.xlarge"], "gpu": True,
                                           **changes})


def tags(asg: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in asg.props["tags"]}


def test_gpu_and_efa_facts_come_from_describe_instance_types():
    facts = read_facts()
    assert (facts["g5.xlarge"].gpu_manufacturer, facts["g5.xlarge"].gpu_name, facts["g5.xlarge"].gpu_memory_mib) == (
        "NVIDIA", "A10G", 22888)
    assert (facts["p5.48xlarge"].gpu_name, facts["p5.48xlarge"].efa_interfaces, facts["p5.48xlarge"].network_cards) == (
        "H100", 32, 32)
    assert facts["g6.12xlarge"].efa_interfaces == 1 and facts["g5.xlarge"].efa_interfaces == 0
    assert facts["c5n.18xlarge"].gpu_manufacturer == "" and facts["c5n.18xlarge"].efa_interfaces == 1


def test_gpu_pools_are_tainted_labelled_and_templated_by_default():
    p = pool()
    assert [(t.key, t.value, t.effect) for t in p.all_taints] == [("nvidia.com/gpu", "true", "NoSchedule")]
    assert p.all_labels["k8s.amazonaws.com/accelerator"] == "nvidia-a10g"
    assert pool(instanceTypes=["g5.2xlarge", "g6.2xlarge"]).accelerator == "nvidia"  # models differ
    assert pool(gpuTaint=False).all_taints == []
    # a GPU worker pool is for whatever asks for GPUs: no Dask worker taint
    assert [t.key for t in pool(role="worker").all_taints] == ["nvidia.com/gpu"]
    assert node_capacity(pool()).gpus == 1 and node_capacity(pool(instanceTypes=["g5.12xlarge"])).gpus == 4


@pytest.mark.parametrize(("changes", "message"), [
    ({"instanceTypes": ["g4ad.xlarge"]}, "GPU make is unknown"),  # AMD, not in the facts
    ({"instanceTypes": ["g5.xlarge", "g5.12xlarge"]}, "mixes shapes"),
    ({"instanceTypes": ["g6.12xlarge"], "efa": True}, "needs exactly one zone"),
    ({"instanceTypes": ["g5.xlarge"], "efa": True, "zones": ["us-east-1a"]}, "do not support EFA"),
    ({"instanceTypes": ["m5.xlarge"], "gpu": False, "placementGroup": True, "zones": ["a", "b"]}, "exactly one zone"),
    ({"instanceTypes": ["m5.xlarge"]}, "gpu: true needs GPU instance types"),
])
def test_bad_accelerated_pools_are_refused(changes, message):
    with pytest.raises(ValidationError, match=message):
        pool(**changes)


def test_the_nvidia_device_plugin_runs_only_on_gpu_pools_and_tolerates_their_taints():
    gpu, team = pool(), pool(name="team", taints=[{"key": "team", "value": "ml"}])
    cpu = NodeGroupConfig.model_validate({"name": "cpu", "maxSize": 1, "instanceTypes": ["m5.large"]})
    ds = nvidia_device_plugin([gpu, cpu, team])
    spec = ds["spec"]["template"]["spec"]
    (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "cloudviper.io/pool", "operator": "In", "values": ["gpu", "team"]}]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert {"key": "team", "operator": "Equal", "value": "ml", "effect": "NoSchedule"} in spec["tolerations"]
    (c,) = spec["containers"]
    assert c["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.20.0"
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["capabilities"] == {
        "drop": ["ALL"]} and not c["securityContext"].get("privileged")
    assert spec["volumes"] == [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins",
                                                                     "type": "Directory"}}]
    assert spec["priorityClassName"] == "system-node-critical" and ds["metadata"]["namespace"] == "kube-system"


def test_the_efa_device_plugin_is_upstreams_on_efa_pools_only():
    efa = pool(name="mpi", instanceTypes=["g6.12xlarge"], efa=True, zones=["us-east-1a"])
    spec = efa_device_plugin([pool(), efa])["spec"]["template"]["spec"]
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["values"] == ["mpi"]
    assert spec["hostNetwork"] is True and spec["containers"][0]["securityContext"]["privileged"] is True
    assert spec["containers"][0]["image"].endswith("/eks/aws-efa-k8s-device-plugin:v0.5.20")
    assert {v["hostPath"]["path"] for v in spec["volumes"]} == {
        "/var/lib/kubelet/device-plugins", "/dev/infiniband/", "/opt/aws/neuron/"}
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in spec["tolerations"]


def test_the_gpu_stack_templates_gpus_and_efa_for_the_autoscaler(stack_capture):
    cap = stack_capture("gpu")
    gpu, mpi, workers = (tags(cap.one(ASG, f"pool-{n}-asg")) for n in ("gpu", "mpi", "workers"))
    assert gpu[TEMPLATE + "resources/nvidia.com/gpu"] == "1" and mpi[TEMPLATE + "resources/nvidia.com/gpu"] == "4"
    assert gpu[TEMPLATE + "label/k8s.amazonaws.com/accelerator"] == "nvidia"
    assert mpi[TEMPLATE + "label/k8s.amazonaws.com/accelerator"] == "nvidia-l4"
    assert gpu[TEMPLATE + "taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert mpi[TEMPLATE + "resources/vpc.amazonaws.com/efa"] == "1"
    assert not any("nvidia.com" in k or "accelerator" in k for k in workers)
    # the kubelet gets the same label and taint (nodeadm user data), so template and node agree
    import base64
    gpu_lt = cap.one(LT, "pool-gpu-lt")
    user_data = base64.b64decode(gpu_lt.props["userData"]).decode()
    assert "k8s.amazonaws.com/accelerator=nvidia" in user_data and "nvidia.com/gpu=true:NoSchedule" in user_data


def test_efa_pools_get_interfaces_a_self_referencing_group_and_a_cluster_placement_group(stack_capture):
    cap = stack_capture("gpu")
    lt, asg = cap.one(LT, "pool-mpi-lt").props, cap.one(ASG, "pool-mpi-asg").props
    assert "vpcSecurityGroupIds" not in lt
    (eni,) = lt["networkInterfaces"]
    assert (eni["interfaceType"], eni["deviceIndex"], eni["networkCardIndex"]) == ("efa", 0, 0)
    efa_sg = cap.one("aws:ec2/securityGroup:SecurityGroup", "pool-mpi-efa")
    assert len(eni["securityGroups"]) == 2 and efa_sg.id in eni["securityGroups"]
    for rule in (*efa_sg.props["ingress"], *efa_sg.props["egress"]):
        assert rule["self"] is True and rule["protocol"] == "-1" and not rule.get("cidrBlocks")
    pg = cap.one("aws:ec2/placementGroup:PlacementGroup", "pool-mpi-pg")
    assert pg.props["strategy"] == "cluster" and asg["placementGroup"] == pg.props["name"]
    assert len(asg["vpcZoneIdentifiers"]) == 1
    assert "networkInterfaces" not in cap.one(LT, "pool-gpu-lt").props  # no EFA: the plain security group
    assert "placementGroup" not in cap.one(ASG, "pool-gpu-asg").props


def test_p5_gets_one_efa_interface_per_network_card():
    from components.nodegroup import network_args

    enis = network_args(pool(name="p5", instanceTypes=["p5.48xlarge"], efa=True, zones=["a"]), ["sg-1"])["network_interfaces"]
    assert len(enis) == 32 and [(e["network_card_index"], e["device_index"]) for e in enis[:3]] == [(0, 0), (1, 1), (2, 1)]


def test_the_gpu_dask_cluster_fits_its_crd_and_a_gpu_node_but_no_cpu_node(stack_capture):
    cap = stack_capture("gpu")
    cluster = next(r for r in cap.of_type(DASK + "DaskCluster") if r.props["metadata"]["name"] == "dask-gpu")
    validate_custom_resource({"apiVersion": "kubernetes.dask.org/v1", "kind": "DaskCluster",
                              "metadata": cluster.props["metadata"], "spec": cluster.props["spec"]})
    worker = cluster.props["spec"]["worker"]
    (c,) = worker["spec"]["containers"]
    assert c["args"][:4] == ["dask", "cuda", "worker", "$(DASK_SCHEDULER_ADDRESS)"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == c["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert c["image"] == "rapidsai/base:26.04-cuda12-py3.12"
    scaler = next(r for r in cap.of_type(DASK + "DaskAutoscaler") if r.props["metadata"]["name"] == "dask-gpu")
    assert (scaler.props["spec"]["minimum"], scaler.props["spec"]["maximum"]) == (0, 4)
    pod = pod_spec("gpu worker", worker, "dask")
    daemons = daemonset_specs(cap.resources)
    assert "kube-system/nvidia-device-plugin" in {d.workload for d in daemons}
    types = {"pool-gpu-asg": ["g5.2xlarge", "g6.2xlarge"], "pool-workers-asg": ["m5.xlarge"]}

    def node(name: str) -> Node:
        group = group_from(cap.one(ASG, name), types[name])
        return Node(group, daemons=[d for d in daemons if d.schedulable_on(group.labels, group.taints)])

    gpu_node = node("pool-gpu-asg")
    assert "kube-system/nvidia-device-plugin" in {d.workload for d in gpu_node.daemons}
    assert gpu_node.fits(pod)
    gpu_node.pods.append(pod)
    assert not gpu_node.fits(pod)  # one GPU per node: the second worker needs another node
    assert not node("pool-workers-asg").fits(pod)  # no nvidia.com/gpu there


def test_gpu_quotas_bound_every_namespace(stack_capture):
    cap = stack_capture("gpu")
    hard = {q.props["metadata"]["namespace"]: q.props["spec"]["hard"]
            for q in cap.of_type("kubernetes:core/v1:ResourceQuota")}
    assert hard["ml"]["requests.nvidia.com/gpu"] == "12"
    assert hard["dask"]["requests.nvidia.com/gpu"] == "5"  # 4 GPU workers and room to replace one
    dev = stack_capture("dev")
    assert {q.props["spec"]["hard"]["requests.nvidia.com/gpu"] for q in dev.of_type("kubernetes:core/v1:ResourceQuota")} == {"0"}


def test_gpu_workers_need_a_gpu_pool_that_holds_them(stacks_dir):
    values = dict(load_stack_file(stacks_dir, "gpu").values)
    dask = {**values["cloudviper:dask"], "gpuWorkers": {"pool": "workers"}}
    from infra.config.errors import ConfigError

    with pytest.raises(ConfigError, match=r"gpuWorkers\.pool: pool workers has no GPUs"):
        parse_stack_config("cloudviper", "gpu", {**values, "cloudviper:dask": dask})
    dask = {**values["cloudviper:dask"], "gpuWorkers": {"pool": "gpu", "memory": "40Gi"}}
    with pytest.raises(ConfigError, match=r"does not fit a node of pool gpu"):
        parse_stack_config("cloudviper", "gpu", {**values, "cloudviper:dask": dask})


def test_gpu_workers_take_the_images_groups_and_spill_before_the_memory_limit(stack_capture):
    # rapidsai/docker Dockerfile @v26.04.00: `groupadd conda` (no fixed id), /opt/conda root:conda mode 770,
    # `useradd -g conda -u 1001 rapids`: a pod-set group would lock the worker out of its own Python.
    cluster = next(r for r in stack_capture("gpu").of_type(DASK + "DaskCluster")
                   if r.props["metadata"]["name"] == "dask-gpu")
    pod = cluster.props["spec"]["worker"]["spec"]
    (c,) = pod["containers"]
    assert "runAsGroup" not in pod["securityContext"] and "fsGroup" not in pod["securityContext"]
    assert "runAsGroup" not in c["securityContext"] and c["securityContext"]["runAsUser"] == 1001
    # dask-cuda's --memory-limit is its host cache (dask_cuda/device_host_file.py), spilled to disk when full
    limit = int(c["args"][c["args"].index("--memory-limit") + 1])
    assert limit == int(24 * 2**30 * 0.8)


def test_cpu_workloads_never_default_to_a_gpu_pool():
    from infra.config.dask import DaskConfig
    from infra.config.placement import dask_worker_pool

    cpu = NodeGroupConfig.model_validate({"name": "cpu", "maxSize": 1, "instanceTypes": ["m5.large"]})
    default = dask_worker_pool(DaskConfig.model_validate({}), [pool(role="worker"), cpu])
    named = dask_worker_pool(DaskConfig.model_validate({"workers": {"pool": "gpu"}}), [pool(), cpu])
    assert default is not None and default.name == "cpu"
    assert named is not None and named.name == "gpu"


def test_burstable_types_cannot_join_a_cluster_placement_group():
    with pytest.raises(ValidationError, match="burstable"):
        NodeGroupConfig.model_validate({"name": "t", "maxSize": 1, "instanceTypes": ["t3.large"], "placementGroup": True,
                                        "zones": ["us-east-1a"]})


@pytest.mark.parametrize(("size", "ok"), [("20GB", True), ("16GiB", True), ("5000M", True), ("0.9", True),
                                          ("lots", False), ("20", False)])
def test_rmm_pool_size_is_a_size_or_a_fraction(size, ok):
    from infra.config.dask_gpu import DaskGpuWorkersConfig

    if ok:
        assert DaskGpuWorkersConfig.model_validate({"rmmPoolSize": size}).rmm_pool_size == size
    else:
        with pytest.raises(ValidationError, match="is not a size"):
            DaskGpuWorkersConfig.model_validate({"rmmPoolSize": size})
