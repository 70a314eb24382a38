"""Several stacks in one `plan`: one report per stack, the worst exit code, the same reports as one stack at a
time, and each referenced stack planned once per way it is reached (as a target; as a source, per chain) however
many stacks or targets name it (infra/plan/program.py)."""

from __future__ import annotations

import gc
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

import infra.plan.program as program
from infra.plan.harness import evaluate
from tests.cli_runner import run_cli
from tests.conftest import copy_test_project


def test_several_stacks_print_the_reports_one_stack_at_a_time_prints(stacks_dir):
    together = run_cli("plan", "--stack", "burst", "--stack", "primary", "--project-dir", str(stacks_dir))
    apart = [run_cli("plan", "--stack", name, "--project-dir", str(stacks_dir)) for name in ("burst", "primary")]
    assert together.returncode == 0 and all(r.returncode == 0 for r in apart), together.stderr
    assert together.stdout == "".join(r.stdout for r in apart)  # byte for byte: sharing the references changes nothing


def test_json_of_several_stacks_is_a_list_of_the_single_documents(stacks_dir):
    many = json.loads(run_cli("plan", "--stack", "dev", "--stack", "dev", "--stack", "burst", "--json",
                              "--project-dir", str(stacks_dir)).stdout)
    assert [d["stack"] for d in many["stacks"]] == ["dev", "burst"]  # each stack once, in the order given
    one = json.loads(run_cli("plan", "--stack", "dev", "--json", "--project-dir", str(stacks_dir)).stdout)
    assert many["stacks"][0] == one


def test_the_exit_code_is_the_worst_and_every_stack_is_reported(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    (project / "Pulumi.broken.yaml").write_text("config:\n  aws:region: us-east-1\n  cloudviper:network: {cidr: 10.0.0.0/33}\n")
    done = run_cli("plan", "--stack", "broken", "--stack", "dev", "--project-dir", str(project))
    assert done.returncode == 2
    assert "cloudviper plan: stack broken:" in done.stderr and "cloudviper:network" in done.stderr
    assert "cloudviper plan: stack dev" in done.stdout  # the good stack is still planned and printed


def federated_project(tmp_path: Path) -> Path:
    """primary with two stack targets (burst, burst2); burst with two sources (primary, primary2)."""
    project = copy_test_project(tmp_path, ("primary", "burst"))

    def load(name: str) -> dict:
        return dict(yaml.safe_load((project / f"Pulumi.{name}.yaml").read_text()))

    def save(name: str, doc: dict, like: str) -> None:
        (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc))
        if name != like:
            shutil.copy(project / "policies" / "config" / f"{like}.json", project / "policies" / "config" / f"{name}.json")

    primary, burst = load("primary"), load("burst")
    burst2 = json.loads(json.dumps(burst))
    burst2["config"]["cloudviper:network"]["cidr"] = "10.62.0.0/16"
    save("burst2", burst2, "burst")
    primary2 = json.loads(json.dumps(primary))
    primary2["config"]["cloudviper:network"]["cidr"] = "10.63.0.0/16"
    primary2["config"]["cloudviper:federation"]["targets"] = [
        t for t in primary2["config"]["cloudviper:federation"]["targets"] if t["name"] != "burst2"]
    save("primary2", primary2, "primary")
    primary["config"]["cloudviper:federation"]["targets"].append(
        {"name": "burst2", "kind": "stack", "stack": "organization/cloudviper/burst2", "namespace": "dask"})
    save("primary", primary, "primary")
    burst["config"]["cloudviper:federation"]["sources"].append(
        {"name": "primary2", "namespace": "dask", "stack": "organization/cloudviper/primary2", "serviceAccounts": ["dask"]})
    save("burst", burst, "burst")
    return project


@pytest.fixture
def evaluations(monkeypatch) -> Counter:
    """How often each stack is evaluated."""
    seen: Counter = Counter()
    real = program.evaluate

    def counting(*args, **kwargs):
        seen[kwargs["stack"]] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(program, "evaluate", counting)
    return seen


