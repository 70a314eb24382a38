"""Monitoring as data: kube-prometheus-stack and OpenCost Helm values, PodMonitors, the scrape-admitting peers (pure).

Pinned charts and where their keys were checked (tests/test_monitoring.py compares our values with the charts'
values.yaml key trees, tests/fixtures/chart-values/*.keys):
- kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3, values.yaml;
  operator v0.93.1, Prometheus v3.14.0, subcharts kube-state-metrics 8.4.0 (v2.20.0) and grafana 12.11.1 (13.2.0)).
  `…SelectorNilUsesHelmValues: false` makes Prometheus select every ServiceMonitor/PodMonitor in every namespace
  (templates/prometheus/prometheus.yaml); otherwise only those labelled `release: <release>`.
  EKS runs the control plane: kube-controller-manager, kube-scheduler and etcd have no pods to scrape, and EKS's
  kube-proxy binds its metrics to 127.0.0.1 (prometheus-operator/prometheus-operator#2461, helm-charts#977), so
  those four targets (and their rules) are off.
- opencost 2.5.17 (opencost/opencost-helm-chart charts/opencost, app 1.120.1): `opencost.prometheus.internal` names
  the Prometheus Service; `opencost.customPricing` becomes a ConfigMap whose keys OpenCost sets on its provider
  config (spotLabel/spotLabelValue: which nodes are spot; awsSpotDataBucket/Region/Prefix and projectID = account
  id: the spot data feed), opencost pkg/cloud/provider/providerconfig.go; docs website configuration/aws.mdx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.arkouda import ArkoudaConfig
from infra.config.base import bytes_of
from infra.config.monitoring import MonitoringConfig
from infra.config.pools import CAPACITY_LABEL
from infra.config.stack import StackConfig
from infra.documents.arkouda import CONTRACT
from infra.documents.dashboards import allowlist_flag
from infra.documents.dask import CLUSTER, DASHBOARD_PORT, SCHEDULER_LABELS, WORKER_DASHBOARD_PORT, WORKER_LABELS
from infra.documents.dask_gpu import GPU_CLUSTER
from infra.documents.termination import NTH_METRICS_PORT, NTH_METRICS_PORT_NAME

KPS_CHART, KPS_VERSION = "kube-prometheus-stack", "88.5.3"
KPS_REPO = "https://prometheus-community.github.io/helm-charts"
OPENCOST_CHART, OPENCOST_VERSION = "opencost", "2.5.17"
OPENCOST_REPO = "https://opencost.github.io/opencost-helm-chart"
RELEASE = "monitoring"  # fullnameOverride too: Services monitoring-prometheus (9090), grafana (80)
PROMETHEUS_SERVICE, PROMETHEUS_PORT = "monitoring-prometheus", 9090
GRAFANA_SERVICE, GRAFANA_ADMIN_SECRET = "grafana", "grafana-admin"
OPENCOST_SERVICE, OPENCOST_PRICING = "opencost", "opencost-pricing"
STORAGE_CLASS = "gp3-encrypted"
RETENTION_SHARE = 0.85  # Prometheus deletes the oldest blocks beyond this share of its volume (WAL and compaction room)
DASHBOARD_LABEL = {"grafana_dashboard": "1"}  # the grafana sidecar's default label (kps values grafana.sidecar)
# arkouda-contrib arkouda_metrics_exporter/client/arkouda_metrics_exporter/metrics.py (main, last changed in #162):
# serves prometheus_client's /metrics on METRICS_SCRAPE_PORT (default 5080) and polls the server's ZMQ metrics socket
# at ARKOUDA_METRICS_SERVICE_HOST:ARKOUDA_METRICS_SERVICE_PORT; the server's port 5556 itself is not HTTP.
ARKOUDA_EXPORTER_LABELS = {"app": "arkouda-metrics-exporter"}
ARKOUDA_EXPORTER_PORT = 5080
ARKOUDA_SERVER = CONTRACT.server_app  # the server pod's app label and Service name


def arkouda_exporter_env(ak: ArkoudaConfig) -> dict[str, str]:
    """The names metrics.py main() reads (its chart and METRICS.md set EXPORT_PORT, ARKOUDA_SERVER_NAME and
    POLLING_INTERVAL_SECONDS, which the code ignores)."""
    return {"ARKOUDA_METRICS_SERVICE_HOST": f"{ARKOUDA_SERVER}-metrics.{ak.namespace}.svc.cluster.local",
            "ARKOUDA_METRICS_SERVICE_PORT": str(ak.metrics_port), "ARKOUDA_METRICS_SERVER_NAME": ARKOUDA_SERVER,
            "METRICS_POLLING_INTERVAL": "15", "METRICS_SCRAPE_PORT": str(ARKOUDA_EXPORTER_PORT), "HOME": "/tmp"}


def retention_size(cfg: MonitoringConfig) -> str:
    """Prometheus's retentionSize: a share of the volume, in the GiB units Prometheus reads (`50GiB`)."""
    return f"{int(bytes_of(cfg.storage) * RETENTION_SHARE / 2**30)}GiB"


