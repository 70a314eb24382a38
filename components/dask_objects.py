"""The custom resources every Dask cluster of the stack is made of: a DaskCluster and its DaskAutoscaler."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.documents import dask as d


def dask_cluster_resources(cluster_id: str, scaler_id: str, cluster: str, ns: str, spec: pulumi.Input[dict[str, Any]],
                           minimum: int, maximum: int, k: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """A DaskCluster and the DaskAutoscaler that keeps its default workers between minimum and maximum."""
    # The operator does not pass spec changes (but replicas) on to what it created (dask/dask-kubernetes#636,
    # #895): a new spec means a new cluster. delete_before_replace: the name is fixed.
    created = k8s.apiextensions.CustomResource(
        cluster_id, api_version=d.API_VERSION, kind="DaskCluster", metadata={"name": cluster, "namespace": ns},
        spec=spec, opts=k.merge(pulumi.ResourceOptions(replace_on_changes=["spec"], delete_before_replace=True)))
    # The operator makes the DaskCluster the autoscaler's owner (controller.py, daskautoscaler_create), so
    # deleting the cluster deletes the autoscaler with it; replace_with re-creates it with every new cluster.
    scaler = d.dask_autoscaler(cluster, ns, minimum, maximum)
    k8s.apiextensions.CustomResource(
        scaler_id, api_version=d.API_VERSION, kind="DaskAutoscaler", metadata=scaler["metadata"],
        spec=scaler["spec"], opts=k.merge(pulumi.ResourceOptions(
            depends_on=[created], replace_with=[created], delete_before_replace=True)))
    return created
