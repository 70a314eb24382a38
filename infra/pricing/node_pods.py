"""Pods the stack does not template itself: per-node DaemonSets of EKS add-ons and the pods of EKS add-ons
and Helm charts it installs, with their upstream defaults (the day-one model packs them; standard library only).

Citations:
- CoreDNS add-on: the coredns Deployment EKS ships, dumped by eksctl-io/eksctl pkg/addons/default/assets/
  coredns-1.*.json (@99984adb): 2 replicas, requests cpu 100m / memory 70Mi, required node affinity
  kubernetes.io/os In [linux], kubernetes.io/arch In [amd64, arm64], tolerations CriticalAddonsOnly (Exists)
  and node-role.kubernetes.io/control-plane:NoSchedule; anti-affinity preferred only. Replica count also in
  the EKS user guide (awsdocs/amazon-eks-user-guide latest/ug/networking/eks-networking-add-ons.adoc).
- EBS CSI controller: kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver values.yaml and
  templates/controller.yaml (v1.57+): replicaCount 2; ebs-plugin, csi-provisioner, csi-attacher,
  csi-snapshotter, csi-resizer 10m / 40Mi each (controller.resources, inherited by the sidecars),
  liveness-probe 10m / 32Mi; nodeSelector kubernetes.io/os: linux; tolerations CriticalAddonsOnly (Exists)
  and NoExecute (Exists). The node DaemonSet: 10m/40Mi + 10m/32Mi + 10m/32Mi, tolerates every taint.
- cert-manager v1.16.2 deploy/charts/cert-manager/values.yaml: controller, webhook and cainjector, one
  replica each, `resources: {}` by default; top-level resources/nodeSelector/tolerations apply to the
  controller only, `webhook.*` and `cainjector.*` to the others; every pod gets nodeSelector
  kubernetes.io/os: linux.
- Admiralty 0.17.0 charts/multicluster-scheduler/templates/deploy.yaml: controller-manager
  (controllerManager.replicas, default 2), proxy-scheduler and candidate-scheduler (scheduler.replicas,
  default 2, scheduler.resources), restarter (scheduler.replicas too, restarter.resources).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NodeDaemonSet:
    """A DaemonSet that runs on every node (it tolerates every taint): its effective pod request."""

    name: str
    cpu_m: int
    memory_mib: int
    only_with_ebs_csi: bool = False
    addon: str = ""  # the EKS add-on that installs it ("": one of ours, read from the stack's own DaemonSets)
    only_on: str = ""  # "gpu" or "efa": runs only on such nodes (a device plugin)


# Effective pod request = max(largest init container, sum of containers).
NODE_DAEMONSETS = (
    NodeDaemonSet("aws-node (vpc-cni + network policy agent)", 50, 0, addon="vpc-cni"),
    NodeDaemonSet("kube-proxy", 100, 0, addon="kube-proxy"),
    NodeDaemonSet("ebs-csi-node", 30, 104, only_with_ebs_csi=True, addon="aws-ebs-csi-driver"),
    # Ours (components/accelerators.py renders them with these requests): the device plugins of GPU and EFA nodes.
    NodeDaemonSet("nvidia-device-plugin", 10, 128, only_on="gpu"),
    NodeDaemonSet("aws-efa-k8s-device-plugin", 10, 64, only_on="efa"),
)

OS_LINUX = {"kubernetes.io/os": "linux"}
CRITICAL_ADDONS = {"key": "CriticalAddonsOnly", "operator": "Exists"}


@dataclass(frozen=True)
class AddonPods:
    """`replicas` pods of one Deployment an add-on or chart runs (a pod template in Kubernetes' shape)."""

    workload: str
    replicas: int
    pod: dict[str, Any] = field(default_factory=dict)
    namespace: str = "kube-system"


def _pod(cpu: str, memory: str, selector: dict[str, str], tolerations: list[dict[str, Any]],
         affinity: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"resources": {"requests": {"cpu": cpu, "memory": memory}}}],
                            "nodeSelector": dict(selector), "tolerations": tolerations}
    if affinity:
        spec["affinity"] = affinity
    return {"spec": spec}


EKS_ADDON_PODS = {
    "coredns": AddonPods("coredns (EKS add-on)", 2, _pod("100m", "70Mi", {}, [
        CRITICAL_ADDONS, {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]}}})),
    "aws-ebs-csi-driver": AddonPods("ebs-csi-controller (EKS add-on)", 2, _pod("60m", "232Mi", OS_LINUX, [
        CRITICAL_ADDONS, {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])),
}


