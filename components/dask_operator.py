"""The dask-kubernetes operator (2026.3.0) as explicit objects: its CRDs, and the controller in one namespace.

Not the Helm chart: the policy pack and the validators see every object. The CRDs are the chart's own
files (infra/documents/crds/dask/, equal to those in the pinned package); the controller runs
namespaced and standalone (kopf `--standalone --namespace`), so it needs no cluster-wide rights.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import SYSTEM_POOL, crds, meta, restricted_security_context
from infra.config.quotas import OPERATOR_POD
from infra.documents.dask import OPERATOR_IMAGE, operator_args, operator_rules

NAME = "dask-kubernetes-operator"


class DaskOperator(pulumi.ComponentResource):
    """CRDs (cluster-scoped) and the operator Deployment, with a Role in the namespace it serves."""

    def __init__(self, name: str, namespace: str, provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:DaskOperator", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider)
        self.crds = crds(name, "dask", k)
        sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(NAME, namespace), opts=k)
        role = k8s.rbac.v1.Role(f"{name}-role", metadata=meta(NAME, namespace), rules=operator_rules(), opts=k)
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-rb", metadata=meta(NAME, namespace),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
            opts=k.merge(pulumi.ResourceOptions(depends_on=[role])))
        res = {"cpu": OPERATOR_POD.cpu_request, "memory": OPERATOR_POD.memory}
        container = {
            "name": NAME, "image": OPERATOR_IMAGE, "imagePullPolicy": "IfNotPresent",
            "args": operator_args(namespace),
            # Events only for warnings: at the default (INFO) two 5-second timers post an Event each per run,
            # some 35,000 a day (dask_kubernetes/kubernetes.yaml controller.events; controller.py startup).
            "env": [{"name": "DASK_KUBERNETES__CONTROLLER__EVENTS__LEVEL", "value": "WARNING"}],
            "resources": {"requests": res, "limits": {"cpu": OPERATOR_POD.cpu_limit, "memory": OPERATOR_POD.memory}},
            # the chart's liveness probe (kopf's own health endpoint, not a busy event loop); the same
            # endpoint tells `kubectl rollout status` when the operator is up (the chart has no readiness)
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "timeoutSeconds": 5},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "timeoutSeconds": 5},
            "securityContext": restricted_security_context(uid=1000),
        }
        # The image is built for amd64 only: chartpress runs without --platform in the release workflow
        # (dask/dask-kubernetes .github/workflows/release.yml, operator/deployment/helm/chartpress.yaml).
        pod = {"serviceAccountName": NAME, "automountServiceAccountToken": True,
               "nodeSelector": {**SYSTEM_POOL, "kubernetes.io/arch": "amd64"},
               "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
               "containers": [container]}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deploy", metadata=meta(NAME, namespace),
            spec={"replicas": 1, "strategy": {"type": "Recreate"},
                  "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": NAME}}, "spec": pod}},
            opts=k.merge(pulumi.ResourceOptions(depends_on=[sa, binding, *self.crds])))
        # It accepts no connections (the kubelet's probes come from the node, which a NetworkPolicy
        # always admits: kubernetes.io/docs/concepts/services-networking/network-policies/).
        k8s.networking.v1.NetworkPolicy(f"{name}-ingress", metadata=meta(f"{NAME}-ingress", namespace), spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}}, "policyTypes": ["Ingress"],
            "ingress": []}, opts=k)
        self.register_outputs({})
