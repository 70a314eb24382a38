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
