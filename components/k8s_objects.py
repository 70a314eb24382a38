"""Building blocks for the Kubernetes objects our components render (hardened by default)."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from infra.documents.crd import crd_documents
from infra.documents.pods import restricted_security_context

__all__ = ["restricted_security_context"]

SYSTEM_POOL = {"cloudviper.io/pool-role": "system"}


def digest_of(text: str) -> str:
    """A short digest for a pod template annotation: a change restarts the pods, the value stays out."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def meta(name: str, namespace: Optional[str] = None, labels: Optional[dict[str, str]] = None,
         annotations: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """ObjectMetadata with our app labels."""
    m: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": name,
                                                 "app.kubernetes.io/managed-by": "cloudviper", **(labels or {})}}
    if namespace:
        m["namespace"] = namespace
    if annotations:
        m["annotations"] = annotations
    return m


def container(name: str, image: str, *, cpu: str, memory: str, cpu_limit: Optional[str] = None,
              args: Optional[list[str]] = None, env: Optional[list[dict[str, Any]]] = None,
              ports: Optional[list[dict[str, Any]]] = None, uid: int = 65534, **extra: Any) -> dict[str, Any]:
    """A container with memory request = limit, a CPU request and limit, and the restricted security context."""
    c: dict[str, Any] = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit or cpu, "memory": memory}},
        "securityContext": restricted_security_context(uid),
    }
    if args:
        c["args"] = args
    if env:
        c["env"] = env
    if ports:
        c["ports"] = ports
    c.update(extra)
    return c


def deployment_spec(name: str, pod: dict[str, Any], replicas: int = 1, labels: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """A Deployment spec selecting its pods by app name."""
    selector = {"app.kubernetes.io/name": name}
    return {
        "replicas": replicas,
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": {**selector, **(labels or {})}}, "spec": pod},
    }


def system_pod(service_account: str, containers: list[dict[str, Any]], priority: str = "system-cluster-critical",
               **extra: Any) -> dict[str, Any]:
    """Pod spec for a cluster add-on: on the system pool, own service account, restricted."""
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": True,
        "priorityClassName": priority,
        "nodeSelector": dict(SYSTEM_POOL),
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
        **extra,
    }


def service_account_with_cluster_role(name: str, sa_name: str, namespace: str, irsa: Any,
                                      rules: list[dict[str, Any]], opts: Any) -> Any:
    """A service account bound to an IAM role (IRSA, after its policies) and to a ClusterRole with these rules."""
    import pulumi
    import pulumi_kubernetes as k8s

    sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(sa_name, namespace, annotations={
        "eks.amazonaws.com/role-arn": irsa.arn}), opts=opts.merge(pulumi.ResourceOptions(depends_on=irsa.policies)))
    cr = k8s.rbac.v1.ClusterRole(f"{name}-cr", metadata=meta(sa_name), rules=rules, opts=opts)
    k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-crb", metadata=meta(sa_name),
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": sa_name},
        subjects=[{"kind": "ServiceAccount", "name": sa_name, "namespace": namespace}],
        opts=opts.merge(pulumi.ResourceOptions(depends_on=[cr])))
    return sa


def custom_resource(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """Send a custom resource built (and validated against its CRD) as a dict."""
    return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"],
                                            metadata=obj["metadata"], spec=obj["spec"], opts=opts)


# The type a CustomResourceDefinition had before apiextensions.k8s.io/v1; apiextensions.v1.CustomResourceDefinition
# adds it as an alias (pulumi_kubernetes/apiextensions/v1/CustomResourceDefinition.py _internal_init).
CRD_V1BETA1 = "kubernetes:apiextensions.k8s.io/v1beta1:CustomResourceDefinition"


def crds(name: str, project: str, opts: pulumi.ResourceOptions) -> list[k8s.apiextensions.CustomResource]:
    """One resource per CRD we ship for a project (infra/documents/crds/<project>/), named `{name}-crd-{kind}`.

    Registered through the untyped CustomResource class with apiVersion apiextensions.k8s.io/v1: the engine gets the
    same request as from apiextensions.v1.CustomResourceDefinition -- type token, inputs, the alias to the v1beta1
    type (tests/test_crd_loading.py compares them) -- but the SDK does not walk the typed JSONSchemaProps tree
    (reducing a union at every `items` and `additionalProperties`) over thousands of schema nodes: that walk was
    about a quarter of evaluating a stack with the Dask operator. The provider keys on the type token and the inputs
    (pulumi-kubernetes provider/pkg/provider/provider.go gvkFromURN, clients.IsCRD), not on the SDK class. What
    differs is the Python object: no typed `status` or `metadata.name` outputs, and `get` takes api_version and kind
    (pulumi_kubernetes/apiextensions/CustomResource.py); nothing here reads them.
    """
    alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=CRD_V1BETA1)])
    return [k8s.apiextensions.CustomResource(f"{name}-crd-{kind.lower()}", api_version="apiextensions.k8s.io/v1",
                                             kind="CustomResourceDefinition", metadata={"name": doc["metadata"]["name"]},
                                             spec=doc["spec"], opts=opts.merge(alias))
            for kind, doc in crd_documents(project).items()]
