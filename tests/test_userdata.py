"""Node user data renders valid MIME with a NodeConfig carrying labels and taints (pure)."""

from __future__ import annotations

import email

import yaml

from infra.documents.userdata import NODECONFIG_MEDIA_TYPE, ClusterJoin, render_user_data

JOIN = ClusterJoin(name="c", endpoint="https://x.eks.amazonaws.com", certificate_authority="Q0E=", service_cidr="172.20.0.0/16")


def node_config_of(user_data: str) -> dict:
    message = email.message_from_string(user_data)
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    (part,) = [p for p in message.walk() if p.get_content_type() == NODECONFIG_MEDIA_TYPE]
    return yaml.safe_load(str(part.get_payload()))


def test_node_config_has_cluster_identity():
    doc = node_config_of(render_user_data(JOIN, {}, []))
    assert doc["apiVersion"] == "node.eks.aws/v1alpha1" and doc["kind"] == "NodeConfig"
    assert doc["spec"]["cluster"] == {"name": "c", "apiServerEndpoint": JOIN.endpoint,
                                      "certificateAuthority": "Q0E=", "cidr": "172.20.0.0/16"}
    assert "kubelet" not in doc["spec"]


def test_labels_and_taints_become_kubelet_flags():
    doc = node_config_of(render_user_data(JOIN, {"b": "2", "a": "1"},
                                          [("k8s.dask.org/dedicated", "worker", "NoSchedule"), ("x", "", "NoExecute")]))
    assert doc["spec"]["kubelet"]["flags"] == [
        "--node-labels=a=1,b=2",
        "--register-with-taints=k8s.dask.org/dedicated=worker:NoSchedule,x=:NoExecute",
    ]


def test_room_for_images_is_held_back_from_pods():
    # KubeletConfiguration systemReserved, merged by the kubelet from nodeadm's drop-in (nodeadm kubelet/config.go)
    doc = node_config_of(render_user_data(JOIN, {"a": "1"}, [], image_reserve_gib=15))
    assert doc["spec"]["kubelet"]["config"] == {"systemReserved": {"ephemeral-storage": "15Gi"}}
    assert doc["spec"]["kubelet"]["flags"] == ["--node-labels=a=1"]


def test_local_storage_asks_nodeadm_for_one_raid0_array():
    # awslabs/amazon-eks-ami nodeadm/api/v1alpha1/nodeconfig_types.go @v20260724: spec.instance.localStorage.strategy
    # is one of RAID0, RAID10, Mount; nodeadm/internal/system/local_disk.go runs `setup-local-disks raid0`, which
    # puts /var/lib/kubelet and /var/lib/containerd on the array (doc/usage/al2.md "RAID-0 for Kubelet and Containerd").
    doc = node_config_of(render_user_data(JOIN, {}, [], local_storage=True))
    assert doc["spec"]["instance"] == {"localStorage": {"strategy": "RAID0"}}
    assert "instance" not in node_config_of(render_user_data(JOIN, {}, []))["spec"]


def pool_node_config(cap, pool: str) -> dict:
    import base64

    lt = cap.one("aws:ec2/launchTemplate:LaunchTemplate", f"pool-{pool}-lt").props
    return node_config_of(base64.b64decode(lt["userData"]).decode())


def ephemeral_tag(cap, pool: str) -> str:
    (asg,) = [r for r in cap.of_type("aws:autoscaling/group:Group") if r.name.startswith(f"pool-{pool}-")][:1]
    tags = {t["key"]: t["value"] for t in asg.props["tags"]}
    return tags["k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage"]


def test_pools_with_instance_store_spill_to_nvme(run_stack):
    from tests.conftest import CLUSTER_CONFIG

    groups = [*CLUSTER_CONFIG["cloudviper:nodeGroups"],
              {"name": "nvme", "instanceTypes": ["m5d.xlarge", "m5dn.xlarge"], "maxSize": 2},
              {"name": "mixed", "instanceTypes": ["m5d.xlarge", "m5.xlarge"], "maxSize": 2},
              # x1e's store is SSD but not NVMe: setup-local-disks finds only NVMe disks
              {"name": "sata", "instanceTypes": ["x1e.xlarge"], "maxSize": 1}]
    cap = run_stack(cluster=CLUSTER_CONFIG["cloudviper:cluster"], nodeGroups=groups)
    assert pool_node_config(cap, "nvme")["spec"]["instance"] == {"localStorage": {"strategy": "RAID0"}}
    # a pool in which some type has no instance store keeps spill on the root volume
    assert "instance" not in pool_node_config(cap, "mixed")["spec"]
    assert "instance" not in pool_node_config(cap, "workers")["spec"]
    assert "instance" not in pool_node_config(cap, "sata")["spec"]
    assert pool_node_config(cap, "nvme")["spec"]["kubelet"]["config"]["systemReserved"] == {"ephemeral-storage": "15Gi"}
    # the autoscaler learns a node's ephemeral storage from this tag only, and it is the kubelet's allocatable:
    # 150 GB NVMe = 139.7 GiB x 0.9 (eviction) - 1 (kubeReserved) - 15 (images) = 110; root 50 GiB -> 29
    nvme, root = (int(ephemeral_tag(cap, p).removesuffix("Gi")) for p in ("nvme", "mixed"))
    assert (nvme, root) == (109, 29)
