"""Monitoring: the charts' values against their values.yaml, scrape targets against NetworkPolicies, PodMonitors
against the CRD, the pods on the system pool, and what monitoring adds to the cost.

Upstream facts pinned here:
- kube-prometheus-stack 88.5.3, grafana 12.11.1, kube-state-metrics 8.4.0 and opencost 2.5.17 values.yaml: their key
  paths are in tests/fixtures/chart-values/*.keys (each file names the tag and git blob it was generated from).
- PodMonitor CRD: prometheus-operator v0.93.1 example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml,
  as kube-prometheus-stack 88.5.3 ships it (charts/crds/crds/crd-podmonitors.yaml).
- NetworkPolicy semantics: tests/network_policy.py (Kubernetes API reference).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest

from infra import ROOT
from infra.config.errors import ConfigError
from infra.documents import monitoring as m
from infra.documents.crd import CustomResourceError, validate_custom_resource
from infra.plan.harness import Capture
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, _stack_capture, run_config, stack_file
from tests.network_policy import Endpoint, admits

KEYS = Path(__file__).parent / "fixtures" / "chart-values"
RELEASE = "kubernetes:helm.sh/v3:Release"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
# Keys the charts' templates read that their values.yaml does not list (grafana 12.11.1 templates/_helpers.tpl
# "grafana.fullname": `.Values.fullnameOverride`).
TEMPLATE_ONLY = {"grafana-12.11.1": {"fullnameOverride"}}
# Maps whose every key a template renders (opencost 2.5.17 templates/configmap-custom-pricing.yaml ranges over
# opencost.customPricing.costModel into the pricing ConfigMap).
FREE_FORM = {"opencost-2.5.17": {"opencost.customPricing.costModel"}}


def chart_keys(name: str) -> tuple[set[str], set[str]]:
    """(leaf and map paths, paths of empty maps whose contents are free-form) of a chart's values.yaml."""
    paths: set[str] = set()
    free: set[str] = set()
    for line in (KEYS / f"{name}.keys").read_text().splitlines():
        if line.startswith("#") or not line:
            continue
        if line.endswith("={}"):
            free.add(line[:-3])
            line = line[:-3]
        parts = line.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return paths, free


def unknown_keys(values: dict[str, Any], name: str, prefix: str = "") -> list[str]:
    """Our value paths the chart's values.yaml does not have (nothing below a free-form map is checked)."""
    paths, free = chart_keys(name)
    paths |= TEMPLATE_ONLY.get(name, set())
    free |= FREE_FORM.get(name, set())
    found = []

    def walk(v: Any, path: str) -> None:
        if path and path not in paths:
            found.append(f"{prefix}{path}")
            return
        if path in free or not isinstance(v, dict):
            return
        for k, x in v.items():
            walk(x, f"{path}.{k}" if path else k)

    walk(values, "")
    return found


@pytest.fixture(scope="module")
def reference() -> Capture:
    return _stack_capture("reference")


def release(cap: Capture, chart: str) -> dict[str, Any]:
    return next(r.props for r in cap.of_type(RELEASE) if r.props.get("chart") == chart)


def test_the_kube_prometheus_stack_values_are_keys_of_the_pinned_charts(reference: Capture) -> None:
    props = release(reference, m.KPS_CHART)
    assert (props["version"], props["repositoryOpts"]["repo"]) == ("88.5.3", m.KPS_REPO)
    values = props["values"]
    subcharts = {"grafana": "grafana-12.11.1", "kube-state-metrics": "kube-state-metrics-8.4.0"}
    own = {k: v for k, v in values.items() if k not in subcharts}
    problems = unknown_keys(own, "kube-prometheus-stack-88.5.3")
    for key, chart in subcharts.items():
        problems += unknown_keys(values[key], chart, f"{key}.")
    assert problems == []


def test_the_opencost_values_are_keys_of_the_pinned_chart(reference: Capture) -> None:
    props = release(reference, m.OPENCOST_CHART)
    assert props["version"] == "2.5.17"
    assert unknown_keys(props["values"], "opencost-2.5.17") == []


def test_the_key_check_catches_a_misspelt_key() -> None:
    assert unknown_keys({"prometheus": {"prometheusSpec": {"retentoin": "1d"}}}, "kube-prometheus-stack-88.5.3") == [
        "prometheus.prometheusSpec.retentoin"]
    assert unknown_keys({"prometheus": {"prometheusSpec": {"nodeSelector": {"any": "x"}}}},
                        "kube-prometheus-stack-88.5.3") == []


