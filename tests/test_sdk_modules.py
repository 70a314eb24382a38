"""infra/plan/sdk_modules.py imports exactly the SDK modules planning every stack loads: the floor `make bench`
compares a plan with, and what `plan` imports before freezing the collector."""

from __future__ import annotations

import json
import subprocess
import sys

from infra import ROOT
from infra.plan.sdk_modules import SDK_MODULES
from tests.conftest import stacks_project

PLANNED = """
import contextlib, io, json, sys
import infra.plan.plan_command as plan_command
from infra.cli import main
from infra.plan.sdk_modules import loaded_sdk_modules
assert callable(plan_command.import_and_freeze)  # what `plan` calls first (a renamed one would make this vacuous)
plan_command.import_and_freeze = lambda: None  # load only what planning itself loads
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    codes = [main(["plan", "--all", "--json", "--project-dir", sys.argv[1]])]
print(json.dumps({"codes": codes, "modules": sorted(loaded_sdk_modules())}))
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


def test_the_floor_imports_what_planning_every_stack_loads():
    # The test stacks: one of each kind the examples are (tests/stacks/), so every component and resource type.
    planned = run(PLANNED, str(stacks_project()))
    assert isinstance(planned, dict)
    assert set(planned["codes"]) <= {0, 3}, planned["codes"]  # every stack planned
    imported = run(IMPORTED)
    assert isinstance(imported, list)
    assert set(planned["modules"]) - set(imported) == set(), "planning loads SDK modules SDK_MODULES does not import"
    assert set(imported) - set(planned["modules"]) == set(), "SDK_MODULES imports modules no plan loads"
    # lazily registered provider subpackages really ran (pulumi/_utils.py _LazyModule), not only got registered
    assert {"pulumi_aws.ec2.vpc", "pulumi_kubernetes.core.v1.Secret"} <= set(imported)
    assert len(SDK_MODULES) == len(set(SDK_MODULES))
