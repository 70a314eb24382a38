"""`make bench`, the diff's part: what `infra diff --all` costs next to one `plan --all` (bench/measure.py says how
it is measured: CPU time of fresh processes, their children included, interleaved rounds).

In a throwaway repository of the project with the test stacks (tests/git_repo.py) two commits: the base and a
config change on top (a bigger worker pool in dev), which is the working tree too. The diff of that working tree
against the base runs one process: both sides run the same program, so it imports the SDKs once and plans both
sides in it (README "Diff: what a change does, offline"). A change to the program would plan each side in its own
process, each a `plan --all`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import measure as m

sys.path.insert(0, str(m.ROOT))
from tests.git_repo import commit_config, project_repo


def diff() -> list[str]:
    """The diff and the plan, interleaved; their CPU ratio."""
    with tempfile.TemporaryDirectory(prefix="cloudviper-bench-diff-") as tmp:
        repo = Path(tmp)
        base = project_repo(repo)
        commit_config(repo, "bigger workers", lambda c: c["cloudviper:nodeGroups"][1].update(maxSize=8))
        commands = {"plan --all": [m.PY, "-m", "infra", "plan", "--all", "--json"],
                    "diff --all": [m.PY, "-m", "infra", "diff", "--base", base, "--all", "--json"]}
        runs = m.interleave(commands, warmup=("plan --all",), cwd=repo)
    ratio = m.round_ratio(m.cpus(runs["diff --all"]), m.cpus(runs["plan --all"]))
    return [f"\ninfra diff of the test stacks (a config change: one process) in a throwaway repository, {m.REPEAT} "
            "rounds of plan --all, diff --all (after an untimed plan --all), medians:",
            *(m.summary(label, label_runs) for label, label_runs in runs.items()),
            f"diff --all (both sides) / plan --all (one side), CPU: {ratio:.2f}x"]


def job() -> m.Job:
    """The diff's part, some 160 CPU seconds on the development machine."""
    return m.Job(160, diff)


if __name__ == "__main__":
    print(m.machine())
    m.run_jobs([job()])
