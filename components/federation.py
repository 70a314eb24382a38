"""Multi-cluster federation with Admiralty: add-ons, the clusters we accept work from, the ones we send to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.k8s_objects import meta
from infra.config.federation import FederationConfig, FederationSourceConfig, FederationTargetConfig
from infra.documents.admiralty import KubeconfigSecretRef, source, target
from infra.documents.kubeconfig import token_kubeconfig
from infra.documents.rbac import READ, rule

NAMESPACE = "admiralty"
API = "rbac.authorization.k8s.io"
SOURCE_ROLE = "cloudviper-admiralty-source"
SUMMARY_ROLE = "cloudviper-admiralty-cluster-summaries"
# The chart's "source" ClusterRole: what a source cluster's Admiralty does in a target namespace.
SOURCE_RULES = [
    rule(["multicluster.admiralty.io"], ["podchaperons"],
         ["get", "list", "watch", "create", "update", "delete", "deletecollection", "patch"]),
    rule([""], ["services", "secrets", "configmaps"], ["get", "list", "watch", "create", "update", "delete"]),
]
SUMMARY_RULES = [rule(["multicluster.admiralty.io"], ["clustersummaries"], READ)]
CERT_MANAGER_REPO = "https://charts.jetstack.io"
ADMIRALTY_CHART = "oci://public.ecr.aws/admiralty/admiralty"


def admiralty_values(eks: bool) -> dict[str, Any]:
    """Chart values: resource requests everywhere; the EKS certificate signer on EKS."""
    small = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    values: dict[str, Any] = {"controllerManager": {"resources": small}, "scheduler": {"resources": small},
                              "proxyScheduler": {"resources": small}, "restarter": {"resources": small},
                              "nodeSelector": {"cloudviper.io/pool-role": "system"}}
    if eks:
        values["controllerManager"]["certificateSignerName"] = "beta.eks.amazonaws.com/app-serving"
    return values


class FederationAddons(pulumi.ComponentResource):
    """cert-manager, then Admiralty, as pinned Helm releases in dependency order."""

    def __init__(self, name: str, cfg: FederationConfig, provider: k8s.Provider, depends_on: Sequence[pulumi.Resource],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:Addons", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        cert_manager = k8s.helm.v3.Release(
            f"{name}-cert-manager", name="cert-manager", chart="cert-manager", version=cfg.cert_manager_version,
            repository_opts={"repo": CERT_MANAGER_REPO}, namespace="cert-manager", create_namespace=True,
            values={"crds": {"enabled": True}, "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
                    "nodeSelector": {"cloudviper.io/pool-role": "system"}},
            atomic=True, opts=k)
        self.admiralty = k8s.helm.v3.Release(
            f"{name}-admiralty", name="admiralty", chart=ADMIRALTY_CHART, version=cfg.admiralty_version,
            namespace=NAMESPACE, create_namespace=True, values=admiralty_values(eks=True), atomic=True,
            opts=k.merge(pulumi.ResourceOptions(depends_on=[cert_manager])))
        self.register_outputs({})


def custom_resource(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """Send a validated Admiralty object."""
    return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"],
                                            metadata=obj["metadata"], spec=obj["spec"], opts=opts)


class AcceptedSources(pulumi.ComponentResource):
    """Target side: per source, a service account, a long-lived token, the RBAC Admiralty needs, a Source,
    and a kubeconfig (secret output) the source stack reads."""

    kubeconfigs: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, sources: list[FederationSourceConfig], control_plane: ControlPlane,
                 endpoint: pulumi.Input[str], ca_data: pulumi.Input[str], depends_on: Sequence[pulumi.Resource],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:AcceptedSources", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider, depends_on=list(depends_on))
        k8s.rbac.v1.ClusterRole(f"{name}-source-role", metadata=meta(SOURCE_ROLE), rules=SOURCE_RULES, opts=k)
        k8s.rbac.v1.ClusterRole(f"{name}-summary-role", metadata=meta(SUMMARY_ROLE), rules=SUMMARY_RULES, opts=k)
        configs: dict[str, pulumi.Output[str]] = {}
        for s in sources:
            configs[s.name] = self._source(name, s, k, endpoint, ca_data)
        self.kubeconfigs = pulumi.Output.secret(pulumi.Output.all(**configs) if configs else {})
        self.register_outputs({})

    def _source(self, name: str, s: FederationSourceConfig, k: pulumi.ResourceOptions, endpoint: pulumi.Input[str],
                ca_data: pulumi.Input[str]) -> pulumi.Output[str]:
        ns = s.namespace or NAMESPACE
        sa_name = f"admiralty-source-{s.name}"
        rid = f"{name}-{s.name}"
        sa = k8s.core.v1.ServiceAccount(f"{rid}-sa", metadata=meta(sa_name, ns), automount_service_account_token=False, opts=k)
        # A token Secret the API server keeps valid until it is deleted (revoking the source = deleting it).
        token = k8s.core.v1.Secret(f"{rid}-token", metadata=meta(f"{sa_name}-token", ns, annotations={
            "kubernetes.io/service-account.name": sa_name}), type="kubernetes.io/service-account-token",
            opts=k.merge(pulumi.ResourceOptions(depends_on=[sa], additional_secret_outputs=["data"])))
        subject = [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}]
        if s.namespace:
            k8s.rbac.v1.RoleBinding(f"{rid}-rb", metadata=meta(sa_name, ns), subjects=subject,
                                    role_ref={"apiGroup": API, "kind": "ClusterRole", "name": SOURCE_ROLE}, opts=k)
        else:
            k8s.rbac.v1.ClusterRoleBinding(f"{rid}-crb", metadata=meta(sa_name), subjects=subject,
                                           role_ref={"apiGroup": API, "kind": "ClusterRole", "name": SOURCE_ROLE}, opts=k)
        k8s.rbac.v1.ClusterRoleBinding(f"{rid}-summaries", metadata=meta(f"{sa_name}-summaries"), subjects=subject,
                                       role_ref={"apiGroup": API, "kind": "ClusterRole", "name": SUMMARY_ROLE}, opts=k)
        custom_resource(f"{rid}-source", source(s.name, s.namespace, sa_name, ns), k)
        return pulumi.Output.all(endpoint, ca_data, token.data).apply(
            lambda v: token_kubeconfig(s.name, v[0], v[1], v[2]["token"], s.namespace))


def _pick(name: str) -> Any:
    return lambda values: values[name]


def _from_stack(t: FederationTargetConfig, source_name: str) -> pulumi.Output[str]:
    """The kubeconfig another stack of this project exports for us."""
    ref = pulumi.StackReference(f"federation-{t.name}", stack_name=t.stack)

    def pick(configs: Any) -> str:
        if not isinstance(configs, dict) or source_name not in configs:
            raise pulumi.RunError(
                f"cloudviper:federation.targets[{t.name}]: stack {t.stack} exports no federation credential for "
                f"source {source_name!r}; add {{name: {source_name}, namespace: ...}} to its cloudviper:federation.sources "
                "and `pulumi up` that stack first")
        return str(configs[source_name])

    return ref.get_output("federationKubeconfigs").apply(pick)


class FederationTargets(pulumi.ComponentResource):
    """Source side: per target, a kubeconfig Secret and a Target (namespaced) or ClusterTarget."""

    def __init__(self, name: str, targets: list[FederationTargetConfig], stack_name: str,
                 secret_values: pulumi.Output[dict[str, str]], provider: k8s.Provider,
                 depends_on: Sequence[pulumi.Resource], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:Targets", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        for t in targets:
            ns = t.namespace
            if t.kind == "self":
                obj = target(t.name, ns, self_target=True, excluded_labels_regexp=t.excluded_labels_regexp)
                custom_resource(f"{name}-{t.name}", obj, k)
                continue
            if t.kind == "stack":
                config = _from_stack(t, t.source_name or stack_name)
            else:
                config = secret_values.apply(_pick(str(t.kubeconfig_secret_value)))
            secret_name = f"admiralty-target-{t.name}"
            secret = k8s.core.v1.Secret(
                f"{name}-{t.name}-kubeconfig", metadata=meta(secret_name, ns or NAMESPACE), type="Opaque",
                string_data=pulumi.Output.secret(config.apply(lambda c: {"config": c})),  # type: ignore[arg-type]
                opts=k)
            obj = target(t.name, ns, secret=KubeconfigSecretRef(secret_name, "config", None if ns else NAMESPACE, t.context),
                         excluded_labels_regexp=t.excluded_labels_regexp)
            custom_resource(f"{name}-{t.name}", obj, k.merge(pulumi.ResourceOptions(depends_on=[secret])))
        self.register_outputs({})

