"""The pods a stack runs right after `pulumi up`, read from its resources, and the scheduling rules they carry.

A pod's request is the kube-scheduler's effective request (kubernetes/kubernetes staging/src/k8s.io/
component-helpers/resource/helpers.go PodRequests; kubernetes.io/docs/concepts/resource-management/
effective-pod-requests-limits): the app containers plus the sidecars (init containers with restartPolicy
Always), or an init container plus the sidecars started before it if that is more, plus spec.overhead.
Unset requests count as zero for fitting. Dask: a DaskCluster runs one scheduler and a default worker
group of spec.worker.replicas; a DaskAutoscaler keeps that at least `minimum`
(dask/dask-kubernetes dask_kubernetes/operator/controller/controller.py daskautoscaler_adapt).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.pricing.node_pods import EKS_ADDON_PODS, NODE_DAEMONSETS, chart_pods

DASK = "kubernetes:kubernetes.dask.org/v1:"
REPLICATED = {"kubernetes:apps/v1:Deployment": "replicas", "kubernetes:apps/v1:StatefulSet": "replicas",
              "kubernetes:apps/v1:ReplicaSet": "replicas", "kubernetes:batch/v1:Job": "parallelism"}
TAINT_EFFECTS = ("NoSchedule", "NoExecute")  # PreferNoSchedule only scores


@dataclass
class PodSpec:
    """One pod: what it requests and where it may run."""

    workload: str
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    cpu_m: float = 0
    memory_mib: float = 0
    ephemeral_gib: float = 0
    node_selector: dict[str, str] = field(default_factory=dict)
    node_terms: list[list[dict[str, Any]]] = field(default_factory=list)  # required node affinity: OR of ANDs
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    anti: list[dict[str, Any]] = field(default_factory=list)  # required anti-affinity selectors per hostname
    extended: dict[str, float] = field(default_factory=dict)  # extended resources (nvidia.com/gpu, vpc.amazonaws.com/efa)

    def schedulable_on(self, labels: Mapping[str, str], taints: Sequence[tuple[str, str, str]]) -> bool:
        """Node selector, required node affinity and taints (not resources)."""
        if any(labels.get(k) != v for k, v in self.node_selector.items()):
            return False
        if self.node_terms and not any(all(_expression(e, labels) for e in term) for term in self.node_terms):
            return False
        return all(any(_tolerates(t, taint) for t in self.tolerations) for taint in taints if taint[2] in TAINT_EFFECTS)

    def repels(self, other: PodSpec) -> bool:
        """Whether this pod's required anti-affinity keeps `other` off its node."""
        return any(other.namespace == self.namespace and selects(sel, other.labels) for sel in self.anti)