def _resources(cpu: str, memory: str, memory_limit: str | None = None) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit or memory}}


def kps_values(cfg: MonitoringConfig, place: dict[str, Any]) -> dict[str, Any]:
    """kube-prometheus-stack values: Prometheus with a kept gp3 volume, Grafana from a Secret and the dashboard
    sidecar, kube-state-metrics with the pool labels, everything on the system pool (`place`: nodeSelector and
    tolerations). No Alertmanager (nothing to route to: spending alarms are AWS Budgets'), no node-exporter (it
    needs host network, PID and filesystem on every node, workers included)."""
    return {
        "fullnameOverride": RELEASE,
        "alertmanager": {"enabled": False},
        "nodeExporter": {"enabled": False},
        **{k: {"enabled": False} for k in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")},
        "prometheusOperator": {**place, "resources": _resources("100m", "128Mi", "256Mi"),
                               "admissionWebhooks": {"patch": {**place}}},
        "prometheus": {"prometheusSpec": {
            **place,
            "retention": cfg.retention, "retentionSize": retention_size(cfg), "scrapeInterval": cfg.scrape_interval,
            "resources": _resources(cfg.prometheus_cpu, cfg.prometheus_memory),
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": STORAGE_CLASS, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": cfg.storage}}}}},
            "serviceMonitorSelectorNilUsesHelmValues": False, "podMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False}},
        "grafana": {
            **place, "fullnameOverride": GRAFANA_SERVICE,
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "resources": _resources("100m", "256Mi", "512Mi"),
            "sidecar": {"resources": _resources("10m", "64Mi", "128Mi"),
                        "dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1",
                                       "searchNamespace": cfg.namespace}},
        },
        "kube-state-metrics": {**place, "fullnameOverride": "kube-state-metrics",
                               "metricLabelsAllowlist": [allowlist_flag()], "resources": _resources("50m", "128Mi", "256Mi")},
    }


def opencost_values(cluster_name: str, role_arn: str, namespace: str, place: dict[str, Any]) -> dict[str, Any]:
    """OpenCost: Prometheus from kube-prometheus-stack, its own /metrics scraped through the chart's ServiceMonitor,
    spot nodes known by their capacity-type label, prices from AWS (spot: the spot data feed when configured, else
    DescribeSpotPriceHistory, else on-demand)."""
    return {
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "opencost": {
            **place,
            "exporter": {"defaultClusterId": cluster_name, "resources": _resources("50m", "256Mi", "1Gi")},
            "prometheus": {"internal": {"enabled": True, "serviceName": PROMETHEUS_SERVICE,
                                        "namespaceName": namespace, "port": PROMETHEUS_PORT}},
            # Without this OpenCost also publishes kube_node_labels, kube_pod_container_resource_requests, ... and
            # sums over them would count twice next to kube-state-metrics (values.yaml metrics.kubeStateMetrics).
            "metrics": {"serviceMonitor": {"enabled": True}, "kubeStateMetrics": {"emitKsmV1MetricsOnly": True}},
            "mcp": {"enabled": False},
            "ui": {"enabled": True, "resources": _resources("10m", "64Mi", "128Mi")},
            # Our own ConfigMap (opencost_pricing): the chart's would merge its example prices (costModel CPU 1.25,
            # RAM 0.50, ...) into ours, and OpenCost would take them as the AWS provider's base prices.
            "customPricing": {"enabled": True, "createConfigmap": False, "configmapName": OPENCOST_PRICING},
        },
    }


