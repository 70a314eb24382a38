"""Monitoring: Prometheus and Grafana (kube-prometheus-stack), cloudviper's dashboards, OpenCost, and the scrapes of
the stack's own workloads (PodMonitors, and NetworkPolicies where their namespace isolates them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.control_plane import ControlPlane
from components.k8s_objects import container, custom_resource, deployment_spec, meta
from components.namespaces import pod_security_labels
from infra.config.arkouda import ArkoudaConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.pools import NodeGroupConfig
from infra.documents import monitoring as m
from infra.documents.crd import validate_custom_resource
from infra.documents.dashboards import dashboards
from infra.documents.dask import tolerations
from infra.documents.rbac import port_forward_rules


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack and OpenCost as pinned Helm releases on the system pool, Grafana's admin password a
    generated stack secret, dashboards as ConfigMaps the Grafana sidecar loads, a PodMonitor per scrape target."""

    grafana_password: pulumi.Output[str]

    def __init__(self, name: str, cfg: MonitoringConfig, control_plane: ControlPlane, cluster_name: str, region: str,
                 account_id: pulumi.Input[str], system_pool: NodeGroupConfig, targets: Sequence[m.ScrapeTarget],
                 arkouda: Optional[ArkoudaConfig], depends_on: Sequence[pulumi.Resource], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:monitoring:Monitoring", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider, depends_on=list(depends_on))
        ns = cfg.namespace
        # Baseline: the charts' pods run as non-root, but OpenCost sets no securityContext (restricted would refuse it).
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata=meta(ns, labels=pod_security_labels("baseline",
                                                                                                      "restricted")),
                                          opts=k)
        inside = k.merge(pulumi.ResourceOptions(depends_on=[*depends_on, namespace]))
        password = random.RandomPassword(f"{name}-grafana-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.grafana_password = pulumi.Output.secret(password.result)
        admin = k8s.core.v1.Secret(f"{name}-grafana-admin", metadata=meta(m.GRAFANA_ADMIN_SECRET, ns),
                                   string_data={"admin-user": "admin", "admin-password": self.grafana_password},
                                   opts=inside)
        place = {"nodeSelector": {"cloudviper.io/pool-role": "system"}, "tolerations": tolerations(system_pool)}
        self.release = k8s.helm.v3.Release(
            f"{name}-kps", name=m.RELEASE, chart=m.KPS_CHART, version=m.KPS_VERSION,
            repository_opts={"repo": m.KPS_REPO}, namespace=ns, values=m.kps_values(cfg, place), atomic=True,
            timeout=900, opts=inside.merge(pulumi.ResourceOptions(depends_on=[*depends_on, namespace, admin])))
        for stem, board in sorted(dashboards().items()):
            k8s.core.v1.ConfigMap(f"{name}-dashboard-{stem}", metadata=meta(f"dashboard-{stem}", ns,
                                                                          labels=dict(m.DASHBOARD_LABEL)),
                                  data={f"{stem}.json": json.dumps(board, sort_keys=True)}, opts=inside)
        after_crds = inside.merge(pulumi.ResourceOptions(depends_on=[*depends_on, self.release]))
        for t in targets:
            self._scrape(name, cfg, t, after_crds)
        if cfg.opencost:
            feed = cfg.spot_data_feed
            policy = json.dumps(m.opencost_policy(feed.bucket if feed else None, feed.prefix if feed else ""))
            irsa = control_plane.irsa_role(f"{name}-opencost", ns, m.OPENCOST_SERVICE, policy=policy, parent=self)
            pricing = k8s.core.v1.ConfigMap(f"{name}-opencost-pricing", metadata=meta(m.OPENCOST_PRICING, ns),
                                            data=pulumi.Output.from_input(account_id).apply(
                                                lambda acct: m.opencost_pricing(cfg, acct, region)), opts=inside)
            values = irsa.arn.apply(lambda arn: m.opencost_values(cluster_name, arn, ns, place))
            k8s.helm.v3.Release(f"{name}-opencost", name=m.OPENCOST_SERVICE, chart=m.OPENCOST_CHART,
                                version=m.OPENCOST_VERSION, repository_opts={"repo": m.OPENCOST_REPO}, namespace=ns,
                                values=values, atomic=True,
                                opts=after_crds.merge(pulumi.ResourceOptions(depends_on=[*depends_on, self.release,
                                                                                         pricing])))
        if arkouda is not None:
            self._arkouda_exporter(name, cfg, arkouda, place, inside)
        self._grafana_access(name, cfg, inside)
        self.register_outputs({})

    def _scrape(self, name: str, cfg: MonitoringConfig, t: m.ScrapeTarget, k: pulumi.ResourceOptions) -> None:
        """A PodMonitor for the target, and where its namespace isolates pods, a policy admitting the scrapes."""
        obj = m.pod_monitor(t.name, t.namespace, t.selector, t.port_name)
        validate_custom_resource(obj)
        custom_resource(f"{name}-scrape-{t.name}", obj, k)
        if t.isolated:
            k8s.networking.v1.NetworkPolicy(f"{name}-admit-{t.name}", metadata=meta(f"{t.name}-metrics", t.namespace),
                                            spec={"podSelector": {"matchLabels": dict(t.selector)},
                                                  "policyTypes": ["Ingress"],
                                                  "ingress": [{"from": [m.scrapers(cfg.namespace)],
                                                               "ports": [{"protocol": "TCP", "port": t.port}]}]},
                                            opts=k)

    def _arkouda_exporter(self, name: str, cfg: MonitoringConfig, ak: ArkoudaConfig, place: dict[str, Any],
                          k: pulumi.ResourceOptions) -> None:
        """arkouda-contrib's exporter (here, off Arkouda's quota) polls the server's ZeroMQ metrics socket; Arkouda's
        namespace isolates its pods, so a policy admits this namespace to that one port of the server."""
        env = [{"name": k_, "value": v} for k_, v in m.arkouda_exporter_env(ak).items()]
        pod = {"nodeSelector": place["nodeSelector"], "tolerations": place["tolerations"],
               "automountServiceAccountToken": False, "enableServiceLinks": False,
               "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
               "containers": [container("exporter", ak.metrics_exporter_image, cpu="50m", cpu_limit="200m",
                                        memory="256Mi", env=env,
                                        ports=[{"name": "http", "containerPort": m.ARKOUDA_EXPORTER_PORT}],
                                        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])],
               "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]}
        spec = deployment_spec(m.ARKOUDA_EXPORTER_LABELS["app"], pod, labels=dict(m.ARKOUDA_EXPORTER_LABELS))
        k8s.apps.v1.Deployment(f"{name}-arkouda-exporter", metadata=meta(m.ARKOUDA_EXPORTER_LABELS["app"], cfg.namespace),
                               spec=spec, opts=k)
        k8s.networking.v1.NetworkPolicy(f"{name}-admit-arkouda", metadata=meta("arkouda-metrics", ak.namespace), spec={
            "podSelector": {"matchLabels": {"app": m.ARKOUDA_SERVER}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [m.scrapers(cfg.namespace)], "ports": [{"protocol": "TCP", "port": ak.metrics_port}]}]},
            opts=k)

    def _grafana_access(self, name: str, cfg: MonitoringConfig, k: pulumi.ResourceOptions) -> None:
        """monitoring.users may `kubectl port-forward svc/grafana` (nothing else in the namespace)."""
        if not cfg.users:
            return
        role = "grafana-viewer"
        k8s.rbac.v1.Role(f"{name}-grafana-role", metadata=meta(role, cfg.namespace), rules=port_forward_rules(),
                         opts=k)
        k8s.rbac.v1.RoleBinding(f"{name}-grafana-rb", metadata=meta(role, cfg.namespace), role_ref={
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            subjects=[{"kind": "Group", "name": u.group, "apiGroup": "rbac.authorization.k8s.io"} for u in cfg.users],
            opts=k)
