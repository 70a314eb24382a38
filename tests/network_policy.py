"""Kubernetes NetworkPolicy ingress semantics, to ask whether a source pod may reach a port of a target pod.

Follows the API reference (kubernetes.io/docs/concepts/services-networking/network-policies/, networking/v1
NetworkPolicySpec): a pod that no policy with policyTypes Ingress selects accepts everything; a selected pod
accepts a connection when some rule of some selecting policy matches both its `from` (absent or empty: every
source) and its `ports` (absent or empty: every port; a named port matches the container port of that name;
protocol defaults to TCP; `endPort` makes a range). A peer with only `podSelector` means pods of the policy's own
namespace, only `namespaceSelector` every pod of the selected namespaces, both the selected pods of those
namespaces; `ipBlock` peers are addresses, which this model never matches (pod addresses are not known offline).
Every namespace carries `kubernetes.io/metadata.name` (the NamespaceDefaultLabelName feature, GA in 1.22).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against labels (an empty selector selects everything; None selects nothing)."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], list(e.get("values") or [])
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass(frozen=True)
class Endpoint:
    """A pod: its namespace, labels, and the named ports of its containers."""

    namespace: str
    labels: Mapping[str, str]
    named_ports: Mapping[str, int] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def ns_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def _is_ingress(spec: Mapping[str, Any]) -> bool:
    types = spec.get("policyTypes")
    return "Ingress" in types if types else True


def _port_matches(rule_ports: list[Mapping[str, Any]] | None, port: int, protocol: str, target: Endpoint) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if (p.get("protocol") or "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str) and not want.isdigit():
            if target.named_ports.get(want) == port:
                return True
            continue
        lo = int(want)
        hi = int(p.get("endPort") or lo)
        if lo <= port <= hi:
            return True
    return False


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, source: Endpoint) -> bool:
    if "ipBlock" in peer:
        return False
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    if ns_sel is None and pod_sel is None:
        return False
    in_ns = selects(ns_sel, source.ns_labels) if ns_sel is not None else source.namespace == policy_ns
    return in_ns and (pod_sel is None or selects(pod_sel, source.labels))


def admits(policies: Iterable[Mapping[str, Any]], source: Endpoint, target: Endpoint, port: int,
           protocol: str = "TCP") -> bool:
    """Whether `source` may open `port` on `target` under these NetworkPolicies (objects with metadata and spec)."""
    selecting = [p for p in policies if (p.get("metadata") or {}).get("namespace") == target.namespace
                 and _is_ingress(p.get("spec") or {}) and selects((p.get("spec") or {}).get("podSelector") or {},
                                                                  target.labels)]
    if not selecting:
        return True
    for p in selecting:
        for rule in (p["spec"].get("ingress") or []):
            peers = rule.get("from") or []
            if not _port_matches(rule.get("ports"), port, protocol, target):
                continue
            if not peers or any(_peer_matches(peer, target.namespace, source) for peer in peers):
                return True
    return False