def _get(values: Any, *path: str) -> Any:
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values


def _placed(values: dict[str, Any], prefix: tuple[str, ...], resources_key: tuple[str, ...]) -> dict[str, Any]:
    requests = _get(values, *resources_key, "requests") or {}
    selector = {**OS_LINUX, **(_get(values, *prefix, "nodeSelector") or {})}
    return {"spec": {"containers": [{"resources": {"requests": dict(requests)}}], "nodeSelector": selector,
                     "tolerations": list(_get(values, *prefix, "tolerations") or [])}}


def chart_pods(chart: str, values: dict[str, Any], namespace: str) -> list[AddonPods]:
    """The Deployments a Helm release of cert-manager or Admiralty runs, with the release's values applied."""
    if chart == "cert-manager":
        return [AddonPods("cert-manager", int(_get(values, "replicaCount") or 1), _placed(values, (), ("resources",)),
                          namespace),
                *[AddonPods(f"cert-manager-{part}", int(_get(values, part, "replicaCount") or 1),
                            _placed(values, (part,), (part, "resources")), namespace)
                  for part in ("webhook", "cainjector")]]
    if chart.rstrip("/").endswith("admiralty"):
        schedulers = int(_get(values, "scheduler", "replicas") or 2)
        return [AddonPods("admiralty-controller-manager", int(_get(values, "controllerManager", "replicas") or 2),
                          _placed(values, ("controllerManager",), ("controllerManager", "resources")), namespace),
                *[AddonPods(f"admiralty-{part}", schedulers, _placed(values, ("scheduler",), ("scheduler", "resources")),
                            namespace) for part in ("proxy-scheduler", "candidate-scheduler")],
                AddonPods("admiralty-restarter", schedulers,  # the template reads scheduler.replicas here too
                          _placed(values, ("restarter",), ("restarter", "resources")), namespace)]
    if chart == "kube-prometheus-stack":
        return _kps_pods(values, namespace)
    if chart == "opencost":
        exporter = _get(values, "opencost", "exporter", "resources", "requests") or {"cpu": "10m", "memory": "55Mi"}
        ui = _get(values, "opencost", "ui", "resources", "requests") or {"cpu": "10m", "memory": "55Mi"}
        pod = _placed(values, ("opencost",), ("opencost", "exporter", "resources"))
        pod["spec"]["containers"] = [{"resources": {"requests": dict(r)}} for r in (exporter, ui)]
        return [AddonPods("opencost", 1, pod, namespace)]
    return []


def _kps_pods(values: dict[str, Any], namespace: str) -> list[AddonPods]:
    """kube-prometheus-stack 88.5.3 with our values (tests/test_monitoring.py pins the defaults read here): one
    operator (replicas hard-coded), one Prometheus (replicas x shards, default 1; its config-reloader gets no
    requests), Grafana with its dashboard and datasource sidecars, kube-state-metrics; no defaults request anything."""
    spec = ("prometheus", "prometheusSpec")
    prometheus = _placed(values, spec, (*spec, "resources"))
    grafana = _placed(values, ("grafana",), ("grafana", "resources"))
    sidecar = _get(values, "grafana", "sidecar", "resources", "requests") or {}
    grafana["spec"]["containers"] += [{"resources": {"requests": dict(sidecar)}} for _ in ("dashboards", "datasources")]
    replicas = int(_get(values, *spec, "replicas") or 1) * int(_get(values, *spec, "shards") or 1)
    return [AddonPods("prometheus-operator", 1, _placed(values, ("prometheusOperator",), ("prometheusOperator", "resources")),
                      namespace),
            AddonPods("prometheus", replicas, prometheus, namespace),
            AddonPods("grafana", int(_get(values, "grafana", "replicas") or 1), grafana, namespace),
            AddonPods("kube-state-metrics", int(_get(values, "kube-state-metrics", "replicas") or 1),
                      _placed(values, ("kube-state-metrics",), ("kube-state-metrics", "resources")), namespace)]


def chart_volume_claims(chart: str, values: dict[str, Any]) -> list[str]:
    """Sizes of the EBS volumes the release's pods claim: Prometheus's volumeClaimTemplate (one per replica and shard)
    in kube-prometheus-stack; none for the other charts we install."""
    spec = ("prometheus", "prometheusSpec")
    size = _get(values, *spec, "storageSpec", "volumeClaimTemplate", "spec", "resources", "requests", "storage")
    if chart != "kube-prometheus-stack" or not size:
        return []
    return [str(size)] * (int(_get(values, *spec, "replicas") or 1) * int(_get(values, *spec, "shards") or 1))
