"""Device plugins for GPU and EFA pools (explicit DaemonSets), so their nodes advertise nvidia.com/gpu and
vpc.amazonaws.com/efa and the pods asking for them can run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from infra.config.pools import NodeGroupConfig
from infra.documents.accelerators import efa_device_plugin, nvidia_device_plugin


class DevicePlugins(pulumi.ComponentResource):
    """NVIDIA's device plugin on the GPU pools, AWS's EFA device plugin on the EFA pools (none without such pools)."""

    def __init__(self, name: str, pools: Sequence[NodeGroupConfig], provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:addons:DevicePlugins", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider)
        docs = [(kind, render(pools)) for kind, render, wanted in (
            ("nvidia", nvidia_device_plugin, any(p.gpu for p in pools)),
            ("efa", efa_device_plugin, any(p.efa for p in pools))) if wanted]
        for kind, doc in docs:
            k8s.apps.v1.DaemonSet(f"{name}-{kind}", metadata=doc["metadata"], spec=doc["spec"], opts=k)
        self.register_outputs({"devicePlugins": [doc["metadata"]["name"] for _, doc in docs]})
