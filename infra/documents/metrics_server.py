"""metrics-server (kubernetes-sigs/metrics-server) as it is at the pinned releases: what it runs with and needs (pure).

It serves the resource metrics API (metrics.k8s.io/v1beta1) that `kubectl top` and HorizontalPodAutoscalers read.
Facts from manifests/base/{deployment,rbac,service,apiservice,kustomization}.yaml at v0.9.0 (commit 2a7c4b2c7d46)
and v0.8.1 (commit 9ce65a47f926), which are the same at both tags in every part rendered here (the tags' manifests/
differ only in the image tag of components/release/kustomization.yaml); the release per Kubernetes minor from
README.md "Compatibility Matrix" at v0.9.0; the replica count, PDB and anti-affinity from
manifests/components/high-availability{,-1.21+}/ at v0.9.0. tests/test_metrics_server.py pins each as a literal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infra.documents.rbac import READ, Rule, rule

NAME, NAMESPACE = "metrics-server", "kube-system"
LABELS = {"k8s-app": NAME}  # base/kustomization.yaml commonLabels: on every object and the pods
REPOSITORY = "registry.k8s.io/metrics-server/metrics-server"  # components/release/kustomization.yaml newName
# Each release we pin and the oldest Kubernetes minor its line supports (README.md "Compatibility Matrix" at
# v0.9.0: 0.9.x 1.34+, 0.8.x 1.31+), newest first; a cluster gets the newest release that supports its minor.
RELEASES = {"v0.9.0": "1.34", "v0.8.1": "1.31"}

# --secure-port: the kubelet's port. The API server reaches the pods on it through the EKS cluster security group our
# nodes carry (it admits all traffic from itself); 10250 is also in the EKS user guide's minimum cluster rules.
PORT = 10250
# base/deployment.yaml args, unchanged. No --kubelet-insecure-tls: nodeadm turns on the kubelet's serverTLSBootstrap
# (awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go), so kubelets serve certificates of the cluster CA,
# which metrics-server verifies with its in-cluster CA by default (cmd/metrics-server/app/options/kubelet_client.go).
ARGS = (
    "--cert-dir=/tmp",
    f"--secure-port={PORT}",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    "--kubelet-use-node-status-port",
    "--metric-resolution=15s",
)
PORTS = [{"name": "https", "containerPort": PORT, "protocol": "TCP"}]
CPU, MEMORY = "100m", "200Mi"  # base/deployment.yaml requests (README "Scaling": enough up to 100 nodes)
TMP = "tmp-dir"  # base/deployment.yaml: certificates go to an emptyDir /tmp, the root file system stays read-only
NODE_SELECTOR = {"kubernetes.io/os": "linux"}
PRIORITY = "system-cluster-critical"

API_GROUP, API_VERSION = "metrics.k8s.io", "v1beta1"
APISERVICE = f"{API_VERSION}.{API_GROUP}"
# base/rbac.yaml, object names and rules unchanged.
READER_ROLE = "system:aggregated-metrics-reader"
READER_LABELS = {f"rbac.authorization.k8s.io/aggregate-to-{r}": "true" for r in ("view", "edit", "admin")}
READER_RULES: list[Rule] = [rule([API_GROUP], ["pods", "nodes"], list(READ))]
SERVER_ROLE = "system:metrics-server"
SERVER_RULES: list[Rule] = [rule([""], ["nodes/metrics"], ["get"]), rule([""], ["pods", "nodes"], list(READ))]
AUTH_READER_BINDING, AUTH_READER_ROLE = "metrics-server-auth-reader", "extension-apiserver-authentication-reader"
AUTH_DELEGATOR_BINDING, AUTH_DELEGATOR_ROLE = "metrics-server:system:auth-delegator", "system:auth-delegator"

# High availability (manifests/components/high-availability/patch.yaml and pdb.yaml at v0.9.0): two replicas and a
# PodDisruptionBudget of minAvailable 1 (policy/v1: high-availability-1.21+), so `kubectl top` and every HPA keep
# working while a node drains or the Deployment rolls. Upstream keeps the replicas apart with *required*
# anti-affinity by hostname and therefore rolls with maxUnavailable 1 (a surge pod would find no free node); its
# README says that needs at least two nodes. A system pool may have one node (minSize 1): required anti-affinity
# would keep the second replica Pending there, or make the autoscaler add a system node just for it. So ours is
# *preferred* (same term, weight 100): the replicas spread when there are two system nodes, share one otherwise,
# and base/deployment.yaml's maxUnavailable 0 stays (a surge pod can always be placed).
REPLICAS = 2
MIN_AVAILABLE = 1
HOSTNAME = "kubernetes.io/hostname"
STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}


def minor_key(version: str) -> tuple[int, int]:
    """A Kubernetes minor ("1.35") as a comparable pair."""
    major, _, minor = version.partition(".")
    return int(major), int(minor)


def release_for(version: str) -> str:
    """The metrics-server release for a cluster's Kubernetes minor: the newest one whose line supports it."""
    for tag, oldest in sorted(RELEASES.items(), key=lambda r: minor_key(r[1]), reverse=True):
        if minor_key(version) >= minor_key(oldest):
            return tag
    raise ValueError(f"no pinned metrics-server release supports Kubernetes {version} (oldest: "
                     f"{min(RELEASES.values(), key=minor_key)})")


