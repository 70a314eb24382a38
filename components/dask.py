"""A spot-safe, adaptive Dask cluster: scheduler on on-demand capacity, workers on spot, S3 through IRSA.

The dask-kubernetes operator runs it from a DaskCluster; a DaskAutoscaler keeps the workers at the
scheduler's adaptive target between minimum and maximum (0 lets the workers' nodes go). Workers retire
through the scheduler's HTTP API in their preStop hook, so their results move to surviving workers
before a spot node goes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.dask_gpu import DaskGpuArgs, DaskGpuCluster
from components.dask_objects import dask_cluster_resources
from components.dask_operator import DaskOperator
from components.jupyter import JupyterArgs, JupyterLab
from components.k8s_objects import meta
from components.namespaces import create_namespace
from components.workload_identity import s3_service_account
from infra.config.arkouda import ArkoudaConfig
from infra.config.dask import IMAGE_GID, IMAGE_UID, DaskConfig
from infra.config.namespaces import NamespaceConfig, QuotaConfig
from infra.config.pools import NodeGroupConfig
from infra.documents import dask as d
from infra.documents.admiralty import (
    CONSTRAINTS_ANNOTATION,
    ELECT_ANNOTATION,
    ELECTED_LABEL,
    FEDERATED_NAMESPACE_LABEL,
    proxy_constraints,
)
from infra.documents.rbac import port_forward_rules

CLUSTER = d.CLUSTER


@dataclass(frozen=True)
class DaskArgs:
    """What the Dask cluster is built from."""

    config: DaskConfig
    control_plane: ControlPlane
    scheduler_pool: NodeGroupConfig
    worker_pool: NodeGroupConfig
    bucket_arns: Sequence[pulumi.Input[str]]
    kms_key_arn: Optional[pulumi.Input[str]]
    secret_values: pulumi.Output[dict[str, str]]
    region: str
    quota: QuotaConfig  # the namespace's budget (config, or what the stack runs at its largest)
    image: pulumi.Input[str]  # the Dask image, resolved (an `ecr:<tag>` becomes the stack's repository)
    jupyter_image: pulumi.Input[str]
    storage_class: Optional[pulumi.Resource] = None  # gp3-encrypted, when JupyterLab keeps its home
    federation: Optional[DaskFederation] = None  # when workers.federated
    arkouda: Optional[ArkoudaConfig] = None  # JupyterLab gets Arkouda's address and client token
    gpu_pool: Optional[NodeGroupConfig] = None  # when gpuWorkers: the GPU cluster's workers run there


@dataclass(frozen=True)
class DaskFederation:
    """Where federated workers may go: target weights (fill local first), and the networks of targets that reach the
    scheduler through its internal load balancer (none: no load balancer)."""

    weights: dict[str, int]
    cluster_targets: frozenset[str]  # ClusterTargets (their virtual nodes carry another label than Targets')
    peer_cidrs: Optional[pulumi.Output[list[str]]]


class DaskCluster(pulumi.ComponentResource):
    """Namespace, operator, IRSA service account, DaskCluster + DaskAutoscaler, network policy, access, JupyterLab."""

    def __init__(self, name: str, args: DaskArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:DaskCluster", name, None, opts)
        cfg, cp, ns = args.config, args.control_plane, args.config.namespace
        k = pulumi.ResourceOptions(parent=self, provider=cp.k8s_provider)
        federated = FEDERATED_NAMESPACE_LABEL if cfg.workers.federated else None
        namespace = create_namespace(f"{name}-ns", NamespaceConfig.model_validate({"name": ns, "quota": args.quota}), k,
                                     federated)
        k = k.merge(pulumi.ResourceOptions(depends_on=[namespace]))
        self.scheduler_address = f"tcp://{d.scheduler_host(CLUSTER, ns)}:{d.COMM_PORT}"
        operator = DaskOperator(f"{name}-operator", ns, cp.k8s_provider, opts=k)
        dask_sa = s3_service_account(name, ns, "dask", cp, args.bucket_arns, args.kms_key_arn, self, k)
        self._cluster(name, args, k.merge(pulumi.ResourceOptions(depends_on=[operator, dask_sa])))
        self.gpu_scheduler_address: Optional[str] = None
        if cfg.gpu_workers is not None and args.gpu_pool is not None:
            gpu = DaskGpuCluster(f"{name}-gpu", DaskGpuArgs(
                config=cfg, scheduler_pool=args.scheduler_pool, gpu_pool=args.gpu_pool, scheduler_image=args.image,
                region=args.region),
                opts=k.merge(pulumi.ResourceOptions(parent=self, depends_on=[operator, dask_sa])))
            self.gpu_scheduler_address = gpu.scheduler_address
        peers = args.federation.peer_cidrs if args.federation else None
        self.peer_scheduler_host: Optional[pulumi.Output[str]] = None
        if peers is not None:
            self.peer_scheduler_host = self._peer_service(name, ns, peers, k)
        self._network_policy(name, cfg, k, peers)
        self._client_access(name, cfg, k)
        if cfg.jupyter.enabled:
            jupyter_sa = s3_service_account(name, ns, "jupyter", cp, args.bucket_arns, args.kms_key_arn, self, k)
            JupyterLab(f"{name}-jupyter", JupyterArgs(
                config=cfg, pool=args.scheduler_pool, image=args.jupyter_image,
                scheduler_address=self.scheduler_address, service_account=jupyter_sa,
                secret_values=args.secret_values, storage_class=args.storage_class, arkouda=args.arkouda),
                opts=k.merge(pulumi.ResourceOptions(parent=self)))
        self.register_outputs({"schedulerAddress": self.scheduler_address})

    def _cluster(self, name: str, args: DaskArgs, k: pulumi.ResourceOptions) -> None:
        """The DaskCluster and its DaskAutoscaler (validated against the operator's CRDs)."""
        cfg, ns = args.config, args.config.namespace
        http = f"http://{d.scheduler_host(CLUSTER, ns)}:{d.DASHBOARD_PORT}"
        image = pulumi.Output.from_input(args.image)
        spec = image.apply(lambda img: d.dask_cluster(
            CLUSTER, ns,
            scheduler_pod=d.pod_spec("dask", args.scheduler_pool, [d.scheduler_container(cfg, img, IMAGE_UID, IMAGE_GID)],
                                     IMAGE_UID, IMAGE_GID, "1Gi"),
            worker_pod=d.pod_spec("dask", args.worker_pool,
                                  [d.worker_container(cfg, img, args.region, IMAGE_UID, IMAGE_GID, http)],
                                  IMAGE_UID, IMAGE_GID, cfg.workers.spill,
                                  terminationGracePeriodSeconds=cfg.termination_grace_seconds),
            worker_annotations=worker_annotations(args.federation),
            worker_labels=dict(ELECTED_LABEL) if args.federation else {})["spec"])
        dask_cluster_resources(f"{name}-cluster", f"{name}-autoscaler", CLUSTER, ns, spec, cfg.workers.minimum,
                               cfg.workers.maximum, k)

    def _peer_service(self, name: str, ns: str, peers: pulumi.Output[list[str]], k: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The scheduler for delegated workers in other clusters: an internal NLB (cloud-provider-aws's service
        controller, which EKS runs: annotations `aws-load-balancer-type: nlb` and `aws-load-balancer-internal`), open
        only to the peers' networks (loadBalancerSourceRanges; the controller's default is 0.0.0.0/0 even for an
        internal one), keeping the client's address (externalTrafficPolicy Local) so the NetworkPolicy sees it.
        In this cluster clients keep the ClusterIP Service: an NLB with instance targets cannot hairpin."""
        svc = k8s.core.v1.Service(f"{name}-scheduler-peers", metadata=meta(f"{CLUSTER}-scheduler-peers", ns, annotations={
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            # One scheduler pod and externalTrafficPolicy Local: only its node is healthy, so every zone's address
            # must be able to reach it.
            "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true"}), spec={
            "type": "LoadBalancer", "externalTrafficPolicy": "Local", "loadBalancerSourceRanges": peers,
            "selector": {"dask.org/cluster-name": CLUSTER, **d.SCHEDULER_LABELS},
            "ports": [{"name": "tcp-comm", "protocol": "TCP", "port": d.COMM_PORT, "targetPort": "tcp-comm"},
                      {"name": "http-dashboard", "protocol": "TCP", "port": d.DASHBOARD_PORT, "targetPort": "http-dashboard"}]},
            opts=k)
        return svc.status.apply(_lb_hostname)

    def _network_policy(self, name: str, cfg: DaskConfig, k: pulumi.ResourceOptions,
                        peers: Optional[pulumi.Output[list[str]]]) -> None:
        """Only the namespace's pods (the operator, JupyterLab, the workers), the client namespaces and the federation
        peers' networks reach the scheduler (its HTTP API can retire workers); the namespace's pods and the peers'
        networks reach the workers."""
        ns = cfg.namespace
        clients = d.scheduler_clients(cfg)
        for target, selector, ports, sources in (
                ("dask-scheduler", d.SCHEDULER_LABELS, [d.COMM_PORT, d.DASHBOARD_PORT], clients),
                ("dask-worker", d.WORKER_LABELS, [d.WORKER_PORT, d.NANNY_PORT, d.WORKER_DASHBOARD_PORT],
                 [{"podSelector": {}}])):
            allowed: Any = sources if peers is None else peers.apply(functools.partial(with_ip_blocks, sources))
            k8s.networking.v1.NetworkPolicy(f"{name}-{target}-ingress", metadata=meta(f"{target}-ingress", ns), spec={
                "podSelector": {"matchLabels": {"dask.org/cluster-name": CLUSTER, **selector}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": allowed, "ports": [{"protocol": "TCP", "port": p} for p in ports]}],
            }, opts=k)

    def _client_access(self, name: str, cfg: DaskConfig, k: pulumi.ResourceOptions) -> None:
        """The users named in dask.users: port-forward to the scheduler (and JupyterLab), change the workers' range,
        start a culled JupyterLab again."""
        if not cfg.users:
            return
        ns = cfg.namespace
        role = "dask-client"
        k8s.rbac.v1.Role(f"{name}-client-role", metadata=meta(role, ns), rules=client_rules(), opts=k)
        subjects = [{"kind": "Group", "name": u.group, "apiGroup": "rbac.authorization.k8s.io"} if u.group else
                    {"kind": "User", "name": u.user, "apiGroup": "rbac.authorization.k8s.io"} for u in cfg.users]
        k8s.rbac.v1.RoleBinding(f"{name}-client-rb", metadata=meta(role, ns), role_ref={
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}, subjects=subjects, opts=k)


def _lb_hostname(status: Any) -> str:
    """The load balancer's DNS name from a Service's status."""
    return str(status.load_balancer.ingress[0].hostname)


def with_ip_blocks(peers: list[dict[str, Any]], cidrs: list[str]) -> list[dict[str, Any]]:
    """NetworkPolicy peers, and networks."""
    return [*peers, *({"ipBlock": {"cidr": c}} for c in cidrs)]


def worker_annotations(federation: Optional[DaskFederation]) -> dict[str, str]:
    """Elected for Admiralty, with the proxy-pod constraints that prefer the heaviest targets (the local one first)."""
    if federation is None:
        return {}
    return {ELECT_ANNOTATION: "", CONSTRAINTS_ANNOTATION: proxy_constraints(federation.weights, federation.cluster_targets)}


def client_rules() -> list[dict[str, Any]]:
    """Port-forward to the scheduler and JupyterLab, change the workers' range, scale JupyterLab back up."""
    return [
        *port_forward_rules(),
        {"apiGroups": ["kubernetes.dask.org"], "resources": ["daskautoscalers"], "verbs": ["get", "patch"],
         "resourceNames": [CLUSTER]},  # (list cannot be limited to names)
        {"apiGroups": ["kubernetes.dask.org"], "resources": ["daskclusters"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"], "resourceNames": ["jupyter"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch", "update"],
         "resourceNames": ["jupyter"]},
    ]
