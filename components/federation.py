"""Multi-cluster federation with Admiralty: add-ons, the clusters we accept work from, the ones we send to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.k8s_objects import custom_resource, meta
from components.workload_identity import s3_service_account
from infra.config.federation import FederationConfig, FederationSourceConfig, FederationTargetConfig
from infra.documents.admiralty import (
    ELECTED_LABEL,
    RELEASE,
    SOURCE_CLUSTER_ROLE,
    SUMMARY_CLUSTER_ROLE,
    WEBHOOK,
    KubeconfigSecretRef,
    chart_values,
    source,
    source_binding_names,
    target,
)
from infra.documents.kubeconfig import token_kubeconfig

NAMESPACE = "admiralty"
API = "rbac.authorization.k8s.io"
CERT_MANAGER_REPO = "https://charts.jetstack.io"
ADMIRALTY_CHART = "oci://public.ecr.aws/admiralty/admiralty"


class FederationAddons(pulumi.ComponentResource):
    """cert-manager, then Admiralty, as pinned Helm releases in dependency order."""

    def __init__(self, name: str, cfg: FederationConfig, provider: k8s.Provider, depends_on: Sequence[pulumi.Resource],
                 system_tolerations: list[dict[str, str]], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:Addons", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        cert_manager = k8s.helm.v3.Release(
            f"{name}-cert-manager", name="cert-manager", chart="cert-manager", version=cfg.cert_manager_version,
            repository_opts={"repo": CERT_MANAGER_REPO}, namespace="cert-manager", create_namespace=True,
            values=cert_manager_values(system_tolerations),
            atomic=True, opts=k)
        self.admiralty = k8s.helm.v3.Release(
            f"{name}-admiralty", name=RELEASE, chart=ADMIRALTY_CHART, version=cfg.admiralty_version,
            namespace=NAMESPACE, create_namespace=True, values=chart_values(True, system_tolerations), atomic=True,
            opts=k.merge(pulumi.ResourceOptions(depends_on=[cert_manager])))
        # The chart's webhook has failurePolicy Fail and selects by namespace only (templates/webhook.yaml @v0.17.0),
        # so while it is down no pod of a federated namespace could start. Narrowed to elected pods (which carry
        # ELECTED_LABEL; it mutates no others, pkg/webhooks/proxypod/proxypod.go) by a server-side-apply patch of
        # that one field; Helm's three-way merge keeps fields the chart does not set.
        k8s.admissionregistration.v1.MutatingWebhookConfigurationPatch(
            f"{name}-admiralty-webhook-scope", metadata={"name": RELEASE, "annotations": {
                "pulumi.com/patchForce": "true"}},
            webhooks=[{"name": WEBHOOK, "objectSelector": {"matchLabels": dict(ELECTED_LABEL)}}],
            opts=k.merge(pulumi.ResourceOptions(depends_on=[self.admiralty], replace_with=[self.admiralty])))
        self.register_outputs({})


def cert_manager_values(system_tolerations: list[dict[str, str]]) -> dict[str, Any]:
    """cert-manager v1.16.2 places each pod from its own keys (deploy/charts/cert-manager/values.yaml: the top-level
    resources, nodeSelector and tolerations are the controller's; webhook.*, cainjector.* and startupapicheck.*
    place the others), so every part is pinned to the system pool."""
    place = {"nodeSelector": {"cloudviper.io/pool-role": "system"}, "tolerations": list(system_tolerations)}
    return {"crds": {"enabled": True}, "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}}, **place,
            **{part: dict(place) for part in ("webhook", "cainjector", "startupapicheck")}}


@dataclass(frozen=True)
class SourceAccess:
    """What a source's delegated pods need here: the stack's buckets (each service account gets its own IAM role)."""

    control_plane: ControlPlane
    endpoint: pulumi.Input[str]
    ca_data: pulumi.Input[str]
    bucket_arns: Sequence[pulumi.Input[str]]
    kms_key_arn: Optional[pulumi.Input[str]]


class AcceptedSources(pulumi.ComponentResource):
    """Target side: per source, a service account with a long-lived token, the bindings Admiralty's source controller
    would create (it is off: sourceController.enabled=false), a Source, the service accounts its delegated pods run
    as, and a kubeconfig (secret output) the source stack reads."""

    kubeconfigs: pulumi.Output[dict[str, str]]
    service_accounts: dict[str, list[str]]

    def __init__(self, name: str, sources: list[FederationSourceConfig], access: SourceAccess,
                 depends_on: Sequence[pulumi.Resource], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:AcceptedSources", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=access.control_plane.k8s_provider, depends_on=list(depends_on))
        configs: dict[str, pulumi.Output[str]] = {}
        self.service_accounts = {}
        for s in sources:
            configs[s.name] = self._source(name, s, k, access)
            for sa in s.service_accounts:
                # Delegated pods keep serviceAccountName (pkg/model/delegatepod/model.go @v0.17.0), and admission
                # refuses a pod whose service account does not exist.
                s3_service_account(f"{name}-{s.name}", str(s.namespace or "default"), sa, access.control_plane,
                                   access.bucket_arns, access.kms_key_arn, self, k, automount=False)
            self.service_accounts[s.name] = list(s.service_accounts)
        self.kubeconfigs = pulumi.Output.secret(pulumi.Output.all(**configs) if configs else {})
        self.register_outputs({})

    def _source(self, name: str, s: FederationSourceConfig, k: pulumi.ResourceOptions, access: SourceAccess) -> pulumi.Output[str]:
        ns = s.namespace or NAMESPACE
        sa_name = f"admiralty-source-{s.name}"
        rid = f"{name}-{s.name}"
        sa = k8s.core.v1.ServiceAccount(f"{rid}-sa", metadata=meta(sa_name, ns), automount_service_account_token=False, opts=k)
        # A token Secret the API server keeps valid until it is deleted (revoking the source = deleting it).
        token = k8s.core.v1.Secret(f"{rid}-token", metadata=meta(f"{sa_name}-token", ns, annotations={
            "kubernetes.io/service-account.name": sa_name}), type="kubernetes.io/service-account-token",
            opts=k.merge(pulumi.ResourceOptions(depends_on=[sa], additional_secret_outputs=["data"])))
        subject = [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}]
        rules_name, summary_name = source_binding_names(s.name, s.namespace)
        if s.namespace:
            k8s.rbac.v1.RoleBinding(f"{rid}-rb", metadata=meta(rules_name, ns), subjects=subject,
                                    role_ref={"apiGroup": API, "kind": "ClusterRole", "name": SOURCE_CLUSTER_ROLE}, opts=k)
        else:
            k8s.rbac.v1.ClusterRoleBinding(f"{rid}-crb", metadata=meta(rules_name), subjects=subject,
                                           role_ref={"apiGroup": API, "kind": "ClusterRole", "name": SOURCE_CLUSTER_ROLE},
                                           opts=k)
        k8s.rbac.v1.ClusterRoleBinding(f"{rid}-summaries", metadata=meta(summary_name), subjects=subject,
                                       role_ref={"apiGroup": API, "kind": "ClusterRole", "name": SUMMARY_CLUSTER_ROLE}, opts=k)
        custom_resource(f"{rid}-source", source(s.name, s.namespace, sa_name, ns), k)
        return pulumi.Output.all(access.endpoint, access.ca_data, token.data).apply(
            lambda v: token_kubeconfig(s.name, v[0], v[1], v[2]["token"], s.namespace))


def _pick(name: str) -> Any:
    return lambda values: values[name]


def _from_stack(t: FederationTargetConfig, source_name: str, ref: pulumi.StackReference,
                service_account: Optional[str]) -> pulumi.Output[str]:
    """The kubeconfig another stack of this project exports for us, once it also runs our delegated pods' service
    account (admission would refuse them otherwise)."""
    what = f"cloudviper:federation.targets[{t.name}]: stack {t.stack}"

    def pick(v: list[Any]) -> str:
        configs, accounts = v
        if not isinstance(configs, dict) or source_name not in configs:
            raise pulumi.RunError(
                f"{what} exports no federation credential for source {source_name!r}; add {{name: {source_name}, "
                "namespace: ...}} to its cloudviper:federation.sources and `pulumi up` that stack first")
        have = (accounts or {}).get(source_name, []) if isinstance(accounts, dict) else []
        if service_account and service_account not in have:
            raise pulumi.RunError(
                f"{what} has no service account {service_account!r} for our delegated pods (it has: "
                f"{', '.join(have) or 'none'}); add it to serviceAccounts of source {source_name} there and `pulumi up` it")
        return str(configs[source_name])

    return pulumi.Output.all(ref.get_output("federationKubeconfigs"), ref.get_output("federationServiceAccounts")).apply(pick)


@dataclass(frozen=True)
class DaskReach:
    """The Dask workers this stack federates: their namespace and service account."""

    namespace: str
    service_account: str


class FederationTargets(pulumi.ComponentResource):
    """Source side: per target, a kubeconfig Secret and a Target (namespaced) or ClusterTarget (once a target stack
    also runs our workers' service account)."""

    def __init__(self, name: str, targets: list[FederationTargetConfig], stack_name: str,
                 secret_values: pulumi.Output[dict[str, str]], provider: k8s.Provider,
                 depends_on: Sequence[pulumi.Resource], references: dict[str, pulumi.StackReference],
                 dask: Optional[DaskReach], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:federation:Targets", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        for t in targets:
            ns = t.namespace
            if t.kind == "self":
                obj = target(t.name, ns, self_target=True, excluded_labels_regexp=t.excluded_labels_regexp)
                custom_resource(f"{name}-{t.name}", obj, k)
                continue
            runs_dask = dask is not None and ns in (None, dask.namespace)
            if t.kind == "stack":
                config = _from_stack(t, t.source_name or stack_name, references[f"t:{t.name}"],
                                     dask.service_account if dask and runs_dask else None)
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
