"""EKS AL2023 node user data: a MIME multi-part document carrying a nodeadm NodeConfig (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart

import yaml

NODECONFIG_MEDIA_TYPE = "application/node.eks.aws"


@dataclass(frozen=True)
class ClusterJoin:
    """What a node needs to join the cluster."""

    name: str
    endpoint: str
    certificate_authority: str  # base64 PEM, as EKS reports it
    service_cidr: str


def node_config(join: ClusterJoin, labels: dict[str, str], taints: list[tuple[str, str, str]],
                local_storage: bool = False, image_reserve_gib: int = 0) -> dict:
    """The NodeConfig object: cluster identity, kubelet flags for labels and taints, optionally the
    instance store as one RAID0 array under the kubelet (so emptyDir spill lands on NVMe), and local disk
    held back from pods for container images (systemReserved ephemeral-storage: images share the kubelet's
    file system but are not subtracted from allocatable, so full spills plus images would cross the
    10 % eviction line).

    spec.kubelet.config is written as a kubelet drop-in that the kubelet merges over nodeadm's config
    (awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go @v20260724)."""
    flags = []
    if labels:
        flags.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if taints:
        flags.append("--register-with-taints=" + ",".join(f"{k}={v}:{e}" for k, v, e in taints))
    spec: dict = {
        "cluster": {
            "name": join.name,
            "apiServerEndpoint": join.endpoint,
            "certificateAuthority": join.certificate_authority,
            "cidr": join.service_cidr,
        },
    }
    kubelet: dict = {}
    if image_reserve_gib:
        kubelet["config"] = {"systemReserved": {"ephemeral-storage": f"{image_reserve_gib}Gi"}}
    if flags:
        kubelet["flags"] = flags
    if kubelet:
        spec["kubelet"] = kubelet
    if local_storage:  # nodeadm setup-local-disks raid0: /var/lib/kubelet and /var/lib/containerd move onto it
        spec["instance"] = {"localStorage": {"strategy": "RAID0"}}
    return {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig", "spec": spec}


def render_user_data(join: ClusterJoin, labels: dict[str, str], taints: list[tuple[str, str, str]],
                     local_storage: bool = False, image_reserve_gib: int = 0) -> str:
    """MIME multi-part user data with one NodeConfig part (nodeadm reads it at boot)."""
    message = MIMEMultipart(boundary="==CLOUDVIPER==")
    part = MIMENonMultipart(*NODECONFIG_MEDIA_TYPE.split("/"))
    part.set_payload("---\n" + yaml.safe_dump(node_config(join, labels, taints, local_storage, image_reserve_gib), sort_keys=False))
    message.attach(part)
    return message.as_string()