def test_prometheus_keeps_a_sized_volume_and_selects_every_monitor(reference: Capture) -> None:
    spec = release(reference, m.KPS_CHART)["values"]["prometheus"]["prometheusSpec"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert (claim["storageClassName"], claim["resources"]["requests"]["storage"]) == ("gp3-encrypted", "50Gi")
    assert (spec["retention"], spec["retentionSize"]) == ("15d", "42GiB")  # 85% of 50 GiB
    # templates/prometheus/prometheus.yaml @88.5.3: false renders `{}` selectors (every monitor, every namespace).
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_eks_control_plane_targets_are_off_and_grafana_reads_the_admin_secret(reference: Capture) -> None:
    values = release(reference, m.KPS_CHART)["values"]
    for part in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy", "alertmanager", "nodeExporter"):
        assert values[part] == {"enabled": False}, part
    admin = values["grafana"]["admin"]
    secret = next(r for r in reference.of_type("kubernetes:core/v1:Secret") if r.name == "monitoring-grafana-admin")
    assert secret.props["metadata"]["name"] == admin["existingSecret"]
    assert set(secret.props["stringData"]) == {admin["userKey"], admin["passwordKey"]}
    allow = values["kube-state-metrics"]["metricLabelsAllowlist"]
    assert allow == ["nodes=[cloudviper.io/pool,cloudviper.io/pool-role,cloudviper.io/capacity-type]"]


def test_every_pod_of_the_charts_goes_to_the_system_pool(reference: Capture) -> None:
    values = release(reference, m.KPS_CHART)["values"]
    places = [values["prometheusOperator"], values["prometheusOperator"]["admissionWebhooks"]["patch"],
              values["prometheus"]["prometheusSpec"], values["grafana"], values["kube-state-metrics"],
              release(reference, m.OPENCOST_CHART)["values"]["opencost"]]
    for place in places:
        assert place["nodeSelector"] == {"cloudviper.io/pool-role": "system"}


def pod_monitors(cap: Capture) -> list[dict[str, Any]]:
    return [r.props for r in cap.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")]


def policies(cap: Capture) -> list[dict[str, Any]]:
    return [r.props for r in cap.of_type(NETPOL)]


PROMETHEUS = Endpoint("monitoring", {"app.kubernetes.io/name": "prometheus"})


def test_every_scrape_target_is_admitted_from_the_monitoring_namespace(reference: Capture) -> None:
    monitors = pod_monitors(reference)
    names = {p["metadata"]["name"] for p in monitors}
    assert {"cluster-autoscaler", "node-termination-handler", "dask-scheduler", "dask-workers"} <= names
    ports = {"dask-scheduler": 8787, "dask-workers": 8790, "cluster-autoscaler": 8085, "node-termination-handler": 9092}
    for p in monitors:
        ns = p["metadata"]["namespace"]
        labels = p["spec"]["selector"]["matchLabels"]
        target = Endpoint(ns, labels, {p["spec"]["podMetricsEndpoints"][0]["port"]: ports[p["metadata"]["name"]]})
        assert admits(policies(reference), PROMETHEUS, target, ports[p["metadata"]["name"]]), p["metadata"]["name"]
    # The Dask namespace isolates its pods: without the monitoring policies the scrapes would be refused.
    own = [p for p in policies(reference) if not p["metadata"]["name"].endswith("-metrics")]
    scheduler = Endpoint("dask", {"dask.org/cluster-name": "dask", "dask.org/component": "scheduler"})
    assert not admits(own, PROMETHEUS, scheduler, 8787)
    assert not admits(policies(reference), Endpoint("benchmarks", {}), scheduler, 8787)


def test_pod_monitors_name_ports_the_pods_declare(reference: Capture) -> None:
    """Every PodMonitor's port is a named container port of the pods it selects (Deployments and DaskClusters)."""
    templates = []
    for r in reference.of_type("kubernetes:apps/v1:Deployment"):
        t = r.props["spec"]["template"]
        templates.append((r.props["metadata"]["namespace"], t["metadata"]["labels"], t["spec"]))
    for r in reference.of_type("kubernetes:kubernetes.dask.org/v1:DaskCluster"):
        ns, cluster = r.props["metadata"]["namespace"], r.props["metadata"]["name"]
        for part, component in (("scheduler", "scheduler"), ("worker", "worker")):
            labels = {"dask.org/cluster-name": cluster, "dask.org/component": component}
            templates.append((ns, labels, r.props["spec"][part]["spec"]))
    for p in pod_monitors(reference):
        want = p["spec"]["selector"]["matchLabels"]
        chosen = [spec for ns, labels, spec in templates
                  if ns == p["metadata"]["namespace"] and want.items() <= labels.items()]
        assert chosen, p["metadata"]["name"]
        port = p["spec"]["podMetricsEndpoints"][0]["port"]
        for spec in chosen:
            assert port in {q.get("name") for c in spec["containers"] for q in c.get("ports", [])}, p["metadata"]["name"]


def test_the_pod_monitor_crd_is_the_shipped_one_and_refuses_a_typo() -> None:
    data = (ROOT / "infra/documents/crds/monitoring/podmonitor.yaml").read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == "8f666377536e800ed9f2388a738ccecd2ba1df57"
    good = m.pod_monitor("x", "dask", {"a": "b"}, "http-dashboard")
    validate_custom_resource(good)
    bad = copy.deepcopy(good)
    bad["spec"]["podMetricsEndpoints"][0]["portt"] = "http"
    with pytest.raises(CustomResourceError):
        validate_custom_resource(bad)


def arkouda_with_monitoring() -> Capture:
    values = copy.deepcopy(stack_file("arkouda").values)
    values["cloudviper:monitoring"] = {"opencost": False}
    return run_config(values, stack="arkouda")


def test_arkoudas_metrics_socket_is_read_by_the_exporter_the_monitoring_namespace_runs() -> None:
    cap = arkouda_with_monitoring()
    exporter = next(r.props for r in cap.of_type("kubernetes:apps/v1:Deployment")
                    if r.props["metadata"]["name"] == "arkouda-metrics-exporter")
    env = {e["name"]: e["value"] for e in exporter["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ARKOUDA_METRICS_SERVICE_PORT"] == "5556"
    assert env["ARKOUDA_METRICS_SERVICE_HOST"] == "arkouda-server-metrics.arkouda.svc.cluster.local"
    assert env["METRICS_SCRAPE_PORT"] == "5080"
    exporter_pod = Endpoint("monitoring", dict(m.ARKOUDA_EXPORTER_LABELS))
    server = Endpoint("arkouda", {"app": "arkouda-server"})
    assert admits(policies(cap), exporter_pod, server, 5556)
    assert not admits(policies(cap), exporter_pod, server, 5555)  # the client port stays closed to it
    assert not cap.of_type(RELEASE) or all(r.props.get("chart") != "opencost" for r in cap.of_type(RELEASE))


def test_monitoring_needs_a_cluster_and_its_own_namespace() -> None:
    with pytest.raises(ConfigError, match="cloudviper:monitoring: needs a cluster"):
        run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:monitoring": {}})
    values = {**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(CLUSTER_CONFIG),
              "cloudviper:namespaces": [{"name": "obs"}], "cloudviper:monitoring": {"namespace": "obs"}}
    with pytest.raises(ConfigError, match=r'cloudviper:monitoring.namespace: "obs" is already the namespace of '
                                          "cloudviper:namespaces"):
        run_config(values)
    with pytest.raises(ConfigError, match=r"retention.*not a Prometheus duration"):
        run_config({**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(CLUSTER_CONFIG),
                    "cloudviper:monitoring": {"retention": "15 days"}})


def test_opencost_reads_our_pricing_configmap_not_the_charts_example_prices(reference: Capture) -> None:
    """opencost 2.5.17: values.yaml customPricing.costModel holds example prices (CPU 1.25, RAM 0.50, ...) that Helm
    would merge into ours; with createConfigmap false the deployment still reads PRICING_CONFIGMAP_NAME
    (templates/deployment.yaml), so the stack's own ConfigMap is the only pricing input."""
    pricing = release(reference, m.OPENCOST_CHART)["values"]["opencost"]["customPricing"]
    assert pricing == {"enabled": True, "createConfigmap": False, "configmapName": m.OPENCOST_PRICING}
    cm = next(r.props for r in reference.of_type("kubernetes:core/v1:ConfigMap")
              if r.props["metadata"]["name"] == m.OPENCOST_PRICING)
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["data"] == {"provider": "aws", "spotLabel": "cloudviper.io/capacity-type", "spotLabelValue": "spot"}


def test_the_termination_handler_serves_metrics_on_the_scraped_port(reference: Capture) -> None:
    """aws/aws-node-termination-handler v1.25.6 pkg/config/config.go: ENABLE_PROMETHEUS_SERVER (default false) and
    PROMETHEUS_SERVER_PORT (default 9092); without the first, the PodMonitor would scrape a closed port."""
    nth = next(r.props for r in reference.of_type("kubernetes:apps/v1:Deployment")
               if r.props["metadata"]["name"] == "aws-node-termination-handler")
    (c,) = nth["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert (env["ENABLE_PROMETHEUS_SERVER"], env["PROMETHEUS_SERVER_PORT"]) == ("true", "9092")
    assert {"name": "http-metrics", "containerPort": 9092} in c["ports"]