def image(version: str) -> str:
    """The image of the release for this Kubernetes minor."""
    return f"{REPOSITORY}:{release_for(version)}"


def probe(path: str, **timing: int) -> dict[str, Any]:
    """base/deployment.yaml's probes: HTTPS on the named port, every 10 s, three failures."""
    return {"httpGet": {"path": path, "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10, "failureThreshold": 3,
            **timing}


READINESS = probe("/readyz", initialDelaySeconds=20)
LIVENESS = probe("/livez")
# The certificates metrics-server writes are a few KiB; a bound keeps a fault from filling the node's disk.
VOLUMES = [{"name": TMP, "emptyDir": {"sizeLimit": "16Mi"}}]
VOLUME_MOUNTS = [{"name": TMP, "mountPath": "/tmp"}]


def anti_affinity(selector: Mapping[str, str]) -> dict[str, Any]:
    """Upstream's anti-affinity term (one replica per hostname, pods of kube-system), as a preference."""
    term = {"labelSelector": {"matchLabels": dict(selector)}, "namespaces": [NAMESPACE], "topologyKey": HOSTNAME}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": term}]}}


def service_spec(selector: Mapping[str, str]) -> dict[str, Any]:
    """base/service.yaml: 443 to the pods' named https port."""
    return {"selector": dict(selector), "ports": [
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https", "appProtocol": "https"}]}


def pdb_spec(selector: Mapping[str, str]) -> dict[str, Any]:
    """components/high-availability/pdb.yaml: one replica stays up through voluntary disruptions."""
    return {"minAvailable": MIN_AVAILABLE, "selector": {"matchLabels": dict(selector)}}


def apiservice_spec() -> dict[str, Any]:
    """base/apiservice.yaml: the API server proxies metrics.k8s.io/v1beta1 to the Service.

    insecureSkipTLSVerify as upstream: metrics-server serves a self-signed certificate it makes at start (in
    --cert-dir), so there is no CA to give; the API server reaches it over the pod network with TLS still on."""
    return {"service": {"name": NAME, "namespace": NAMESPACE}, "group": API_GROUP, "version": API_VERSION,
            "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100, "versionPriority": 100}


def service_account_subjects() -> list[dict[str, str]]:
    """The subjects of every binding: metrics-server's own service account."""
    return [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]


def role_ref(kind: str, name: str) -> dict[str, str]:
    """A roleRef to a Role or ClusterRole."""
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def unique_tolerations(tolerations: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """Tolerations in order, each once (several system pools may carry the same taint)."""
    seen: list[dict[str, str]] = []
    for t in tolerations:
        if dict(t) not in seen:
            seen.append(dict(t))
    return seen
