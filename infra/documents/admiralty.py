"""Admiralty custom resources as typed objects, validated against the pinned chart's CRD schemas (pure).

The schemas are in infra/documents/crds/admiralty/; infra/documents/crd.py validates against them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from infra.documents.crd import CustomResourceError, validate_custom_resource

__all__ = ["API_VERSION", "CustomResourceError", "KubeconfigSecretRef", "source", "target", "validate_custom_resource"]

API_VERSION = "multicluster.admiralty.io/v1alpha1"
ELECT_ANNOTATION = "multicluster.admiralty.io/elect"
# Read by the webhook only, as YAML/JSON of a PodSpec of which nodeSelector, tolerations, affinity and
# topologySpreadConstraints are applied to the proxy pod (pkg/webhooks/proxypod/proxypod.go @v0.17.0): the only
# place where a preference between targets counts; affinity in the pod's own spec is used inside the target.
CONSTRAINTS_ANNOTATION = "multicluster.admiralty.io/proxy-pod-scheduling-constraints"
FEDERATED_NAMESPACE_LABEL = {"multicluster-scheduler": "enabled"}
# Elected pods carry this label too: the chart's webhook (failurePolicy Fail, selected by namespace only) gets an
# objectSelector on it, so a down webhook blocks no other pod of the namespace (the scheduler, JupyterLab).
ELECTED_LABEL = {"cloudviper.io/federated": "true"}
RELEASE = "admiralty"  # release name and fullnameOverride: the chart's object names below derive from it
WEBHOOK = f"{RELEASE}.multicluster.admiralty.io"  # templates/webhook.yaml @v0.17.0: "{{fullname}}.multicluster.admiralty.io"
# The chart's ClusterRoles (templates/cr.yaml @v0.17.0): what a source may do in a target namespace (pod chaperons,
# followed services/secrets/configmaps, pods/log get, pods/exec create), and read cluster summaries.
SOURCE_CLUSTER_ROLE = f"{RELEASE}-source"
SUMMARY_CLUSTER_ROLE = f"{RELEASE}-cluster-summary-viewer"
SYSTEM_POOL = {"cloudviper.io/pool-role": "system"}


def chart_values(eks: bool, system_tolerations: list[dict[str, str]]) -> dict[str, Any]:
    """Values of the chart at 0.17.0 (charts/multicluster-scheduler/values.yaml): placement is per component
    (controllerManager, which also serves the webhook; scheduler, both schedulers; restarter; postDeleteJob);
    the source controller is off, because the stack binds sources itself under the names the controller would use."""
    small = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    place = {"nodeSelector": dict(SYSTEM_POOL), "tolerations": list(system_tolerations)}
    values: dict[str, Any] = {
        "fullnameOverride": RELEASE,
        "sourceController": {"enabled": False},
        "controllerManager": {"resources": small, **place},
        "scheduler": {"resources": small, **place},
        "restarter": {"resources": small, **place},
        "postDeleteJob": {"resources": small, **place},
    }
    if eks:  # docs/operator_guide/installation.md @v0.17.0: "on EKS, use beta.eks.amazonaws.com/app-serving"
        values["controllerManager"]["certificateSignerName"] = "beta.eks.amazonaws.com/app-serving"
    return values


def source_binding_names(source_name: str, namespace: Optional[str]) -> tuple[str, str]:
    """The names Admiralty's source controller gives its bindings (pkg/controllers/source/controller.go and
    pkg/name/name.go @v0.17.0; docs/operator_guide/scheduling.md): RoleBinding `admiralty-source-<source>` and
    ClusterRoleBinding `admiralty-source-<ns>-<source>-cluster-summary-viewer` for a Source; for a ClusterSource
    `admiralty-cluster-source-<source>` and the same with `-cluster-summary-viewer`. The controller appends a hash
    when a variable part contains "-" (pkg/name/name.go FromParts); with the controller off these names are ours,
    so the plain form is used."""
    if namespace:
        return f"{RELEASE}-source-{source_name}", f"{RELEASE}-source-{namespace}-{source_name}-cluster-summary-viewer"
    return f"{RELEASE}-cluster-source-{source_name}", f"{RELEASE}-cluster-source-{source_name}-cluster-summary-viewer"


def virtual_node_label(namespaced: bool) -> str:
    """The virtual node label that names its target (pkg/model/virtualnode/model.go @v0.17.0)."""
    return "multicluster.admiralty.io/target-name" if namespaced else "multicluster.admiralty.io/cluster-target-name"


def proxy_constraints(weights: dict[str, int], cluster_targets: frozenset[str] = frozenset()) -> str:
    """The proxy-pod scheduling constraints: preferred node affinity for the targets with a weight, strongest first
    (the proxy scheduler's NodeAffinity score then ranks those virtual nodes above the others)."""
    terms = [{"weight": w, "preference": {"matchExpressions": [
        {"key": virtual_node_label(name not in cluster_targets), "operator": "In", "values": [name]}]}}
        for name, w in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])) if w > 0]
    return json.dumps({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}}} if terms
                      else {}, sort_keys=True)


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