def test_each_referenced_stack_is_planned_once_per_run(tmp_path, evaluations):
    project = federated_project(tmp_path)
    done = run_cli("plan", "--stack", "primary", "--stack", "burst", "--stack", "burst2", "--project-dir", str(project))
    assert done.returncode == 0, done.stderr
    # primary: itself, and burst and burst2 read as targets (their sources answer "not deployed yet").
    # burst: itself, primary2 read as a source; primary, read as its source too, has no sources of its own, so it
    # plans as it did itself (infra/plan/program.py _remembered): not again; primary2's target burst is the target
    # already planned. burst2: itself (its source primary, again the one plan).
    assert evaluations == Counter({"primary": 1, "burst": 2, "burst2": 2, "primary2": 1})
    # A target with several source stacks plans: before, burst -> primary -> burst -> primary2 -> burst went past
    # the depth limit ("references go too deep").
    assert "cloudviper plan: stack burst (us-east-1)" in done.stdout and "primary2" in done.stdout


def test_a_stack_that_fails_while_it_runs_leaves_nothing_behind_for_the_next(tmp_path, stacks_dir, caplog):
    # The overlap is found inside the program (an apply on burst's outputs), with other outputs still pending: the
    # next stack in the process must not inherit them (pulumi keeps them in SETTINGS.outputs; infra/plan/harness.py).
    project = copy_test_project(tmp_path, ("primary", "burst", "dev"))
    burst = yaml.safe_load((project / "Pulumi.burst.yaml").read_text())
    burst["config"]["cloudviper:network"]["cidr"] = "10.60.0.0/16"
    (project / "Pulumi.burst.yaml").write_text(yaml.safe_dump(burst))
    both = run_cli("plan", "--stack", "primary", "--stack", "dev", "--project-dir", str(project))
    assert both.returncode == 2
    assert "stack primary: cloudviper:federation.targets[burst]" in both.stderr and "stack dev:" not in both.stderr
    assert "Traceback" not in both.stderr
    gc.collect()  # the failed run's other outputs, unread: not one "Future exception was never retrieved" for them
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert both.stdout == run_cli("plan", "--stack", "dev", "--project-dir", str(stacks_dir)).stdout


def _late(value: object, levels: int, message: str) -> Any:
    """An output that fails `levels` applies later: each level's output exists only once the one before resolved,
    as applies inside applies in the program do."""
    if levels == 0:
        raise pulumi.RunError(message)
    return pulumi.Output.from_input(value).apply(lambda v: _late(v, levels - 1, message))


def test_what_a_failed_run_left_running_cannot_fail_the_next():
    # pulumi's wait_for_rpcs stops at the first failed output and drops the pending ones, which stay on the event
    # loop (pulumi/runtime/stack.py); the next run pumps that loop. Without cancelling them, B failed with A's error.
    def a() -> None:
        start = pulumi.Output.from_input("x")
        start.apply(lambda v: _late(v, 300, "A's error, raised late"))
        start.apply(lambda v: _late(v, 1, "A's first error"))

    def b() -> None:
        pulumi.export("ok", pulumi.Output.from_input(1).apply(lambda v: v + 1))

    with pytest.raises(pulumi.RunError, match="A's"):  # usually the first; whichever A fails with
        evaluate(a, project="p", stack="a", config={})
    assert evaluate(b, project="p", stack="b", config={}).outputs["ok"].value == 2


def test_the_programs_warnings_are_printed_each_time_the_stack_is_planned(stacks_dir):
    # burst's sources have not deployed yet: the program warns (pulumi.log.warn). A second plan finds the evaluation
    # shared by the tests (infra/plan/program.py EVALUATIONS) and must print them again, as a fresh process would.
    assert program.EVALUATIONS is not None
    for _ in range(2):
        done = run_cli("plan", "--stack", "burst", "--project-dir", str(stacks_dir))
        assert "exports no egressCidrs yet" in done.stderr and "has not connected to this stack yet" in done.stderr
