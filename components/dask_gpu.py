"""The GPU Dask cluster `dask-gpu`: its own scheduler and adaptive dask-cuda workers on a GPU pool, in the Dask
namespace (same operator, service account and S3 access as the CPU cluster). infra/config/dask_gpu.py says why it
is a cluster of its own and not a worker group of the CPU one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.dask_objects import dask_cluster_resources
from components.k8s_objects import meta
from infra.config.dask import IMAGE_GID, IMAGE_UID, DaskConfig
from infra.config.dask_gpu import GPU_IMAGE_UID
from infra.config.pools import NodeGroupConfig
from infra.documents import dask as d
from infra.documents.dask_gpu import GPU_CLUSTER, gpu_worker_container


@dataclass(frozen=True)
class DaskGpuArgs:
    """What the GPU cluster is built from (the CPU cluster's scheduler image and pool serve its scheduler)."""

    config: DaskConfig
    scheduler_pool: NodeGroupConfig
    gpu_pool: NodeGroupConfig
    scheduler_image: pulumi.Input[str]
    region: str


class DaskGpuCluster(pulumi.ComponentResource):
    """DaskCluster `dask-gpu` + its DaskAutoscaler, and the NetworkPolicies of its pods."""

    def __init__(self, name: str, args: DaskGpuArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:DaskGpuCluster", name, None, opts)
        cfg, g, ns = args.config, args.config.gpu_workers, args.config.namespace
        assert g is not None
        k = (opts or pulumi.ResourceOptions()).merge(pulumi.ResourceOptions(parent=self))
        self.scheduler_address = f"tcp://{d.scheduler_host(GPU_CLUSTER, ns)}:{d.COMM_PORT}"
        http = f"http://{d.scheduler_host(GPU_CLUSTER, ns)}:{d.DASHBOARD_PORT}"
        spec = pulumi.Output.from_input(args.scheduler_image).apply(lambda img: d.dask_cluster(
            GPU_CLUSTER, ns,
            scheduler_pod=d.pod_spec("dask", args.scheduler_pool, [d.scheduler_container(cfg, img, IMAGE_UID, IMAGE_GID)],
                                     IMAGE_UID, IMAGE_GID, "1Gi"),
            # no group: the image's user keeps its own (conda, which owns /opt/conda; infra/config/dask_gpu.py)
            worker_pod=d.pod_spec("dask", args.gpu_pool, [gpu_worker_container(
                cfg, g, g.image, args.region, GPU_IMAGE_UID, http)], GPU_IMAGE_UID, None, g.spill,
                terminationGracePeriodSeconds=cfg.termination_grace_seconds),
            worker_annotations={})["spec"])
        dask_cluster_resources(f"{name}-cluster", f"{name}-autoscaler", GPU_CLUSTER, ns, spec, g.minimum, g.maximum, k)
        self._network_policies(name, cfg, k)
        self.register_outputs({"schedulerAddress": self.scheduler_address})

    def _network_policies(self, name: str, cfg: DaskConfig, k: pulumi.ResourceOptions) -> None:
        """As the CPU cluster's: the namespace's pods and the client namespaces reach the scheduler; the namespace's
        pods reach the workers, on every port (dask-cuda's nanny takes a random one)."""
        ns = cfg.namespace
        clients = d.scheduler_clients(cfg)
        scheduler_ports = [{"protocol": "TCP", "port": p} for p in (d.COMM_PORT, d.DASHBOARD_PORT)]
        for target, selector, rule in (
                ("scheduler", d.SCHEDULER_LABELS, {"from": clients, "ports": scheduler_ports}),
                ("worker", d.WORKER_LABELS, {"from": [{"podSelector": {}}]})):
            k8s.networking.v1.NetworkPolicy(f"{name}-{target}-ingress", metadata=meta(f"{GPU_CLUSTER}-{target}-ingress", ns),
                                            spec={"podSelector": {"matchLabels": {"dask.org/cluster-name": GPU_CLUSTER,
                                                                                  **selector}},
                                                  "policyTypes": ["Ingress"], "ingress": [rule]}, opts=k)
