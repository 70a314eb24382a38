"""Day one: the nodes that must run right after `pulumi up`, found by packing the stack's own pods onto its pools.

Pools are the Auto Scaling groups, described by the tags the Cluster Autoscaler reads for scale-from-zero
(k8s.io/cluster-autoscaler/node-template/label|taint|resources/*, kubernetes/autoscaler
cluster-autoscaler/cloudprovider/aws/README.md), so the plan and the policy pack see the same thing.
Each group starts with its minSize (or desiredCapacity) nodes. Every node first carries the DaemonSets
that match it (node_pods.NODE_DAEMONSETS of the installed add-ons, and the stack's own). Pods are then
placed biggest first on the first node that fits (requests against allocatable, nodeSelector, required
node affinity, taints and tolerations, required pod anti-affinity per hostname); a pod that fits no
running node opens one in the group the autoscaler's least-waste expander would pick (lowest sum of
the CPU and memory fractions left idle: cluster-autoscaler expander/waste/waste.go), below its maxSize.
The kube-scheduler spreads pods rather than packing them, so real clusters can only need more nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.pricing.day_one_pods import PodSpec, daemonset_specs, mib, workload_pods
from infra.pricing.instance_facts import instance_arch

ASG = "aws:autoscaling/group:Group"
TEMPLATE = "k8s.io/cluster-autoscaler/node-template/"


@dataclass
class Group:
    """One Auto Scaling group as a pool of identical nodes."""

    name: str
    labels: dict[str, str]
    taints: list[tuple[str, str, str]]  # (key, value, effect)
    cpu_m: int
    memory_mib: float
    pods: int
    ephemeral_gib: float
    start: int
    max: int
    arch: str = "amd64"
    extended: dict[str, float] = field(default_factory=dict)  # from resources/<name> template tags with a `/`


@dataclass
class Node:
    """One node and the pods placed on it."""

    group: Group
    pods: list[PodSpec] = field(default_factory=list)
    daemons: list[PodSpec] = field(default_factory=list)

    def used(self, attr: str) -> float:
        return sum(getattr(p, attr) for p in (*self.pods, *self.daemons))

    def fits(self, pod: PodSpec) -> bool:
        g = self.group
        return (self.used("cpu_m") + pod.cpu_m <= g.cpu_m and self.used("memory_mib") + pod.memory_mib <= g.memory_mib
                and len(self.pods) + len(self.daemons) + 1 <= g.pods
                and self.used("ephemeral_gib") + pod.ephemeral_gib <= g.ephemeral_gib
                and all(sum(p.extended.get(k, 0.0) for p in (*self.pods, *self.daemons)) + v <= g.extended.get(k, 0.0)
                        for k, v in pod.extended.items())
                and pod.schedulable_on(g.labels, g.taints)
                and not any(pod.repels(other) or other.repels(pod) for other in self.pods))


@dataclass
class DayOne:
    """Nodes per group right after `pulumi up`, why, and the pods that fit nowhere."""

    nodes: dict[str, list[Node]]
    unplaced: list[tuple[PodSpec, str]]

    def count(self, group: str) -> int:
        return len(self.nodes.get(group, []))

    def reasons(self, group: str) -> list[str]:
        """`workload xN` placed on the group's nodes (DaemonSets left out)."""
        counts: dict[str, int] = {}
        for node in self.nodes.get(group, []):
            for p in node.pods:
                counts[p.workload] = counts.get(p.workload, 0) + 1
        return [f"{w} x{n}" if n > 1 else w for w, n in counts.items()]


def group_from(asg: Any, instance_types: Sequence[str]) -> Group:
    """A pool from an Auto Scaling group's node-template tags (values in MiB and millicores)."""
    tags = {str(t.get("key")): str(t.get("value")) for t in asg.props.get("tags") or [] if isinstance(t, Mapping)}
    res = {k[len(TEMPLATE) + len("resources/"):]: v for k, v in tags.items() if k.startswith(TEMPLATE + "resources/")}
    labels = {k[len(TEMPLATE) + len("label/"):]: v for k, v in tags.items() if k.startswith(TEMPLATE + "label/")}
    taints = []
    for k, v in tags.items():
        if k.startswith(TEMPLATE + "taint/"):
            value, _, effect = v.rpartition(":")
            taints.append((k[len(TEMPLATE) + len("taint/"):], value, effect))
    arch = "arm64" if instance_types and instance_arch(instance_types[0]) == "arm64" else "amd64"
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": arch, **labels}
    cpu = res.get("cpu", "0")
    lo = int(float(asg.props.get("minSize") or 0))
    start = max(lo, int(float(asg.props.get("desiredCapacity") or 0)))
    return Group(name=asg.name, labels=labels, taints=taints,
                 cpu_m=int(float(cpu[:-1])) if cpu.endswith("m") else int(float(cpu) * 1000),
                 memory_mib=mib(res.get("memory", "0")), pods=int(res.get("pods", "110")),
                 ephemeral_gib=mib(res.get("ephemeral-storage", "0")) / 1024, start=start,
                 max=int(float(asg.props.get("maxSize") or 0)), arch=arch,
                 extended={k: float(v) for k, v in res.items() if "/" in k})


def _waste(group: Group, pod: PodSpec, daemons: list[PodSpec]) -> float:
    cpu = group.cpu_m - sum(d.cpu_m for d in daemons) - pod.cpu_m
    mem = group.memory_mib - sum(d.memory_mib for d in daemons) - pod.memory_mib
    return cpu / max(group.cpu_m, 1) + mem / max(group.memory_mib, 1)


def pack(groups: list[Group], pods: list[PodSpec], daemonsets: list[PodSpec]) -> DayOne:
    """Place every pod; open nodes (least waste, then the group with fewest nodes) where none fits."""
    def new_node(g: Group) -> Node:
        return Node(g, daemons=[d for d in daemonsets if d.schedulable_on(g.labels, g.taints)])

    nodes = {g.name: [new_node(g) for _ in range(g.start)] for g in groups}
    unplaced: list[tuple[PodSpec, str]] = []
    for pod in sorted(pods, key=lambda p: (-p.cpu_m, -p.memory_mib, p.workload)):
        spot = next((n for g in groups for n in nodes[g.name] if n.fits(pod)), None)
        if spot is not None:
            spot.pods.append(pod)
            continue
        options = [g for g in groups if new_node(g).fits(pod)]
        room = [g for g in options if len(nodes[g.name]) < g.max]
        if not room:
            why = (f"every matching group is at maxSize ({', '.join(g.name for g in options)})" if options else
                   "no group's nodes can hold it (node selector, affinity, taints, or its requests)")
            unplaced.append((pod, why))
            continue
        best = min(room, key=lambda g: (_waste(g, pod, new_node(g).daemons), len(nodes[g.name]), g.name))
        node = new_node(best)
        node.pods.append(pod)
        nodes[best.name].append(node)
    return DayOne(nodes=nodes, unplaced=unplaced)


def day_one(resources: Sequence[Any], group_types: Mapping[str, Sequence[str]]) -> DayOne:
    """Pack the stack's pods (resource views of a plan or a policy run) onto its Auto Scaling groups."""
    groups = sorted((group_from(r, group_types.get(r.name, ())) for r in resources if r.type == ASG),
                    key=lambda g: g.name)  # registration order varies between runs; the packing must not
    return pack(groups, workload_pods(resources), daemonset_specs(resources))
