"""cloudviper's Grafana dashboards (infra/documents/dashboards/*.json) against what the exporters serve.

Every metric name a dashboard queries must be one that an exporter we run serves. The names are listed in
tests/fixtures/exporter-metrics/<exporter>.txt, and each file's header cites its upstream source and the
version we pin:
- kube-state-metrics v2.20.0 (kube-prometheus-stack 88.5.3)
- cluster-autoscaler 1.35.2 and 1.36.1
- aws-node-termination-handler v1.25.6
- distributed 2026.1.1 (pangeo/pangeo-notebook:2026.01.30)
- the arkouda-contrib exporter @246ce0a
- OpenCost 1.120.1

Grafana 13.2.0 (kps 88.5.3's grafana chart 12.11.1) loads the files through its dashboard sidecar. The datasource
is kube-prometheus-stack's default Prometheus, uid `prometheus` (kps values grafana.sidecar.datasources.uid).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.documents import dashboards as d
from infra.documents.dask_gpu import GPU_CLUSTER

FIXTURES = Path(__file__).parent / "fixtures" / "exporter-metrics"
EXPECTED = {"node-occupancy", "autoscaling-spot", "dask", "arkouda", "cost"}
# Which exporters each dashboard may read: a name from another exporter would be a typo that happens to exist.
SOURCES = {
    "node-occupancy": ("kube-state-metrics",),
    "autoscaling-spot": ("cluster-autoscaler", "aws-node-termination-handler", "kube-state-metrics"),
    "dask": ("dask-scheduler", "dask-worker"),
    "arkouda": ("arkouda-exporter",),
    "cost": ("opencost", "kube-state-metrics"),
}
CONFIGMAP_LIMIT = 1024 * 1024  # the API server refuses a ConfigMap whose data passes 1 MiB
GRAFANA_UID_MAX = 40  # Grafana refuses longer dashboard uids
VARIABLE = re.compile(r"\$\{(\w+)[^}]*\}|\$(\w+)|\[\[(\w+)\]\]")
KSM_SELECTOR = re.compile(r"\b(kube_[a-z_]+)(\{[^}]*\})?")
NODE_LABEL_JOIN = re.compile(r"on\(([^)]*)\) group_left\(([^)]*)\) max by \(([^)]*)\) \(kube_node_labels\{([^}]*)\}")


def served(exporter: str) -> set[str]:
    """An exporter's metric names: the fixture's lines without its `#` header."""
    lines = (FIXTURES / f"{exporter}.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def all_served() -> set[str]:
    return set().union(*(served(p.stem) for p in FIXTURES.glob("*.txt")))


def unknown_metrics(dashboard: dict[str, Any], known: set[str]) -> dict[str, set[str]]:
    """Expression -> the metric names in it that no exporter serves."""
    found = {e: d.metric_names(e) - known for e in d.expressions(dashboard)}
    return {e: names for e, names in found.items() if names}


def queried_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in d.panels(dashboard) if p.get("type") != "row"]


DASHBOARDS = d.dashboards()


def test_every_dashboard_parses_with_a_unique_uid_and_title():
    assert set(DASHBOARDS) == EXPECTED
    uids = [dash["uid"] for dash in DASHBOARDS.values()]
    titles = [dash["title"] for dash in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)
    for name, dash in DASHBOARDS.items():
        assert dash["uid"] == f"cloudviper-{name}" and len(dash["uid"]) <= GRAFANA_UID_MAX
        assert dash["title"].startswith("cloudviper / ")
        assert dash["schemaVersion"] == 41 and dash["id"] is None  # provisioned: Grafana assigns the id


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_panel_queries_the_prometheus_datasource(name):
    dash = DASHBOARDS[name]
    ids = [p["id"] for p in d.panels(dash)]
    assert len(set(ids)) == len(ids), "panel ids repeat"
    titles = [p["title"] for p in queried_panels(dash)]
    assert titles and len(set(titles)) == len(titles), "panel titles repeat"
    for panel in queried_panels(dash):
        where = f"{name}: {panel['title']}"
        assert panel["datasource"] == d.DATASOURCE, where
        assert panel["targets"], where
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"]["uid"] == "prometheus", where
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), where
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, where


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_variables_query_prometheus_and_every_used_one_is_defined(name):
    dash = DASHBOARDS[name]
    variables = dash["templating"]["list"]
    assert all(v["datasource"] == d.DATASOURCE for v in variables if v["type"] == "query")
    defined = {v["name"] for v in variables}
    used = {next(g for g in m.groups() if g) for e in d.expressions(dash) for m in VARIABLE.finditer(e)}
    # $__rate_interval and friends are Grafana's; $1 is label_replace's capture group
    assert {u for u in used if not u.startswith("__") and not u.isdigit()} <= defined
    assert defined <= used, "a variable no query uses"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_metric_is_one_an_exporter_serves(name):
    # The union of tests/fixtures/exporter-metrics/*.txt (see the module docstring for the versions).
    assert unknown_metrics(DASHBOARDS[name], all_served()) == {}
    # ... and the dashboard's own exporters serve it.
    own = set().union(*(served(s) for s in SOURCES[name]))
    assert unknown_metrics(DASHBOARDS[name], own) == {}


def test_the_fixtures_hold_the_names_the_sources_define():
    assert {p.stem for p in FIXTURES.glob("*.txt")} == {s for sources in SOURCES.values() for s in sources}
    for path in FIXTURES.glob("*.txt"):
        text = path.read_text()
        assert text.startswith("# "), f"{path.name} must cite its upstream source first"
        names = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert names and len(names) == len(set(names))
        assert all(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n) for n in names), path.name
    assert {"kube_node_labels", "kube_pod_container_resource_requests", "kube_node_status_allocatable",
            "kube_pod_status_phase"} <= served("kube-state-metrics")
    assert "kube_node_nonexistent_total" not in all_served()


def test_node_occupancy_groups_by_the_allow_listed_node_labels():
    sanitized = {d.ksm_label(key) for key in d.NODE_LABELS_ALLOWLIST}
    assert sanitized == {"label_cloudviper_io_pool", "label_cloudviper_io_pool_role",
                         "label_cloudviper_io_capacity_type"}
    assert d.allowlist_flag() == "nodes=[cloudviper.io/pool,cloudviper.io/pool-role,cloudviper.io/capacity-type]"
    used = {label for dash in DASHBOARDS.values() for e in d.expressions(dash)
            for label in re.findall(r"\blabel_[a-z0-9_]+\b(?!\s*\()", e)}  # label_replace( is a function
    assert used <= sanitized, "a label kube-state-metrics does not export (not in NODE_LABELS_ALLOWLIST)"
    occupancy = " ".join(d.expressions(DASHBOARDS["node-occupancy"]))
    assert all(label in occupancy for label in sanitized)


@pytest.mark.parametrize("key, label", [
    ("cloudviper.io/pool", "label_cloudviper_io_pool"),
    ("cloudviper.io/capacity-type", "label_cloudviper_io_capacity_type"),
    # kube-state-metrics v2.20.0 internal/store/utils_test.go and docs examples
    ("camelCase", "label_camel_case"),
    ("snake_camelCase", "label_snake_camel_case"),
    ("eks.amazonaws.com/capacityType", "label_eks_amazonaws_com_capacity_type"),
    ("node.kubernetes.io/instance-type", "label_node_kubernetes_io_instance_type"),
])
def test_label_names_are_sanitized_as_kube_state_metrics_does(key, label):
    assert d.ksm_label(key) == label


def test_kube_state_metrics_selectors_are_pinned_to_its_job():
    # OpenCost serves kube_node_labels (with every node label), kube_pod_owner, ... too: without the job
    # matcher a join on `node` would meet two series per node, and sums would count twice.
    for dash in DASHBOARDS.values():
        for expr in d.expressions(dash):
            for metric, matchers in KSM_SELECTOR.findall(expr):
                assert 'job="kube-state-metrics"' in matchers, f"{metric} in {expr}"


def test_node_label_joins_match_on_node_and_take_only_grouped_labels():
    joins = [m for dash in DASHBOARDS.values() for e in d.expressions(dash) for m in NODE_LABEL_JOIN.findall(e)]
    assert len(joins) > 10
    for on, group_left, by, _ in joins:
        assert on == "node"
        assert {"node", *group_left.replace(" ", "").split(",")} - {""} <= set(by.replace(" ", "").split(","))


def test_requests_count_only_bound_running_or_pending_pods():
    # kube-state-metrics keeps request series for Succeeded/Failed pods, and unscheduled ones have node="".
    exprs = [e for dash in DASHBOARDS.values() for e in d.expressions(dash)
             if "kube_pod_container_resource_requests" in e]
    assert exprs
    for expr in exprs:
        assert 'node!=""' in expr
        assert ('max by (namespace, pod) (kube_pod_status_phase{job="kube-state-metrics", phase=~"Running|Pending"} '
                "== 1)") in expr


def test_seven_day_costs_are_dollars_over_the_week():
    # Each 5-minute sample of a $/hour series, summed, over the whole week's sample count, times 168 hours:
    # a namespace that existed for one day costs one day, not its daily average stretched over the week.
    week = [e for e in d.expressions(DASHBOARDS["cost"]) if "[7d" in e]
    assert len(week) >= 4
    for expr in week:
        assert expr.startswith("sum_over_time((") and expr.endswith(
            ")[7d:5m]) / scalar(count_over_time(vector(1)[7d:5m])) * 24 * 7")


@pytest.mark.parametrize("cluster, other", [("dask", GPU_CLUSTER), (GPU_CLUSTER, "dask")])
def test_dask_cluster_variable_tells_the_operators_pods_apart(cluster, other):
    # dask-kubernetes 2026.3.0: Deployment <cluster>-scheduler, one Deployment per worker <cluster>-default-worker-<id>.
    dash = DASHBOARDS["dask"]
    var = next(v for v in dash["templating"]["list"] if v["name"] == "cluster")
    extract = re.compile(var["regex"].strip("/"))
    scheduler, worker = f"{cluster}-scheduler-7c9f8b6d4-x2x4z", f"{cluster}-default-worker-0a1b2c3d-6f7d8-abcde"
    found = extract.fullmatch(scheduler)
    assert found and found.group(1) == cluster
    assert not extract.fullmatch(worker)
    exprs = " ".join(d.expressions(dash))
    sched_re = re.findall(r'pod=~"(\$cluster-scheduler[^"]*)"', exprs)[0]
    work_re = re.findall(r'pod=~"(\$cluster-default-worker[^"]*)"', exprs)[0]
    assert re.fullmatch(sched_re.replace("$cluster", cluster), scheduler)
    assert not re.fullmatch(sched_re.replace("$cluster", cluster), f"{other}-scheduler-7c9f8b6d4-x2x4z")
    assert re.fullmatch(work_re.replace("$cluster", cluster), worker)
    assert not re.fullmatch(work_re.replace("$cluster", cluster), f"{other}-default-worker-0a1b2c3d-6f7d8-abcde")


@pytest.mark.parametrize("path", d.dashboard_files(), ids=lambda p: p.name)
def test_each_dashboard_fits_a_configmap_value(path):
    assert re.fullmatch(r"[-._a-zA-Z0-9]+", path.name)  # a valid ConfigMap key
    assert len(path.read_bytes()) < CONFIGMAP_LIMIT
    assert json.loads(path.read_text()) == DASHBOARDS[path.stem]


# The scanner itself.

def test_the_scanner_catches_an_invented_metric():
    expr = 'sum by (node) (rate(kube_node_nonexistent_total{job="kube-state-metrics"}[5m]))'
    assert d.metric_names(expr) == {"kube_node_nonexistent_total"}
    fake = {"panels": [{"type": "row", "panels": [{"type": "stat", "targets": [{"refId": "A", "expr": expr}]}]}]}
    assert unknown_metrics(fake, all_served()) == {expr: {"kube_node_nonexistent_total"}}


@pytest.mark.parametrize("expr, names", [
    ("sum by (label_cloudviper_io_pool) (a * on(node) group_left(label_cloudviper_io_pool) "
     'max by (node, label_cloudviper_io_pool) (kube_node_labels{job="kube-state-metrics", node!=""}))',
     {"a", "kube_node_labels"}),
    ("container_cpu_allocation * on (node) group_left node_cpu_hourly_cost", {"container_cpu_allocation",
                                                                              "node_cpu_hourly_cost"}),
    ("rate(foo_total[$__rate_interval] offset 5m) * 1e3 + Inf - NaN", {"foo_total"}),
    ('label_replace(up, "node", "$1", "node_name", "(.+)")', {"up"}),
    ("histogram_quantile(0.9, sum without (instance, le_x) (rate(http_bucket[1h:5m])))", {"http_bucket"}),
    ("a and on(node) (b == bool 1) or vector(0) unless ignoring(x) c", {"a", "b", "c"}),
    ("sum_over_time((sum(node_total_hourly_cost))[7d:5m]) / scalar(count_over_time(vector(1)[7d:5m])) * 24 * 7",
     {"node_total_hourly_cost"}),
    ("SUM BY (pod) (Foo) / ON(pod) GROUP_RIGHT(container) namespace:cpu:sum", {"Foo", "namespace:cpu:sum"}),
    ('topk(5, foo{a=~"b|c(d)", e="}"}) @ end() # bar', {"foo"}),
    ('count_values("version", build_info{job=~"$job"})', {"build_info"}),
    ('{__name__="up"}', set()),
])
def test_the_scanner_skips_functions_keywords_labels_and_literals(expr, names):
    assert d.metric_names(expr) == names


@pytest.mark.parametrize("query, expr", [
    ('label_values(kube_node_labels{job="x"}, label_cloudviper_io_pool)', 'kube_node_labels{job="x"}'),
    ("label_values(namespace)", None),
    ("label_names()", None),
    ("metrics(dask_.*)", None),
    ("query_result(sum by (a) (up))", "sum by (a) (up)"),
])
def test_variable_queries_yield_only_their_promql(query, expr):
    assert d.variable_expression(query) == expr


def test_expressions_include_collapsed_rows_and_query_variables():
    dash = {"panels": [{"type": "stat", "targets": [{"refId": "A", "expr": "a"}]},
                       {"type": "row", "collapsed": True, "panels": [{"type": "timeseries",
                                                                      "targets": [{"refId": "A", "expr": "b"}]}]}],
            "templating": {"list": [{"type": "query", "query": {"query": "label_values(c{x=\"1\"}, x)"}},
                                    {"type": "query", "query": "label_values(d, y)"},
                                    {"type": "custom", "query": "e,f"}]}}
    assert d.expressions(dash) == ["a", "b", 'c{x="1"}', "d"]


# PromQL syntax, by Prometheus' own parser: promtool from Debian's `prometheus` package (`make test` unpacks it
# with tools/promtool/install and passes PROMTOOL).

def promtool() -> str:
    binary = os.environ.get("PROMTOOL") or shutil.which("promtool")
    assert binary, "promtool is not installed: run `make test` (tools/promtool/install)"
    return binary


def test_every_expression_parses(tmp_path):
    values = {"__rate_interval": "2m", "__range": "1h", "__interval": "1m"}
    rules = []
    for name, dash in DASHBOARDS.items():
        for i, expr in enumerate(d.expressions(dash)):
            text = re.sub(r"\$(__\w+)", lambda m: values[m.group(1)], expr)
            text = re.sub(r"\$(?!\d)\w+", "x", text)  # a variable's value in a matcher
            rules.append({"record": f"check:{name.replace('-', '_')}:{i}", "expr": text})
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, width=10_000))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def panel_expr(dashboard: str, title: str, ref: str = "A", **values: str) -> str:
    """A panel target's expression with its variables set (every unnamed one to `.*`)."""
    panel = next(p for p in d.panels(DASHBOARDS[dashboard]) if p.get("title") == title)
    expr = next(t["expr"] for t in panel["targets"] if t["refId"] == ref)
    for name, value in {"__rate_interval": "2m", "__range": "1h", **values}.items():
        expr = expr.replace(f"${name}", value)
    return re.sub(r"\$(?!\d)\w+", ".*", expr)


