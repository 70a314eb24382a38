"""metrics-server as explicit objects: the resource metrics API behind `kubectl top` and HorizontalPodAutoscalers.

Not upstream's components.yaml applied as is: the policy pack and the validators see every object. The objects are
upstream's manifests/base at the release pinned for the cluster's minor (infra/documents/metrics_server.py), with
upstream's high-availability replicas and PDB, and our placement: the system pool, as the other add-ons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import SYSTEM_POOL, container, deployment_spec, meta, system_pod
from infra.documents import metrics_server as ms

# Every object carries upstream's k8s-app label; app.kubernetes.io/name is the add-on's name on all of them (meta()
# would otherwise take the object's name, and "system:metrics-server" is no valid label value).
COMMON_LABELS = {"app.kubernetes.io/name": ms.NAME, **ms.LABELS}
SELECTOR = {"app.kubernetes.io/name": ms.NAME}  # deployment_spec's selector; the Service and the PDB use it too
RBAC_API = "rbac.authorization.k8s.io/v1"


def _meta(name: str, namespace: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    return meta(name, namespace, labels={**COMMON_LABELS, **(labels or {})})


def pod_spec(version: str, system_tolerations: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    """The pod: upstream's container and volumes, on the system pool, as a restricted add-on pod."""
    c = container(
        ms.NAME, ms.image(version), cpu=ms.CPU, memory=ms.MEMORY,
        # The repo's add-on convention (container()): memory limit = request, so it is never OOM-killed for a
        # neighbour's use; a CPU limit of one core, as the autoscaler's, so start-up and scrapes are not throttled.
        cpu_limit="1",
        args=list(ms.ARGS), ports=[dict(p) for p in ms.PORTS],
        # uid 65534: the image's own USER (Dockerfile at v0.8.1 and v0.9.0) and container()'s default, instead of
        # base/deployment.yaml's runAsUser 1000; metrics-server writes only to its /tmp emptyDir, so any uid runs it.
        uid=65534,
        readinessProbe=ms.READINESS, livenessProbe=ms.LIVENESS, volumeMounts=[dict(v) for v in ms.VOLUME_MOUNTS],
    )
    tolerations = ms.unique_tolerations(system_tolerations)
    return system_pod(
        ms.NAME, [c], priority=ms.PRIORITY,
        nodeSelector={**SYSTEM_POOL, **ms.NODE_SELECTOR},  # the system pool, and upstream's linux-only selector
        volumes=[dict(v) for v in ms.VOLUMES], affinity=ms.anti_affinity(SELECTOR),
        **({"tolerations": tolerations} if tolerations else {}),
    )


def documents(version: str, system_tolerations: Sequence[Mapping[str, str]] = ()) -> dict[str, dict[str, Any]]:
    """Every object the component creates, as a manifest, keyed by the suffix of its Pulumi resource name."""
    sa = ms.service_account_subjects()
    return {
        "sa": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(ms.NAME, ms.NAMESPACE)},
        "reader": {"apiVersion": RBAC_API, "kind": "ClusterRole",
                   "metadata": _meta(ms.READER_ROLE, labels=ms.READER_LABELS), "rules": ms.READER_RULES},
        "cr": {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": _meta(ms.SERVER_ROLE),
               "rules": ms.SERVER_RULES},
        "auth-reader": {"apiVersion": RBAC_API, "kind": "RoleBinding",
                        "metadata": _meta(ms.AUTH_READER_BINDING, ms.NAMESPACE),
                        "roleRef": ms.role_ref("Role", ms.AUTH_READER_ROLE), "subjects": sa},
        "auth-delegator": {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding",
                           "metadata": _meta(ms.AUTH_DELEGATOR_BINDING),
                           "roleRef": ms.role_ref("ClusterRole", ms.AUTH_DELEGATOR_ROLE), "subjects": sa},
        "crb": {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": _meta(ms.SERVER_ROLE),
                "roleRef": ms.role_ref("ClusterRole", ms.SERVER_ROLE), "subjects": sa},
        "svc": {"apiVersion": "v1", "kind": "Service", "metadata": _meta(ms.NAME, ms.NAMESPACE),
                "spec": ms.service_spec(SELECTOR)},
        "deploy": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(ms.NAME, ms.NAMESPACE),
                   "spec": {**deployment_spec(ms.NAME, pod_spec(version, system_tolerations), replicas=ms.REPLICAS,
                                              labels=ms.LABELS), "strategy": ms.STRATEGY}},
        "pdb": {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(ms.NAME, ms.NAMESPACE),
                "spec": ms.pdb_spec(SELECTOR)},
        "apiservice": {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                       "metadata": _meta(ms.APISERVICE), "spec": ms.apiservice_spec()},
    }


RESOURCES: dict[str, Any] = {
    "ServiceAccount": k8s.core.v1.ServiceAccount, "ClusterRole": k8s.rbac.v1.ClusterRole,
    "RoleBinding": k8s.rbac.v1.RoleBinding, "ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
    "Service": k8s.core.v1.Service, "Deployment": k8s.apps.v1.Deployment,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget, "APIService": k8s.apiregistration.v1.APIService,
}


class MetricsServer(pulumi.ComponentResource):
    """metrics-server on the system pool: two replicas, a PDB, and the metrics.k8s.io APIService."""

    def __init__(self, name: str, version: str, provider: k8s.Provider,
                 system_tolerations: Sequence[Mapping[str, str]] = (),
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:addons:MetricsServer", name, None, opts)
        self.image = ms.image(version)
        k = pulumi.ResourceOptions(parent=self, provider=provider)
        made: dict[str, pulumi.CustomResource] = {}

        def add(key: str, doc: dict[str, Any], after: Sequence[str] = ()) -> None:
            fields = {("role_ref" if f == "roleRef" else f): v for f, v in doc.items() if f not in ("apiVersion", "kind")}
            made[key] = RESOURCES[doc["kind"]](
                f"{name}-{key}", opts=k.merge(pulumi.ResourceOptions(depends_on=[made[a] for a in after])), **fields)

        docs = documents(version, system_tolerations)
        after = {
            # A binding after the service account and the role it names (the built-in ones exist already).
            "auth-reader": ["sa"], "auth-delegator": ["sa"], "crb": ["sa", "cr"],
            # The pods start with their permissions in place: without them every scrape is Forbidden.
            "deploy": ["sa", "auth-reader", "auth-delegator", "crb"],
            # The APIService only once pods serve it (Pulumi waits for the Deployment's rollout), and on destroy it
            # goes first: an APIService without a backend fails API discovery, which blocks namespace deletion.
            "apiservice": ["deploy", "svc"],
        }
        for key, doc in docs.items():
            add(key, doc, after.get(key, ()))
        self.deployment = made["deploy"]
        self.register_outputs({"image": self.image})
