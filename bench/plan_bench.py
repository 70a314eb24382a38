"""`make bench`, the plan's part (bench/measure.py says how it is measured; bench/make_bench.py runs every part).

1. Fresh processes, interleaved: the floor (importing exactly the SDK modules a plan loads and freezing the
   collector, as `plan` does: infra/plan/sdk_modules.py) against `plan --stack dev` and `plan --stack reference`,
   and every example stack in one `plan --all` against `plan --stack dev` -- the example stacks at the top of the
   repository, planned as the README says. A stack's JSON must be the same whether it was planned alone or with the
   others. The custom resources (what the cloud or cluster would hold; component resources only group them) of each
   stack.
2. Warm in-process sweeps (bench/sweep.py): the cost of one more node group, namespace, federation source or stack
   target, up to 100 of each, per unit and per custom resource.
3. Peak memory of one fresh `plan` of a generated stack with over 1,000 custom resources.

Importing tests.conftest sets the bundled-prices switch (infra/pricing/tables.py BUNDLED_ONLY), which the plans
here inherit: every plan prices from the bundled tables, whatever refreshed prices the repository holds.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import generated_stacks as gen
import measure as m
import sweep

sys.path.insert(0, str(m.ROOT))
from tests.conftest import copy_test_project

# The SDK imports and collector set-up `python -m infra plan` makes before it plans (infra/__main__.py,
# infra/plan/plan_command.py import_and_freeze), its own modules aside. Frozen as a plan is, the interpreter's last
# collection at exit skips the SDKs' heap: a bare import_sdk_modules() process pays that walk, some 0.6 s here, and
# would flatter every ratio against it.
FLOOR = [m.PY, "-c", "from infra.plan import sdk_modules; sdk_modules.command_process(); sdk_modules.import_and_freeze()"]
ALONE = ("dev", "reference")  # planned alone too: the default stack (`make plan`) and the largest example
# kind -> (rounds, sizes). A node group or namespace costs a few milliseconds, near the noise of one whole plan:
# several rounds. A federation unit plans one more (small) stack besides the hub's own objects, 0.3 s or more: one
# round of three sizes (about a minute of CPU), whose 50-unit segments take 15 to 30 s; their ratio still varies by
# some 0.3 between runs.
SWEEPS = {
    "node-groups": (7, [1, 25, 50, 75, 100]),  # the config allows 100 node groups
    "namespaces": (7, [1, 25, 50, 75, 100]),
    "sources": (1, [1, 50, 100]),
    "targets": (1, [1, 50, 100]),
}
# About how many CPU seconds each sweep takes on the development machine (only to start the heaviest first).
SWEEP_WEIGHTS = {"node-groups": 50, "namespaces": 20, "sources": 75, "targets": 60}
BIG = (100, 210)  # node groups and namespaces of the memory benchmark's stack: over 1,000 custom resources
TARGETS = {"plan / floor": 1.3, "all stacks / one stack": 1.6, "peak RSS": 300}


def plan_cmd(*which: str, project: Path = m.ROOT) -> list[str]:
    """`python -m infra plan --json` of a project folder (the repository's own: the example stacks)."""
    return [m.PY, "-m", "infra", "plan", "--json", "--project-dir", str(project), *which]


def canonical(doc: object) -> str:
    """A plan document as `plan --json` prints one stack (infra/plan/plan_command.py run_plan)."""
    return json.dumps(doc, indent=2, sort_keys=True, default=str)


def differing(runs: dict[str, list[m.Run]]) -> list[str]:
    """The stacks planned alone whose JSON differs from their document in `plan --all`, in any round."""
    docs = [{d["stack"]: canonical(d) for d in json.loads(r.out)["stacks"]} for r in runs["all"]]
    return [n for n in ALONE if any(r.out.rstrip("\n") != d[n] for r, d in zip(runs[n], docs, strict=True))]


def custom_table(all_out: str) -> list[str]:
    """Resources per stack: custom (what the cloud or cluster would hold) and component resources."""
    lines = ["custom resources per example stack (component resources only group them):"]
    for doc in json.loads(all_out)["stacks"]:
        custom = sum(1 for r in doc["resources"] if r["custom"])
        lines.append(f"  {doc['stack']:<10} {custom:>4} custom  ({len(doc['resources']) - custom} components)")
    return lines


def cold() -> list[str]:
    """Fresh processes, interleaved: the floor, dev and reference alone, every example stack in one process."""
    commands = {"floor": FLOOR, **{n: plan_cmd("--stack", n) for n in ALONE}, "all": plan_cmd("--all")}
    runs = m.interleave(commands, warmup=("floor", "dev"))
    lines = [f"\nfresh processes, {m.REPEAT} rounds of {', '.join(commands)} "
             "(after an untimed floor and dev: the files every plan reads), medians:"]
    titles = {"floor": "floor (import the SDK modules, freeze)", "all": "plan --all (one process)"}
    lines += [m.summary(titles.get(label, f"plan --stack {label}"), label_runs) for label, label_runs in runs.items()]
    floor = m.cpus(runs["floor"])
    lines += [m.target(f"plan --stack {n} / floor (CPU)", m.round_ratio(m.cpus(runs[n]), floor),
                       TARGETS["plan / floor"], "x") for n in ALONE]
    stacks = len(json.loads(runs["all"][-1].out)["stacks"])
    lines.append(m.target(f"plan --all ({stacks} stacks) / plan --stack dev (CPU)",
                          m.round_ratio(m.cpus(runs["all"]), m.cpus(runs["dev"])), TARGETS["all stacks / one stack"],
                          "x"))
    differ = differing(runs)
    lines.append(f"check: JSON of {' and '.join(ALONE)} alone vs in plan --all, every round: "
                 + ("byte-identical: OK" if not differ else f"DIFFERENT for {', '.join(differ)}"))
    return lines + custom_table(runs["all"][-1].out)


def memory() -> list[str]:
    """One fresh plan of a generated stack with BIG node groups and namespaces: its resources and peak memory; at
    least 1,000 custom resources or the benchmark stops."""
    with tempfile.TemporaryDirectory(prefix="cloudviper-bench-big-") as tmp:
        project = copy_test_project(Path(tmp), stacks=("dev",))
        gen.write_stack(project, "big", gen.big_config(*BIG))
        run = m.run(plan_cmd("--stack", "big", project=project))
    resources = json.loads(run.out)["resources"]
    custom = sum(1 for r in resources if r["custom"])
    if custom < 1000:
        raise SystemExit(f"bench: the memory benchmark's stack has {custom} custom resources, not 1,000")
    return [f"\nmemory: one fresh plan of a generated stack, {BIG[0]} node groups and {BIG[1]} namespaces, "
            f"{len(resources)} resources ({custom} custom): CPU {run.cpu:.2f} s, wall {run.wall:.2f} s",
            m.target("peak RSS of that plan", run.rss_mib, TARGETS["peak RSS"], " MiB")]


def sweep_job(kind: str) -> m.Job:
    """One sweep in its own process; its report."""
    rounds, sizes = SWEEPS[kind]
    cmd = [m.PY, str(m.ROOT / "bench" / "sweep.py"), kind, str(rounds), *map(str, sizes)]
    return m.Job(SWEEP_WEIGHTS[kind], lambda: ["", *sweep.report(kind, m.run(cmd).out)])


def jobs() -> list[m.Job]:
    """The plan's parts, in the order they print."""
    warm = ["\nwarm in-process sweeps: whole plans (evaluate, price, policy, report sections) timed with "
            "process_time after an untimed one,\nthe sizes round-robin; a segment's cost is the median over rounds of "
            "the difference within a round"]
    return [m.Job(115, cold), m.Job(0, lambda: warm), *map(sweep_job, SWEEPS), m.Job(11, memory)]


if __name__ == "__main__":
    print(m.machine())
    m.run_jobs(jobs())
