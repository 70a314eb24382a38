"""Offline plan benchmark: plan wall time vs the bare SDK import time, and a node-group sweep.

Run with `make bench`. Every measurement is a fresh Python process (what a user's
`python -m infra plan` costs); the sweep prints seconds per registered resource so growth
can be checked for linearity.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
REPEAT = 3


def wall(cmd: list[str]) -> float:
    """Median wall time of a command over REPEAT runs (it must succeed)."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sweep_one(groups: int) -> dict:
    """In this process: evaluate a stack with `groups` worker pools; return resources and seconds."""
    sys.path.insert(0, str(ROOT))
    from infra.config.stackfile import StackFile
    from infra.plan.program import run_program

    values = {
        "aws:region": "us-east-1",
        "cloudviper:tags": {"owner": "bench", "costCenter": "bench"},
        "cloudviper:cluster": {"publicAccessCidrs": ["192.0.2.0/24"]},
        "cloudviper:nodeGroups": [
            {"name": "system", "role": "system", "instanceTypes": ["t3.medium"], "minSize": 1, "maxSize": 2, "spot": False},
            *[{"name": f"w{i}", "instanceTypes": ["m5.large", "m5a.large"], "maxSize": 4} for i in range(groups - 1)],
        ],
    }
    start = time.perf_counter()
    capture = run_program(StackFile(project="cloudviper", stack="bench", values=values))
    seconds = time.perf_counter() - start
    return {"groups": groups, "resources": len(capture.resources), "seconds": seconds}


def sweep_one_in_subprocess(groups: int) -> dict:
    """One sweep point in a fresh interpreter."""
    out = subprocess.run([PY, __file__, "--sweep-one", str(groups)], cwd=ROOT, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    """Print the figures."""
    if len(sys.argv) == 3 and sys.argv[1] == "--sweep-one":
        print(json.dumps(sweep_one(int(sys.argv[2]))))
        return 0
    imports = wall([PY, "-c", "import pulumi, pulumi_aws, pulumi_kubernetes"])
    print(f"bare import of pulumi + pulumi_aws + pulumi_kubernetes: {imports:.2f} s (median of {REPEAT})")
    sys.path.insert(0, str(ROOT))
    from tests.conftest import stacks_project  # the test stacks: the examples are the user's to change or delete

    for stack in ("dev", "reference"):
        t = wall([PY, "-m", "infra", "plan", "--stack", stack, "--json", "--project-dir", str(stacks_project())])
        print(f"offline plan, stack {stack:<9}: {t:.2f} s  = {t / imports:.1f} x the bare import")
    print(f"node-group sweep (program evaluation under mocks, fresh process each, median of {REPEAT} after a warm-up):")
    rows = []
    sweep_one_in_subprocess(1)  # warm the disk cache so the first size is not charged for it
    for groups in (1, 10, 50):
        runs = [sweep_one_in_subprocess(groups) for _ in range(REPEAT)]
        row = {**runs[0], "seconds": statistics.median(r["seconds"] for r in runs)}
        rows.append(row)
        print(f"  {row['groups']:>3} groups: {row['resources']:>5} resources  {row['seconds']:6.2f} s  "
              f"{1000 * row['seconds'] / row['resources']:6.2f} ms/resource")
    # Least-squares slope of seconds over resources: the cost of one more resource.
    xs, ys = [r["resources"] for r in rows], [r["seconds"] for r in rows]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    fit = [my + slope * (x - mx) for x in xs]
    worst = max(abs(f - y) / y for f, y in zip(fit, ys, strict=True))
    print(f"linear fit: {1000 * slope:.2f} ms per resource; largest deviation from the line {100 * worst:.0f} %")
    pairs = list(pairwise(rows))
    marginal = [1000 * (b["seconds"] - a["seconds"]) / (b["resources"] - a["resources"]) for a, b in pairs]
    print("marginal ms per added resource: " + ", ".join(
        f"{a['groups']}->{b['groups']} groups {m:.2f}" for (a, b), m in zip(pairs, marginal, strict=True)))
    print(f"ratio of the marginal costs: {marginal[-1] / marginal[0]:.2f} (about 1 means cost grows linearly; "
          "the falling ms/resource is the fixed start-up cost spread over more resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
