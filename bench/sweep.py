"""Warm in-process marginal cost of a stack's size: node groups, namespaces, federation sources, stack targets.

`python bench/sweep.py KIND ROUNDS SIZE...` (run by bench/plan_bench.py, one process per sweep) imports the SDKs,
makes a project of generated stacks (bench/generated_stacks.py), plans the smallest size once untimed, then times
whole plans (infra/plan/build.py make_plan: evaluate, price, policy, sections) with time.process_time at every size,
sizes round-robin, ROUNDS rounds; one JSON line per plan. A plan that fails, exits non-zero or breaks a policy rule
stops the sweep: the figures are of working stacks only.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import generated_stacks as gen
from measure import ROOT

# kind -> what one unit is, in the report
UNITS = {
    "node-groups": "node group",
    "namespaces": "namespace",
    "sources": "federation source (its stack is planned too)",
    "targets": "stack target (its stack is planned too)",
}
FLAT = 1.5  # the last segment's cost per unit within this factor of the first's (either way)


def write_size(project: Path, kind: str, size: int) -> str:
    """Write the stack of this size (the hub, for the federation kinds); its name."""
    if kind == "node-groups":
        gen.write_stack(project, f"pools-{size}", gen.node_groups_config(size))
        return f"pools-{size}"
    if kind == "namespaces":
        gen.write_stack(project, f"teams-{size}", gen.namespaces_config(size))
        return f"teams-{size}"
    # One hub file, rewritten per size: its peers name it back by its stack name.
    hub = f"hub-{kind}"
    gen.write_stack(project, hub, gen.hub_config(kind, [f"{hub}-{i}" for i in range(size)]))
    return hub


def plan_once(project: Path, kind: str, size: int) -> dict[str, Any]:
    """Time one whole plan of the stack of this size; its CPU seconds, resources and custom resources."""
    from infra.plan.build import make_plan

    name = write_size(project, kind, size)
    gc.unfreeze()  # what the previous plan's settling froze (infra/plan/sdk_modules.py settle) is garbage now,
    gc.collect()  # and not this plan's cost; and as `plan` freezes the collector after its imports
    gc.freeze()  # (infra/plan/plan_command.py), every plan starts with what came before it frozen
    start = time.process_time()
    plan = make_plan(name, project)
    cpu = time.process_time() - start
    policy = next((s.data for s in plan.sections if s.title.lower() == "policy"), None)
    violations = policy.get("violations", []) if isinstance(policy, dict) else ["no policy section"]
    if plan.exit_code != 0 or violations:
        raise SystemExit(f"sweep {kind}: stack {name} at size {size}: exit code {plan.exit_code}, policy: "
                         f"{violations[:3]}")
    return {"size": size, "cpu": cpu, "resources": len(plan.capture.resources),
            "custom": sum(1 for r in plan.capture.resources if r.custom)}


def run_sweep(kind: str, rounds: int, sizes: list[int]) -> None:
    """Print one JSON line per timed plan."""
    sys.path.insert(0, str(ROOT))
    from infra.plan import sdk_modules
    from tests.conftest import copy_test_project

    sdk_modules.command_process()  # the collector as in `python -m infra plan`
    sdk_modules.import_and_freeze()
    with tempfile.TemporaryDirectory(prefix=f"cloudviper-sweep-{kind}-") as tmp:
        project = copy_test_project(Path(tmp))
        if kind in ("sources", "targets"):
            gen.write_peers(project, f"hub-{kind}", kind, max(sizes))
        plan_once(project, kind, sizes[0])  # warm-up: the first plan runs code no later plan runs again
        for _ in range(rounds):
            for size in sizes:
                print(json.dumps(plan_once(project, kind, size)), flush=True)


def added_ms(rows: dict[int, list[dict[str, Any]]], a: int, b: int) -> float:
    """Milliseconds from size a to size b: the median over rounds of the difference within a round (drift between
    rounds cancels)."""
    rounds = min(len(rows[a]), len(rows[b]))
    return 1000 * statistics.median(rows[b][i]["cpu"] - rows[a][i]["cpu"] for i in range(rounds))


def report(kind: str, out: str) -> list[str]:
    """The sweep's table, its segments (cost per added unit and per added custom resource) and the flat target: the
    last segment's cost per unit against the first's."""
    rows: dict[int, list[dict[str, Any]]] = {}
    for line in out.splitlines():
        row = json.loads(line)
        rows.setdefault(row["size"], []).append(row)  # in round order
    sizes, rounds = sorted(rows), min(len(r) for r in rows.values())
    custom = {s: rows[s][0]["custom"] for s in sizes}
    lines = [f"{kind}: one unit = one {UNITS[kind]}; " + (f"{rounds} rounds, medians" if rounds > 1 else "one round"),
             "  size  resources  custom  plan CPU"]
    lines += [f"  {s:>4}  {rows[s][0]['resources']:>9}  {custom[s]:>6}  "
              f"{statistics.median(r['cpu'] for r in rows[s]):7.2f} s" for s in sizes]
    per_unit = []
    for a, b in pairwise(sizes):
        added, ms = custom[b] - custom[a], added_ms(rows, a, b)
        if added <= 0:
            raise SystemExit(f"sweep {kind}: {a} -> {b} added no custom resources: the generator is broken")
        per_unit.append(ms / (b - a))
        lines.append(f"  {a:>3} -> {b:>3}: +{b - a} units, +{added} custom resources: {ms / (b - a):7.1f} ms/unit, "
                     f"{ms / added:6.2f} ms/custom resource")
    growth = per_unit[-1] / per_unit[0]
    verdict = "OK" if 1 / FLAT <= growth <= FLAT else "MISSED"
    lines.append(f"target {kind} flat (ms/unit of the last segment, {sizes[-2]} -> {sizes[-1]}, within {FLAT}x of "
                 f"the first, {sizes[0]} -> {sizes[1]}): {growth:.2f}x: {verdict}")
    return lines


if __name__ == "__main__":
    if len(set(sys.argv[3:])) < 3 or sys.argv[1] not in UNITS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(UNITS)}}} ROUNDS SIZE SIZE SIZE... (at least three sizes)")
    run_sweep(sys.argv[1], int(sys.argv[2]), sorted({int(s) for s in sys.argv[3:]}))
