"""cloudviper's Grafana dashboards (infra/documents/dashboards/*.json) and a small PromQL scanner (pure).

The dashboards are Grafana JSON models (schemaVersion 41; Grafana migrates it on load) for the Prometheus
datasource kube-prometheus-stack provisions (uid `prometheus`), one file per dashboard, each small enough to be
one ConfigMap value for Grafana's dashboard sidecar. tests/test_dashboards.py checks every metric name they query
against the exporters' own name lists.

kube-state-metrics exports a node label on `kube_node_labels` only if it is allow-listed
(`--metric-labels-allowlist=nodes=[...]`), under a Prometheus label name it derives from the key
(kubernetes/kube-state-metrics v2.20.0 internal/store/utils.go: `labelName` = prefix + "_" +
toSnakeCase(SanitizeLabelName(key)); SanitizeLabelName turns every character outside [a-zA-Z0-9_] into `_`,
toSnakeCase puts `_` between a lower-case letter or digit and a capital, then lower-cases everything).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.config.pools import CAPACITY_LABEL

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # kps values grafana.sidecar.datasources.uid
# The node labels kube-state-metrics must export (the pool views group by them); the monitoring component
# writes them into kube-state-metrics' --metric-labels-allowlist as `nodes=[<these, comma-separated>]`.
NODE_LABELS_ALLOWLIST = ("cloudviper.io/pool", "cloudviper.io/pool-role", CAPACITY_LABEL)

_INVALID_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_CAPITAL_AFTER_LOWER = re.compile(r"([a-z0-9])([A-Z])")


def ksm_label(key: str, prefix: str = "label") -> str:
    """The Prometheus label kube-state-metrics gives a Kubernetes label key (cloudviper.io/pool -> label_cloudviper_io_pool)."""
    sanitized = _INVALID_LABEL_CHAR.sub("_", key)
    return prefix + "_" + _CAPITAL_AFTER_LOWER.sub(r"\1_\2", sanitized).lower()


def allowlist_flag(labels: tuple[str, ...] = NODE_LABELS_ALLOWLIST) -> str:
    """kube-state-metrics' --metric-labels-allowlist value for these node labels."""
    return f"nodes=[{','.join(labels)}]"


def load(path: Path) -> dict[str, Any]:
    """One dashboard file, parsed."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def dashboard_files() -> list[Path]:
    """The dashboard files, sorted by name."""
    return sorted(DASHBOARD_DIR.glob("*.json"))


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard, parsed, by file stem (node-occupancy, cost, ...)."""
    return {p.stem: load(p) for p in dashboard_files()}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels (collapsed rows hold theirs) included; rows themselves too."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels") or []:
        found.append(panel)
        found.extend(panels(panel))
    return found


def _top_level_args(call: str) -> list[str]:
    """The comma-separated arguments of `name(a, b)`, ignoring commas inside brackets and strings."""
    inner = call[call.index("(") + 1: call.rindex(")")]
    args: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(inner):
        if quote:
            quote = "" if ch == quote and inner[i - 1] != "\\" else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    return [a for a in args if a]


def variable_expression(query: str) -> str | None:
    """The PromQL inside a Grafana Prometheus variable query, if it has one.

    `label_values(<series selector>, <label>)` and `query_result(<expr>)` hold PromQL; `label_names()`,
    `label_values(<label>)` and `metrics(<regex>)` hold none (their argument is a label or a regex).
    """
    text = query.strip()
    name = text.split("(", 1)[0].strip()
    if name == "label_values":
        args = _top_level_args(text)
        return args[0] if len(args) == 2 else None
    if name == "query_result":
        return _top_level_args(text)[0]
    if name in ("label_names", "metrics"):
        return None
    return text or None


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression: the panels' targets (nested rows too) and the query variables' queries."""
    found = [t["expr"] for p in panels(dashboard) for t in p.get("targets") or [] if t.get("expr")]
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("type") != "query":
            continue
        query = var.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        expr = variable_expression(text)
        if expr:
            found.append(expr)
    return found


# PromQL words that are not metric names: aggregators, binary operators and modifiers, keywords
# (prometheus/promql/parser/lex.go key/aggregator tables), plus inf/nan literals.
KEYWORDS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "atan2", "offset", "start", "end", "step", "inf", "nan",
})
_LABEL_LIST_WORDS = ("by", "without", "on", "ignoring", "group_left", "group_right")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]")
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(" + "|".join(_LABEL_LIST_WORDS) + r")\s*\([^()]*\)", re.IGNORECASE)
# An identifier that does not continue a number (5m, 1e3, 0x1f) or another word.
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads.

    What is left once string literals, comments, Grafana variables, `{...}` matchers, `[...]` ranges and the
    label lists after by/without/on/ignoring/group_left/group_right are gone: identifiers that are neither
    functions (followed by `(`) nor PromQL keywords, and that do not belong to a number or duration.
    """
    text = _STRING.sub(" ", expr)
    text = _COMMENT.sub(" ", text)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _BRACES.sub(" ", text)
    while _BRACKETS.search(text):  # a subquery's range may hold a variable's remains; innermost first
        text = _BRACKETS.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names