def test_occupancy_and_cost_joins_compute_what_they_say(tmp_path):
    ksm, oc = 'job="kube-state-metrics"', 'job="opencost"'
    series = []
    for node, pool, cap, cores in (("n1", "cpu", "spot", 4), ("n2", "cpu", "on-demand", 4),
                                   ("n3", "system", "on-demand", 2)):
        labels = f'node="{node}", label_cloudviper_io_pool="{pool}", label_cloudviper_io_pool_role="{pool}", ' \
                 f'label_cloudviper_io_capacity_type="{cap}"'
        for job in (ksm, oc):  # OpenCost's copy must not double anything
            series += [{"series": f"kube_node_labels{{{job}, {labels}}}", "values": "1x20"},
                       {"series": f'kube_node_status_allocatable{{{job}, node="{node}", resource="cpu"}}',
                        "values": f"{cores}x20"}]
    # a: running on n1 (1.5 cores in two containers); b: succeeded on n1; c: running on n2; d: pending, unbound
    for pod, node, phase, cpus in (("a", "n1", "Running", (1, 0.5)), ("b", "n1", "Succeeded", (2,)),
                                   ("c", "n2", "Running", (1,)), ("d", "", "Pending", (3,))):
        for i, cpu in enumerate(cpus):
            series.append({"series": f'kube_pod_container_resource_requests{{{ksm}, namespace="x", pod="{pod}", '
                                     f'container="c{i}", node="{node}", resource="cpu", unit="core"}}',
                           "values": f"{cpu}x20"})
        for ph in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
            series.append({"series": f'kube_pod_status_phase{{{ksm}, namespace="x", pod="{pod}", phase="{ph}"}}',
                           "values": f"{int(ph == phase)}x20"})
    for node, cpu_price, ram_price in (("n1", 0.01, 0.001), ("n2", 0.04, 0.005)):
        series += [{"series": f'node_cpu_hourly_cost{{{oc}, node="{node}", instance="{node}"}}', "values": f"{cpu_price}x20"},
                   {"series": f'node_ram_hourly_cost{{{oc}, node="{node}", instance="{node}"}}', "values": f"{ram_price}x20"}]
    for ns, pod, node, cpu, gib in (("x", "a", "n1", 2, 4), ("y", "p", "n2", 1, 2)):
        labels = f'{oc}, namespace="{ns}", pod="{pod}", container="c", node="{node}", instance="{node}"'
        series += [{"series": f"container_cpu_allocation{{{labels}}}", "values": f"{cpu}x20"},
                   {"series": f"container_memory_allocation_bytes{{{labels}}}", "values": f"{gib * 2**30}x20"}]

    def check(expr: str, *samples: tuple[str, float]) -> dict[str, Any]:
        return {"expr": expr, "eval_time": "10m",
                "exp_samples": [{"labels": labels, "value": value} for labels, value in samples]}

    pool = '{label_cloudviper_io_pool="%s"}'
    row = ('{node="%s", label_cloudviper_io_pool="%s", label_cloudviper_io_pool_role="%s", '
            'label_cloudviper_io_capacity_type="%s"}')
    tests = [
        check(panel_expr("node-occupancy", "CPU requested vs allocatable by pool", "A"), (pool % "cpu", 2.5)),
        check(panel_expr("node-occupancy", "CPU requested vs allocatable by pool", "B"),
              (pool % "cpu", 8), (pool % "system", 2)),
        check(panel_expr("node-occupancy", "CPU occupancy by pool"), (pool % "cpu", 2.5 / 8)),
        check(panel_expr("node-occupancy", "CPU occupancy", pool="cpu"), ("{}", 2.5 / 8)),
        check(panel_expr("node-occupancy", "Node occupancy"), (row % ("n1", "cpu", "cpu", "spot"), 1.5 / 4),
              (row % ("n2", "cpu", "cpu", "on-demand"), 1 / 4), (row % ("n3", "system", "system", "on-demand"), 0)),
        # OpenCost's documented cost by namespace: 2 x 0.01 + 4 x 0.001 and 1 x 0.04 + 2 x 0.005
        check(panel_expr("cost", "Cost per namespace (CPU + memory)"), ('{namespace="x"}', 0.024),
              ('{namespace="y"}', 0.05)),
    ]
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series, "promql_expr_test": tests}]}, width=10_000))
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
