"""Offline diff benchmark: `infra diff` of the dev stack against its own base and against a changed copy, as a
ratio to one offline plan (the target: about two plans at most; the two sides run in parallel).

Run with `make bench`. Works in a throwaway copy of the project (tests/git_repo.py); every figure is the median
wall time of REPEAT fresh processes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.git_repo import commit_config, git, project_repo  # noqa: E402 (after the path is set)

PY = sys.executable
REPEAT = 3


def wall(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    """Median wall time of a command over REPEAT runs (its exit code must be in `ok`)."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return statistics.median(times)


def main() -> int:
    """Print the figures."""
    with tempfile.TemporaryDirectory(prefix="cloudviper-bench-") as tmp:
        repo = Path(tmp)
        base = project_repo(repo)
        plan = wall([PY, "-m", "infra", "plan", "--stack", "dev", "--json"], repo)
        same = wall([PY, "-m", "infra", "diff", "--base", base, "--stack", "dev", "--json"], repo)
        changed = commit_config(repo, "bigger workers", lambda c: c["cloudviper:nodeGroups"][1].update(maxSize=8))
        git(repo, "checkout", "-q", "--detach", changed)
        other = wall([PY, "-m", "infra", "diff", "--base", base, "--stack", "dev", "--json"], repo)
    print(f"offline plan, stack dev (--json)          : {plan:6.2f} s (median of {REPEAT})")
    print(f"diff of dev against its own base          : {same:6.2f} s = {same / plan:.2f} x one plan")
    print(f"diff of dev against a changed copy        : {other:6.2f} s = {other / plan:.2f} x one plan")
    print("target: at most about 2 x one plan (base and working tree are planned in parallel)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
