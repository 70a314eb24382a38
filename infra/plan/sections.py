"""The plan's sections: resources by component, cost, policy verdicts, stack outputs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from infra.plan.harness import Capture
from infra.plan.policy_runner import PolicyReport, run_pack
from infra.plan.report import Plan, Section
from infra.plan.secret_values import StackOutput
from infra.pricing.cost import Estimate, ResourceView, estimate
from infra.pricing.tables import HOURS_PER_MONTH, PricingError, load_prices

EXIT_POLICY = 3
SECRET_MASK = "[secret]"


def _component_label(capture: Capture, res: Any) -> str:
    comp = capture.component_of(res)
    if comp is None:
        return "providers" if res.type.startswith("pulumi:providers:") else "stack"
    return f"{comp.name} ({comp.type})"


def resources_section(capture: Capture) -> Section:
    """Resources grouped by the component that owns them, with counts per type."""
    groups: dict[str, Counter[str]] = {}
    for res in capture.resources:
        if not res.custom:
            continue
        groups.setdefault(_component_label(capture, res), Counter())[res.type] += 1
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


def _short(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def stack_estimate(plan: Plan) -> Estimate:
    """Price the plan's captured resources with the stack region's table."""
    return estimate(resource_views(plan.capture), load_prices(plan.stack.region))


def cost_section(plan: Plan) -> Section:
    """Idle / desired / max $/hour and $/month, biggest items first."""
    try:
        est = stack_estimate(plan)
    except PricingError as exc:
        return Section("Cost", [f"cannot price this stack: {exc}"], {"error": str(exc)})
    scales = ("idle", "desired", "max")
    totals = {s: est.total(s) for s in scales}
    lines = [
        f"prices: {est.source}",
        f"{'':10}{'idle':>12}{'desired':>12}{'max':>12}",
        f"{'$/hour':10}" + "".join(f"{totals[s]:>12.4f}" for s in scales),
        f"{'$/month':10}" + "".join(f"{totals[s] * HOURS_PER_MONTH:>12.2f}" for s in scales),
        "biggest items at maximum scale ($/hour):",
    ]
    lines += [f"  {i.max:>10.4f}  {i.name} [{_short(i.type)}]  {i.detail}" for i in est.top(8)]
    lines += [f"not in the totals: {n}" for n in est.notes]
    md = [
        f"Prices: {est.source}", "",
        "| | idle | desired | max |", "|---|---:|---:|---:|",
        "| $/hour | " + " | ".join(f"{totals[s]:.4f}" for s in scales) + " |",
        "| $/month | " + " | ".join(f"{totals[s] * HOURS_PER_MONTH:.2f}" for s in scales) + " |", "",
        "| biggest items | $/hour at max | detail |", "|---|---:|---|",
        *[f"| `{i.name}` {_short(i.type)} | {i.max:.4f} | {i.detail} |" for i in est.top(8)], "",
        *[f"- not in the totals: {n}" for n in est.notes],
    ]
    data = {
        "source": est.source,
        "perHour": totals,
        "perMonth": {s: round(totals[s] * HOURS_PER_MONTH, 2) for s in scales},
        "items": [{"name": i.name, "type": i.type, "idle": i.idle, "desired": i.desired, "max": i.max,
                   "detail": i.detail} for i in est.top(len(est.items))],
        "notes": est.notes,
    }
    return Section("Cost", lines, data, md)


def _violation_line(v: object) -> str:
    return f"[{v.level}] {v.policy}: {v.message}"  # type: ignore[attr-defined]


def policy_section(plan: Plan) -> Section:
    """Violations by enforcement level; a mandatory one sets the plan's exit code."""
    report: PolicyReport = run_pack(plan.capture, plan.stack.stack, plan.project_dir / "policies" / "config")
    mandatory, advisory = report.mandatory, report.at("advisory")
    if mandatory:
        plan.exit_code = EXIT_POLICY
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
