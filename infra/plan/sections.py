"""The plan's sections: resources by component, cost, policy verdicts, stack outputs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from infra.plan.diagram import component_graph, mermaid
from infra.plan.harness import Capture
from infra.plan.policy_runner import PolicyReport, run_pack
from infra.plan.report import Plan, Section
from infra.plan.resource_list import component_label, graph_entries
from infra.plan.secret_values import StackOutput
from infra.pricing.cost import ResourceView
from policies.pack import pack_specs

EXIT_POLICY = 3
SECRET_MASK = "[secret]"


def resources_section(capture: Capture) -> Section:
    """Resources grouped by the component that owns them, with counts per type."""
    groups: dict[str, Counter[str]] = {}
    for res in capture.resources:
        if not res.custom:
            continue
        groups.setdefault(component_label(capture, res), Counter())[res.type] += 1
    total = sum(sum(c.values()) for c in groups.values())
    lines = [f"{total} resources"]
    data = []
    for label in sorted(groups, key=lambda g: (g in ("providers", "stack"), g)):
        counts = groups[label]
        lines.append(f"  {label}: {sum(counts.values())}")
        for typ, n in sorted(counts.items()):
            lines.append(f"    {n:>3}  {typ}")
        data.append({"component": label, "count": sum(counts.values()), "types": dict(sorted(counts.items()))})
    return Section("Resources", lines, {"total": total, "groups": data})


def _show(out: StackOutput) -> Any:
    return SECRET_MASK if out.secret else out.value


def outputs_section(capture: Capture) -> Section:
    """Stack outputs; ids are mock values until a real `pulumi up`, secrets are masked."""
    lines = ["(ids are placeholders from the mock runtime; real values appear after `pulumi up`)"]
    for key in sorted(capture.outputs):
        lines.append(f"  {key}: {json.dumps(_show(capture.outputs[key]))}")
    return Section("Outputs", lines, {k: _show(v) for k, v in sorted(capture.outputs.items())})


def resource_views(capture: Capture) -> list[ResourceView]:
    """Captured custom resources as the cost model sees them (outputs, property dependencies)."""
    views = {r.urn: ResourceView(type=r.type, name=r.name, urn=r.urn, props=r.props) for r in capture.resources if r.custom}
    for r in capture.resources:
        if r.urn in views:
            views[r.urn].property_dependencies = {
                k: [views[u] for u in urns if u in views] for k, urns in r.property_dependencies.items()
            }
    return list(views.values())


def diagram_section(plan: Plan) -> Section:
    """Components and which waits for which, as a Mermaid flowchart (markdown only)."""
    doc = {"resources": graph_entries(plan.capture)}
    sizes, edges = component_graph(doc)
    lines = [f"{len(sizes)} components, {len(edges)} dependencies between them (the markdown report draws them)"]
    md = mermaid(doc)
    return Section("Diagram", lines, {"components": dict(sorted(sizes.items())), "edges": sorted(edges)}, md)


def _violation_line(v: object) -> str:
    return f"[{v.level}] {v.policy}: {v.message}"  # type: ignore[attr-defined]


def policy_section(plan: Plan) -> Section:
    """Violations by enforcement level; a mandatory one sets the plan's exit code."""
    report: PolicyReport = run_pack(plan.capture, plan.stack.stack, plan.project_dir / "policies" / "config")
    mandatory, advisory = report.mandatory, report.at("advisory")
    if mandatory:
        plan.exit_code = EXIT_POLICY
    name = plan.stack.stack
    if report.config_file is None:
        specs = pack_specs()
        regions = ", ".join(specs["allowed-regions"].properties["allowedRegions"]["default"])
        budget = specs["max-hourly-cost"].properties["maxHourlyUsd"]["default"]
        plan.notices.append(f"no policies/config/{name}.json: every rule runs with its defaults (allowed regions "
                            f"{regions}; ${budget:g}/hour at maximum scale); `python -m infra init` writes one for a new "
                            f"stack, or copy policies/config/dev.json to policies/config/{name}.json and edit it")
    config = report.config_file or "rule defaults (no policies/config/<stack>.json)"
    summary = f"{len(mandatory)} mandatory violations, {len(advisory)} advisory ({report.rules} rules, config: {config})"
    lines = [summary, *[f"  {_violation_line(v)}" for v in mandatory + advisory]]
    if report.skipped:
        lines.append(f"  {len(report.skipped)} checks skipped on unknown values")
    md = [f"**{summary}**", "", *[f"- {_violation_line(v)}" for v in mandatory + advisory]]
    data = {
        "rules": report.rules, "config": report.config_file,
        "mandatory": len(mandatory), "advisory": len(advisory),
        "violations": [{"policy": v.policy, "level": v.level, "severity": v.severity, "message": v.message,
                        "urn": v.urn} for v in report.violations],
        "skipped": report.skipped,
    }
    return Section("Policy", lines, data, md)
