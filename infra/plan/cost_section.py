"""The plan's cost section: $/hour and $/month at idle, day one and max, the day-one nodes and why they run."""

from __future__ import annotations

from typing import Any

from infra.plan.report import Plan, Section
from infra.plan.sections import resource_views
from infra.pricing.cost import Estimate, estimate
from infra.pricing.day_one import DayOne
from infra.pricing.tables import HOURS_PER_MONTH, PricingError, load_prices

SCALES = ("idle", "day_one", "max")
HEADINGS = {"idle": "idle", "day_one": "day-one", "max": "max"}


def _short(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def stack_estimate(plan: Plan) -> Estimate:
    """Price the plan's captured resources with the stack region's table."""
    return estimate(resource_views(plan.capture), load_prices(plan.stack.region))


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
    rows = day_one_rows(est.nodes) if est.nodes else []
    unplaced = [(p.workload, why) for p, why in (est.nodes.unplaced if est.nodes else [])]
    lines = [
        f"prices: {est.source}",
        f"{'':10}" + "".join(f"{HEADINGS[s]:>12}" for s in SCALES),
        f"{'$/hour':10}" + "".join(f"{totals[s]:>12.4f}" for s in SCALES),
        f"{'$/month':10}" + "".join(f"{totals[s] * HOURS_PER_MONTH:>12.2f}" for s in SCALES),
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
        "| $/month | " + " | ".join(f"{totals[s] * HOURS_PER_MONTH:.2f}" for s in SCALES) + " |", "",
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
    }
    return Section("Cost", lines, data, md)
