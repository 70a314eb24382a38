"""The plan's cost section: $/hour and $/month at idle, day one and max, the day-one nodes and why they run."""

from __future__ import annotations

from typing import Any

from infra.documents.budget import filtered_tags
from infra.plan.report import Plan, Section
from infra.plan.sections import resource_views
from infra.pricing.cost import Estimate, estimate
from infra.pricing.day_one import DayOne
from infra.pricing.tables import HOURS_PER_MONTH, PricingError, load_prices

SCALES = ("idle", "day_one", "max")
BUDGET = "aws:budgets/budget:Budget"
HEADINGS = {"idle": "idle", "day_one": "day-one", "max": "max"}


def _short(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


MONITORING = "cloudviper:monitoring:Monitoring"  # components/monitoring.py's type token (in its children's URNs)


def stack_estimate(plan: Plan) -> Estimate:
    """Price the plan's captured resources with the stack region's table."""
    return estimate(resource_views(plan.capture), load_prices(plan.stack.region))


def monitoring_share(plan: Plan, est: Estimate) -> dict[str, float]:
    """What monitoring adds per scale: the stack priced as it is minus the stack priced without the monitoring
    component's resources (its volume, and the nodes its pods need); {} without monitoring."""
    views = resource_views(plan.capture)
    without = [v for v in views if MONITORING not in v.urn]
    if len(without) == len(views):
        return {}
    base = estimate(without, load_prices(plan.stack.region))
    return {s: round(est.total(s) - base.total(s), 4) for s in SCALES}


def budget_lines(plan: Plan) -> list[str]:
    """What the stack's AWS budget watches and who it tells (infra/documents/budget.py)."""
    lines = []
    for r in plan.capture.of_type(BUDGET):
        tags = ", ".join(f"{k}={v}" for f in r.props.get("costFilters") or [] for k, v in filtered_tags(f).items())
        told = {a for n in r.props.get("notifications") or []
                for a in [*(n.get("subscriberEmailAddresses") or []), *(n.get("subscriberSnsTopicArns") or [])]}
        who = f"tells {', '.join(sorted(told))}" if told else ("tells nobody: set cloudviper:budget.emails or "
                                                             "snsTopicArn")
        lines.append(f"AWS budget: ${float(r.props.get('limitAmount') or 0):.2f}/month of costs tagged {tags} "
                     f"(activate the tag for cost allocation once per account); {who}")
    return lines


def day_one_rows(nodes: DayOne) -> list[dict[str, Any]]:
    """Per Auto Scaling group: day-one nodes and the workloads that need them."""
    return [{"group": g, "nodes": len(ns), "workloads": nodes.reasons(g)} for g, ns in nodes.nodes.items()]


def cost_section(plan: Plan) -> Section:
    """Idle / day-one / max $/hour and $/month, the day-one nodes per group, biggest items first."""
    try:
        est = stack_estimate(plan)
    except PricingError as exc:
        return Section("Cost", [f"cannot price this stack: {exc}"], {"error": str(exc)})
    totals = {s: est.total(s) for s in SCALES}
    budgets = budget_lines(plan)
    added = monitoring_share(plan, est)
    added_line = ([f"{'monitoring':10}" + "".join(f"{'+' + format(added[s], '.4f'):>12}" for s in SCALES)
                   + "  $/hour (Prometheus, Grafana, OpenCost: their volume and system nodes)"] if added else [])
    rows = day_one_rows(est.nodes) if est.nodes else []
    unplaced = [(p.workload, why) for p, why in (est.nodes.unplaced if est.nodes else [])]
    lines = [
        f"prices: {est.source}",
        f"{'':10}" + "".join(f"{HEADINGS[s]:>12}" for s in SCALES),
        f"{'$/hour':10}" + "".join(f"{totals[s]:>12.4f}" for s in SCALES),
        f"{'$/month':10}" + "".join(f"{totals[s] * HOURS_PER_MONTH:>12.2f}" for s in SCALES),
        *added_line,
        *budgets,
        "day one (nodes the stack's own pods need right after `pulumi up`):",
        *[f"  {r['group']}: {r['nodes']} node(s)" + (f": {', '.join(r['workloads'])}" if r["workloads"] else "")
          for r in rows],
        *[f"  NOT PLACED: {w}: {why}" for w, why in unplaced],
        "biggest items at maximum scale ($/hour):",
    ]
    lines += [f"  {i.max:>10.4f}  {i.name} [{_short(i.type)}]  {i.detail}" for i in est.top(8)]
    lines += [f"not in the totals: {n}" for n in est.notes]
    md = [
        f"Prices: {est.source}", "",
        "| | " + " | ".join(HEADINGS[s] for s in SCALES) + " |", "|---|---:|---:|---:|",
        "| $/hour | " + " | ".join(f"{totals[s]:.4f}" for s in SCALES) + " |",
        "| $/month | " + " | ".join(f"{totals[s] * HOURS_PER_MONTH:.2f}" for s in SCALES) + " |",
        *(["| monitoring adds ($/hour) | " + " | ".join(f"+{added[s]:.4f}" for s in SCALES) + " |"] if added else []),
        "",
        *[f"- {line}" for line in budgets], *([""] if budgets else []),
        "| day-one group | nodes | for |", "|---|---:|---|",
        *[f"| `{r['group']}` | {r['nodes']} | {', '.join(r['workloads']) or '(minSize)'} |" for r in rows],
        *[f"| **not placed** | | {w}: {why} |" for w, why in unplaced], "",
        "| biggest items | $/hour at max | detail |", "|---|---:|---|",
        *[f"| `{i.name}` {_short(i.type)} | {i.max:.4f} | {i.detail} |" for i in est.top(8)], "",
        *[f"- not in the totals: {n}" for n in est.notes],
    ]
    data = {
        "source": est.source,
        "perHour": totals,
        "perMonth": {s: round(totals[s] * HOURS_PER_MONTH, 2) for s in SCALES},
        "dayOne": {"groups": rows, "unplaced": [{"workload": w, "reason": why} for w, why in unplaced]},
        "items": [{"name": i.name, "type": i.type, "idle": i.idle, "day_one": i.day_one, "max": i.max,
                   "detail": i.detail} for i in est.top(len(est.items))],
        "notes": est.notes,
        "budgets": budgets,
        "monitoringAdds": added,
    }
    return Section("Cost", lines, data, md)