def opencost_pricing(cfg: MonitoringConfig, account_id: str, region: str) -> dict[str, str]:
    """The pricing ConfigMap's data (flat string keys, as templates/configmap-custom-pricing.yaml renders it): which
    nodes are spot, and the spot data feed when configured; AWS prices come from the provider's own defaults."""
    pricing = {"provider": "aws", "spotLabel": CAPACITY_LABEL, "spotLabelValue": "spot"}
    feed = cfg.spot_data_feed
    if feed is not None:
        pricing.update({"awsSpotDataBucket": feed.bucket, "awsSpotDataPrefix": feed.prefix,
                        "awsSpotDataRegion": feed.region or region, "projectID": account_id})
    return pricing


def opencost_policy(feed_bucket: str | None, feed_prefix: str) -> dict[str, Any]:
    """OpenCost's IAM policy: spot price history, and reading the spot data feed when there is one (ListBucket on
    the bucket, GetObject on its files: opencost's aws.mdx grants the bucket ARN only, but the code reads objects)."""
    statements: list[dict[str, Any]] = [{"Sid": "SpotPrices", "Effect": "Allow",
                                         "Action": ["ec2:DescribeSpotPriceHistory"], "Resource": "*"}]
    if feed_bucket:
        prefix = feed_prefix.strip("/")
        objects = f"arn:aws:s3:::{feed_bucket}/{prefix + '/' if prefix else ''}*"
        statements += [
            {"Sid": "SpotFeedList", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": f"arn:aws:s3:::{feed_bucket}"},
            {"Sid": "SpotFeedRead", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def pod_monitor(name: str, namespace: str, selector: dict[str, str], port: str, path: str = "/metrics") -> dict[str, Any]:
    """A PodMonitor (monitoring.coreos.com/v1, CRD shipped in infra/documents/crds/monitoring/): scrape `port`
    (a container port name) of the pods `selector` picks in `namespace`."""
    endpoint = {"port": port, "path": path}
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "cloudviper"}},
            "spec": {"selector": {"matchLabels": dict(selector)}, "namespaceSelector": {"matchNames": [namespace]},
                     "podMetricsEndpoints": [endpoint]}}


def scrapers(namespace: str) -> dict[str, Any]:
    """The NetworkPolicy peer that admits the monitoring namespace (Prometheus scrapes from there)."""
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


@dataclass(frozen=True)
class ScrapeTarget:
    """Pods Prometheus scrapes: where, which (labels), the metrics port (name and number), and whether their
    namespace isolates them with NetworkPolicies (then a policy must admit the monitoring namespace)."""

    name: str
    namespace: str
    selector: dict[str, str]
    port_name: str
    port: int
    isolated: bool


def scrape_targets(cfg: StackConfig) -> list[ScrapeTarget]:
    """Every metrics endpoint of the stack's own workloads (kube-state-metrics, the kubelets, the API server and
    OpenCost are the charts' own ServiceMonitors)."""
    app = "app.kubernetes.io/name"
    found = [ScrapeTarget("cluster-autoscaler", "kube-system", {app: "cluster-autoscaler"}, "http", 8085, False),
             ScrapeTarget("node-termination-handler", "kube-system", {app: "aws-node-termination-handler"},
                          NTH_METRICS_PORT_NAME, NTH_METRICS_PORT, False)]
    if cfg.dask is not None:
        clusters = [CLUSTER] + ([GPU_CLUSTER] if cfg.dask.gpu_workers is not None else [])
        for cluster in clusters:
            for part, labels, port in (("scheduler", SCHEDULER_LABELS, DASHBOARD_PORT),
                                       ("workers", WORKER_LABELS, WORKER_DASHBOARD_PORT)):
                found.append(ScrapeTarget(f"{cluster}-{part}", cfg.dask.namespace,
                                          {"dask.org/cluster-name": cluster, **labels}, "http-dashboard", port, True))
    if cfg.arkouda is not None and cfg.monitoring is not None:
        found.append(ScrapeTarget("arkouda", cfg.monitoring.namespace, dict(ARKOUDA_EXPORTER_LABELS), "http",
                                  ARKOUDA_EXPORTER_PORT, False))
    return found
