"""Admiralty custom resources as typed objects, validated against the pinned chart's CRD schemas (pure).

The schemas (infra/documents/crds/admiralty/) are structural, so the API server would silently prune
any field they do not name; validation therefore also refuses unknown fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Optional

import jsonschema
import yaml

API_VERSION = "multicluster.admiralty.io/v1alpha1"
CRD_DIR = Path(__file__).resolve().parent / "crds" / "admiralty"
ELECT_ANNOTATION = "multicluster.admiralty.io/elect"
FEDERATED_NAMESPACE_LABEL = {"multicluster-scheduler": "enabled"}


class CustomResourceError(ValueError):
    """An object the CRD would reject or silently prune."""


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of an Admiralty kind (Target, ClusterTarget, Source, ClusterSource)."""
    doc = yaml.safe_load((CRD_DIR / f"{kind.lower()}.yaml").read_text())
    (version,) = [v for v in doc["spec"]["versions"] if v["name"] == API_VERSION.split("/")[1]]
    return dict(version["schema"]["openAPIV3Schema"])


def crd_scope(kind: str) -> str:
    """Namespaced or Cluster."""
    return str(yaml.safe_load((CRD_DIR / f"{kind.lower()}.yaml").read_text())["spec"]["scope"])


def _unknown_fields(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    if not isinstance(value, dict) or schema.get("type") != "object" or "properties" not in schema:
        return []
    found = []
    for key, child in value.items():
        if key not in schema["properties"]:
            found.append(f"{path}.{key}")
        else:
            found += _unknown_fields(child, schema["properties"][key], f"{path}.{key}")
    return found


def validate_custom_resource(obj: dict[str, Any]) -> None:
    """Raise CustomResourceError unless the object fits its CRD (no pruned fields, right scope)."""
    kind = obj.get("kind", "")
    if obj.get("apiVersion") != API_VERSION or not (CRD_DIR / f"{str(kind).lower()}.yaml").exists():
        raise CustomResourceError(f"{obj.get('apiVersion')}/{kind} is not an Admiralty kind we ship a schema for")
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    schema = crd_schema(kind)
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as exc:
        raise CustomResourceError(f"{kind} {obj.get('metadata', {}).get('name')}: {exc.message} at "
                                  f"{'/'.join(map(str, exc.absolute_path))}") from None
    unknown = _unknown_fields(body, schema, kind)
    if unknown:
        raise CustomResourceError(f"{kind}: {', '.join(unknown)} not in the CRD schema (the API server would drop it)")
    namespaced = "namespace" in obj.get("metadata", {})
    if namespaced != (crd_scope(kind) == "Namespaced"):
        raise CustomResourceError(f"{kind} is {crd_scope(kind)}-scoped; metadata.namespace "
                                  f"{'must' if crd_scope(kind) == 'Namespaced' else 'must not'} be set")


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