def _expression(e: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = e.get("key", ""), e.get("operator", "In"), list(e.get("values") or [])
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # Gt/Lt on our labels: not used; treat as not matching


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    return (all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
            and all(_expression(e, labels) for e in selector.get("matchExpressions") or []))


def _tolerates(t: Mapping[str, Any], taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    if t.get("effect") and t["effect"] != effect:
        return False
    if not t.get("key"):
        return t.get("operator") == "Exists"
    if t["key"] != key:
        return False
    return t.get("operator") == "Exists" or str(t.get("value", "")) == value


def cpu_m(q: Any) -> float:
    """A CPU quantity in millicores."""
    text = str(q)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def mib(q: Any) -> float:
    """A memory or storage quantity in MiB."""
    text = str(q)
    units = {"Ki": 2**-10, "Mi": 1, "Gi": 2**10, "Ti": 2**20, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20,
             "T": 1e12 / 2**20}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text) / 2**20


def _requests(c: Mapping[str, Any]) -> tuple[float, float, float]:
    r = (c.get("resources") or {}).get("requests") or {}
    return (cpu_m(r["cpu"]) if "cpu" in r else 0.0, mib(r["memory"]) if "memory" in r else 0.0,
            mib(r["ephemeral-storage"]) / 1024 if "ephemeral-storage" in r else 0.0)


def effective_requests(spec: Mapping[str, Any]) -> tuple[float, float, float]:
    """(millicores, MiB, GiB of local disk) the scheduler reserves for a pod spec."""
    total = [0.0, 0.0, 0.0]
    for c in spec.get("containers") or []:
        total = [a + b for a, b in zip(total, _requests(c), strict=True)]
    sidecars = [0.0, 0.0, 0.0]
    peak = [0.0, 0.0, 0.0]
    for c in spec.get("initContainers") or []:
        req = _requests(c)
        if c.get("restartPolicy") == "Always":
            sidecars = [a + b for a, b in zip(sidecars, req, strict=True)]
            peak = [max(p, s) for p, s in zip(peak, sidecars, strict=True)]
        else:
            peak = [max(p, r + s) for p, r, s in zip(peak, req, sidecars, strict=True)]
    overhead = spec.get("overhead") or {}
    extra = (cpu_m(overhead["cpu"]) if "cpu" in overhead else 0.0, mib(overhead["memory"]) if "memory" in overhead else 0.0, 0.0)
    return tuple(max(t + s, p) + o for t, s, p, o in zip(total, sidecars, peak, extra, strict=True))  # type: ignore[return-value]


BUILT_IN = ("cpu", "memory", "ephemeral-storage", "pods")


def extended_requests(spec: Mapping[str, Any]) -> dict[str, float]:
    """Extended resources a pod asks for (device plugins' counts), summed over its app containers. A container may set
    only the limit: for extended resources the request then equals it (and may not differ from it)."""
    found: dict[str, float] = {}
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        amounts = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        for name, amount in amounts.items():
            if name not in BUILT_IN and not name.startswith("hugepages-") and "/" in name:
                found[name] = found.get(name, 0.0) + float(amount)
    return found


def pod_spec(workload: str, template: Mapping[str, Any], namespace: str) -> PodSpec:
    """A PodSpec from a pod template ({metadata, spec})."""
    spec = template.get("spec") or {}
    cpu, mem, disk = effective_requests(spec)
    affinity = spec.get("affinity") or {}
    required = ((affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = [list(t.get("matchExpressions") or []) for t in required.get("nodeSelectorTerms") or []]
    anti = [t.get("labelSelector") or {} for t in ((affinity.get("podAntiAffinity") or {})
                                                 .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
            if t.get("topologyKey") == "kubernetes.io/hostname"]
    extended = extended_requests(spec)
    # EKS runs the ExtendedResourceToleration admission plugin (EKS user guide, platform-versions: "admission
    # controllers are enabled"): a pod asking for an extended resource tolerates the NoSchedule taint of that name.
    admitted = [{"key": name, "operator": "Exists", "effect": "NoSchedule"} for name in sorted(extended)]
    return PodSpec(workload=workload, namespace=namespace, labels=dict((template.get("metadata") or {}).get("labels") or {}),
                   cpu_m=cpu, memory_mib=mem, ephemeral_gib=disk, node_selector=dict(spec.get("nodeSelector") or {}),
                   node_terms=terms, tolerations=[*(spec.get("tolerations") or []), *admitted], anti=anti,
                   extended=extended)


def _meta(props: Mapping[str, Any], fallback: str) -> tuple[str, str]:
    meta = props.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or fallback)


def _dask_pods(resources: Sequence[Any]) -> list[PodSpec]:
    minimum = {}
    for r in resources:
        if r.type == DASK + "DaskAutoscaler":
            ns, _ = _meta(r.props, r.name)
            spec = r.props.get("spec") or {}
            minimum[(ns, str(spec.get("cluster")))] = int(float(spec.get("minimum") or 0))
    pods = []
    for r in resources:
        ns, name = _meta(r.props, r.name)
        spec = r.props.get("spec") or {}
        if r.type == DASK + "DaskCluster":
            pods.append(pod_spec(f"{ns}/{name} scheduler", spec.get("scheduler") or {}, ns))
            worker = spec.get("worker") or {}
            count = max(int(float(worker.get("replicas") or 0)), minimum.get((ns, name), 0))
            pods += [pod_spec(f"{ns}/{name} workers", worker, ns) for _ in range(count)]
        elif r.type == DASK + "DaskWorkerGroup":
            worker = spec.get("worker") or {}
            pods += [pod_spec(f"{ns}/{name}", worker, ns) for _ in range(int(float(worker.get("replicas") or 0)))]
    return pods


def workload_pods(resources: Sequence[Any]) -> list[PodSpec]:
    """Every pod the stack's workloads, add-ons and charts run right after `pulumi up` (DaemonSets apart)."""
    pods: list[PodSpec] = []
    for r in resources:
        if r.type in REPLICATED:
            ns, name = _meta(r.props, r.name)
            spec = r.props.get("spec") or {}
            n = spec.get(REPLICATED[r.type])
            pods += [pod_spec(f"{ns}/{name}", spec.get("template") or {}, ns) for _ in range(1 if n is None else int(float(n)))]
        elif r.type == "kubernetes:core/v1:Pod":
            ns, name = _meta(r.props, r.name)
            pods.append(pod_spec(f"{ns}/{name}", r.props, ns))
        elif r.type == "aws:eks/addon:Addon" and str(r.props.get("addonName")) in EKS_ADDON_PODS:
            a = EKS_ADDON_PODS[str(r.props.get("addonName"))]
            pods += [pod_spec(a.workload, a.pod, a.namespace) for _ in range(a.replicas)]
        elif r.type == "kubernetes:helm.sh/v3:Release":
            ns = str(r.props.get("namespace") or "default")
            for a in chart_pods(str(r.props.get("chart") or ""), dict(r.props.get("values") or {}), ns):
                pods += [pod_spec(a.workload, a.pod, a.namespace) for _ in range(a.replicas)]
    return pods + _dask_pods(resources)


def daemonset_specs(resources: Sequence[Any]) -> list[PodSpec]:
    """One pod per DaemonSet: the EKS add-ons' per-node pods (tolerate every taint) and the stack's own."""
    addons = {str(r.props.get("addonName")) for r in resources if r.type == "aws:eks/addon:Addon"}
    found = [PodSpec(workload=d.name, namespace="kube-system", cpu_m=d.cpu_m, memory_mib=d.memory_mib,
                     tolerations=[{"operator": "Exists"}]) for d in NODE_DAEMONSETS if d.addon in addons]
    for r in resources:
        if r.type == "kubernetes:apps/v1:DaemonSet":
            ns, name = _meta(r.props, r.name)
            found.append(pod_spec(f"{ns}/{name}", (r.props.get("spec") or {}).get("template") or {}, ns))
    return found
