"""Admiralty custom resources as typed objects, validated against the pinned chart's CRD schemas (pure).

The schemas are in infra/documents/crds/admiralty/; infra/documents/crd.py validates against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from infra.documents.crd import CustomResourceError, validate_custom_resource

__all__ = ["API_VERSION", "CustomResourceError", "KubeconfigSecretRef", "source", "target", "validate_custom_resource"]

API_VERSION = "multicluster.admiralty.io/v1alpha1"
ELECT_ANNOTATION = "multicluster.admiralty.io/elect"
FEDERATED_NAMESPACE_LABEL = {"multicluster-scheduler": "enabled"}


@dataclass(frozen=True)
class KubeconfigSecretRef:
    """Where a Target finds its kubeconfig."""

    name: str
    key: str = "config"
    namespace: Optional[str] = None  # ClusterTarget only
    context: Optional[str] = None


def target(name: str, namespace: Optional[str], *, self_target: bool = False,
           secret: Optional[KubeconfigSecretRef] = None, excluded_labels_regexp: Optional[str] = None) -> dict[str, Any]:
    """A Target (namespace given) or ClusterTarget, validated."""
    spec: dict[str, Any] = {}
    if self_target:
        spec["self"] = True
    if secret is not None:
        ref = {"name": secret.name, "key": secret.key}
        if secret.context:
            ref["context"] = secret.context
        if namespace is None and secret.namespace:
            ref["namespace"] = secret.namespace
        spec["kubeconfigSecret"] = ref
    if excluded_labels_regexp:
        spec["excludedLabelsRegexp"] = excluded_labels_regexp
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    obj = {"apiVersion": API_VERSION, "kind": "Target" if namespace else "ClusterTarget", "metadata": meta, "spec": spec}
    validate_custom_resource(obj)
    return obj


def source(name: str, namespace: Optional[str], service_account: str, service_account_namespace: str) -> dict[str, Any]:
    """A Source (namespace given, its service account lives there) or ClusterSource, validated."""
    if namespace:
        obj = {"apiVersion": API_VERSION, "kind": "Source", "metadata": {"name": name, "namespace": namespace},
               "spec": {"serviceAccountName": service_account}}
    else:
        obj = {"apiVersion": API_VERSION, "kind": "ClusterSource", "metadata": {"name": name},
               "spec": {"serviceAccount": {"name": service_account, "namespace": service_account_namespace}}}
    validate_custom_resource(obj)
    return obj
