"""infra/plan/sdk_modules.py imports exactly the SDK modules planning every stack loads: the floor `make bench`
compares a plan with, and what `plan` imports before freezing the collector; and how a command's process settles the
collector after each evaluation."""

from __future__ import annotations

import gc
import json
import runpy
import subprocess
import sys
import weakref

import pytest

import infra.plan.program as program
from infra import ROOT, cli
from infra.plan import sdk_modules
from infra.plan.harness import let_go
from infra.plan.program import run_program
from infra.plan.sdk_modules import SDK_MODULES
from tests.conftest import stack_file, stacks_project

PLANNED = """
import contextlib, gc, io, json, sys
import infra.plan.plan_command as plan_command
from infra.cli import main
from infra.plan import sdk_modules
from infra.plan.sdk_modules import loaded_sdk_modules
assert callable(plan_command.import_and_freeze)  # what `plan` calls first (a renamed one would make this vacuous)
plan_command.import_and_freeze = lambda: None  # load only what planning itself loads
sdk_modules.command_process()  # as `python -m infra` does: settle after each evaluation
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    codes = [main(["plan", "--all", "--json", "--project-dir", sys.argv[1]])]
gc.collect()  # the garbage of the last report, never frozen
gc.unfreeze()
frozen_garbage = gc.collect()  # what settling froze that was, or became, garbage: the collector never frees it
print(json.dumps({"codes": codes, "modules": sorted(loaded_sdk_modules()), "frozen_garbage": frozen_garbage}))
"""

IMPORTED = """
import json
from infra.plan.sdk_modules import import_sdk_modules, loaded_sdk_modules
import_sdk_modules()
print(json.dumps(sorted(loaded_sdk_modules())))
"""


def run(code: str, *args: str) -> object:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def planned() -> dict[str, object]:
    """`plan --all` of the test stacks, in a fresh process: one of each kind the examples are (tests/stacks/), so
    every component and resource type."""
    planned = run(PLANNED, str(stacks_project()))
    assert isinstance(planned, dict)
    assert set(planned["codes"]) <= {0, 3}, planned["codes"]  # every stack planned
    return planned


@pytest.mark.xdist_group("sdk_modules_planned")  # one worker plans once for both (--dist loadgroup)
def test_the_floor_imports_what_planning_every_stack_loads(planned):
    imported = run(IMPORTED)
    assert isinstance(imported, list)
    assert set(planned["modules"]) - set(imported) == set(), "planning loads SDK modules SDK_MODULES does not import"
    assert set(imported) - set(planned["modules"]) == set(), "SDK_MODULES imports modules no plan loads"
    # lazily registered provider subpackages really ran (pulumi/_utils.py _LazyModule), not only got registered
    assert {"pulumi_aws.ec2.vpc", "pulumi_kubernetes.core.v1.Secret"} <= set(imported)
    assert len(SDK_MODULES) == len(set(SDK_MODULES))


@pytest.mark.xdist_group("sdk_modules_planned")  # one worker plans once for both (--dist loadgroup)
def test_settling_after_each_evaluation_freezes_no_garbage(planned):
    # Frozen while pulumi's globals held it, each evaluation's resource graph became garbage the collector never
    # sees once the next evaluation replaced them: 61,000 objects for these stacks before settle let go first.
    assert planned["frozen_garbage"] == 0


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settling_lets_go_collects_the_garbage_then_freezes_what_is_left(monkeypatch):
    monkeypatch.setattr(sdk_modules, "SETTLE", True)
    held = [_Node()]  # what pulumi's globals hold of a finished evaluation
    dead = weakref.ref(held[0])
    kept = _Node()
    before = gc.get_freeze_count()
    try:
        sdk_modules.settle(held.clear)
        assert dead() is None  # let go, then collected: not frozen for good
        assert gc.get_freeze_count() > before and kept.me is kept  # the live objects moved out of the collector's walk
    finally:
        gc.unfreeze()  # this test process lives on: give the collector its heap back


def test_only_a_command_process_settles(monkeypatch):
    monkeypatch.setattr(sdk_modules, "SETTLE", False)
    held = [_Node()]
    dead = weakref.ref(held[0])
    before = gc.get_freeze_count()
    sdk_modules.settle(held.clear)
    assert held and dead() is not None  # nothing let go
    assert gc.get_freeze_count() == before  # a test process keeps its collector as it was
    held.clear()
    gc.collect()
    assert dead() is None


def test_python_m_infra_is_a_command_process_and_plans_settle_after_each_evaluation(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(sdk_modules, "command_process", lambda: calls.append("command_process"))

    def main() -> int:
        calls.append("main")
        return 0

    monkeypatch.setattr(cli, "main", main)
    with pytest.raises(SystemExit):
        runpy.run_module("infra", run_name="__main__")
    assert calls == ["command_process", "main"]
    settled: list[object] = []
    monkeypatch.setattr(program, "settle", lambda then: settled.append(then))
    run_program(stack_file("primary"), stacks_project(), memo={})  # primary, then burst read as its target
    assert settled == [let_go, let_go]


def test_a_command_that_plans_puts_off_full_collections_only_in_its_own_process(monkeypatch):
    monkeypatch.setattr(sdk_modules, "import_sdk_modules", lambda: None)
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 1)  # as if frozen already: this test process stays unfrozen
    monkeypatch.setattr(sdk_modules, "SETTLE", False)
    before = gc.get_threshold()
    try:
        sdk_modules.import_and_freeze()
        assert gc.get_threshold() == before  # a test process (or an upload) collects as usual
        sdk_modules.command_process()
        assert sdk_modules.SETTLE
        sdk_modules.import_and_freeze()
        assert gc.get_threshold() == (before[0], before[1], sdk_modules.FULL_AFTER)
    finally:
        gc.set_threshold(*before)  # this test process lives on
