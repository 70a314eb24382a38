"""Device plugins for GPU and EFA nodes as explicit DaemonSets (pure): what makes a node advertise nvidia.com/gpu and
vpc.amazonaws.com/efa. Upstream facts are cited in tests/test_accelerators.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.config.accelerators import EFA_RESOURCE, GPU_RESOURCE
from infra.config.pools import NodeGroupConfig
from infra.pricing.node_pods import NODE_DAEMONSETS

# NVIDIA/k8s-device-plugin v0.20.0 deployments/static/nvidia-device-plugin.yml (the release's own image).
NVIDIA_DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0"
DEVICE_PLUGINS_DIR = "/var/lib/kubelet/device-plugins"  # where the kubelet's device-plugin socket lives


def _requests(name: str) -> dict[str, str]:
    """The requests the capacity model counts for this DaemonSet on every matching node (one number, two users)."""
    ds = next(d for d in NODE_DAEMONSETS if d.name == name)
    return {"cpu": f"{ds.cpu_m}m", "memory": f"{ds.memory_mib}Mi"}


def _on_pools(pools: Sequence[NodeGroupConfig]) -> dict[str, Any]:
    """Required node affinity: only nodes of these pools (a plugin fails on a node without its device)."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "cloudviper.io/pool", "operator": "In", "values": sorted(p.name for p in pools)}]}]}}}


def _tolerations(pools: Sequence[NodeGroupConfig], upstream: list[dict[str, str]]) -> list[dict[str, str]]:
    """Upstream's tolerations plus every taint of the pools it runs on, so a custom taint cannot starve it."""
    found = list(upstream)
    for pool in pools:
        for t in pool.all_taints:
            toleration = {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
            if toleration not in found and not any(u.get("key") == t.key and u.get("operator") == "Exists"
                                                   and u.get("effect") in (None, t.effect) for u in upstream):
                found.append(toleration)
    return found


def device_plugin_daemonset(name: str, image: str, pools: Sequence[NodeGroupConfig], upstream_tolerations: list[dict[str, str]],
                            container_extra: dict[str, Any], model_name: str) -> dict[str, Any]:
    """A device plugin DaemonSet in kube-system: the kubelet's device-plugin directory, nothing else of the host."""
    requests = _requests(model_name)
    container = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": dict(requests), "limits": {"memory": requests["memory"], "cpu": "100m"}},
        # Upstream's: no privilege escalation, no capabilities. It runs as root: the kubelet's directory is root's.
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "device-plugin", "mountPath": DEVICE_PLUGINS_DIR}],
        **container_extra,
    }
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system",
                     "labels": {**labels, "app.kubernetes.io/managed-by": "cloudviper"}},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": labels}, "spec": {
                "priorityClassName": "system-node-critical",
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                "automountServiceAccountToken": False,  # it talks to the kubelet's socket, never to the API server
                "affinity": _on_pools(pools),
                "tolerations": _tolerations(pools, upstream_tolerations),
                "containers": [container],
                "volumes": [{"name": "device-plugin", "hostPath": {"path": DEVICE_PLUGINS_DIR, "type": "Directory"}}],
            }},
        },
    }


def nvidia_device_plugin(pools: Sequence[NodeGroupConfig]) -> dict[str, Any]:
    """NVIDIA's device plugin on the GPU pools: nodes then advertise nvidia.com/gpu (the AL2023 NVIDIA AMI's
    containerd already runs GPU containers with the nvidia runtime, so no RuntimeClass is needed)."""
    return device_plugin_daemonset(
        "nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN_IMAGE, [p for p in pools if p.gpu],
        [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}], {}, "nvidia-device-plugin")



# aws/eks-charts stable/aws-efa-k8s-device-plugin (chart v0.5.30, values.yaml image.repository and tag, @bfe91c4b):
# EKS's own registry (602401143452, us-west-2); nodes pull it with the node role's ECR read-only policy.
EFA_DEVICE_PLUGIN_IMAGE = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20"


def efa_device_plugin(pools: Sequence[NodeGroupConfig]) -> dict[str, Any]:
    """AWS's EFA device plugin on the EFA pools: nodes then advertise vpc.amazonaws.com/efa. As the chart runs it:
    privileged, host network, /dev/infiniband and /opt/aws/neuron from the host (templates/daemonset.yaml)."""
    ds = device_plugin_daemonset(
        "aws-efa-k8s-device-plugin", EFA_DEVICE_PLUGIN_IMAGE, [p for p in pools if p.efa],
        [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        {"securityContext": {"privileged": True, "allowPrivilegeEscalation": True, "runAsNonRoot": False, "runAsUser": 0},
         "volumeMounts": [{"name": "device-plugin", "mountPath": DEVICE_PLUGINS_DIR},
                          {"name": "infiniband", "mountPath": "/dev/infiniband/"},
                          {"name": "neuron-tools", "mountPath": "/opt/aws/neuron/"}]},
        "aws-efa-k8s-device-plugin")
    pod = ds["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    pod["volumes"] = [{"name": "device-plugin", "hostPath": {"path": DEVICE_PLUGINS_DIR}},
                      {"name": "infiniband", "hostPath": {"path": "/dev/infiniband/"}},
                      {"name": "neuron-tools", "hostPath": {"path": "/opt/aws/neuron/", "type": "DirectoryOrCreate"}}]
    return ds


__all__ = ["EFA_RESOURCE", "GPU_RESOURCE", "device_plugin_daemonset", "efa_device_plugin", "nvidia_device_plugin"]
