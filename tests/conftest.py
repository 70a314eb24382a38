"""Shared fixtures: run the real program under the mock harness with a given stack config."""

from __future__ import annotations

import atexit
import copy
import functools
import gc
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import ROOT
from infra.pricing.tables import BUNDLED_ONLY

# Cost figures in the tests come from the bundled tables, also on a machine where `prices refresh` wrote newer ones
# (subprocesses inherit it).
os.environ[BUNDLED_ONLY] = "1"
import infra.plan.program as program_module
from infra.config.stackfile import StackFile, list_stacks, load_stack_file
from infra.plan.harness import Capture
from infra.plan.program import run_program
from infra.plan.sdk_modules import import_sdk_modules


def pytest_configure(config: pytest.Config) -> None:
    """The SDKs a plan loads, imported once and frozen out of the collector: walking that heap on every collection
    cost a fifth of the suite's CPU. Collections also come less often (the suite's garbage is mostly short-lived
    captures). Not in pytest-xdist's controller, which runs no test (workers have PYTEST_XDIST_WORKER set)."""
    if getattr(config.option, "numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        return
    import_sdk_modules()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


# Identical evaluations (same program files, stack, config, environment and referenced outputs) return the same
# capture: the suite evaluates many configs more than once. Off for a test that monkeypatches (what it patches may
# change the result).
SESSION_EVALUATIONS: dict[str, tuple[Capture, list[logging.LogRecord]]] = {}


@pytest.fixture(autouse=True)
def _shared_evaluations(request: pytest.FixtureRequest) -> Any:
    program_module.EVALUATIONS = None if "monkeypatch" in request.fixturenames else SESSION_EVALUATIONS
    yield
    program_module.EVALUATIONS = None

BASE_CONFIG: dict[str, Any] = {
    "aws:region": "us-east-1",
    "cloudviper:tags": {"owner": "tests", "costCenter": "cc-1"},
    "cloudviper:network": {"cidr": "10.0.0.0/16", "azs": ["us-east-1a", "us-east-1b", "us-east-1c"]},
    "cloudviper:buckets": [{"name": "raw"}],
}


def run_config(values: dict[str, Any], stack: str = "test") -> Capture:
    """Evaluate __main__.py with these config values (`ns:key` -> decoded value)."""
    return run_program(StackFile(project="cloudviper", stack=stack, values=copy.deepcopy(values)))


STACKS = Path(__file__).parent / "stacks"  # the test stacks: Pulumi.<name>.yaml and policies/config/<name>.json
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py")


def copy_test_project(dest: Path, stacks: tuple[str, ...] = ()) -> Path:
    """A project folder in `dest`: this repo's program files and the test stacks (all, or those named), each with
    its policy config. Tests never read the example stacks at the top level, so a lab may change, add or delete
    those freely; tests/test_example_stacks.py checks whichever it finds."""
    (dest / "policies" / "config").mkdir(parents=True, exist_ok=True)
    for name in PROGRAM_FILES:
        shutil.copy(ROOT / name, dest / name)
    for path in sorted(STACKS.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi."):-len(".yaml")]
        if stacks and name not in stacks:
            continue
        shutil.copy(path, dest / path.name)
        shutil.copy(STACKS / "policies" / "config" / f"{name}.json", dest / "policies" / "config" / f"{name}.json")
    return dest


@functools.cache
def stacks_project() -> Path:
    """The session's project folder of test stacks (made once, removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="cloudviper-test-stacks-"))
    atexit.register(shutil.rmtree, folder, True)
    return copy_test_project(folder)


def stack_file(name: str) -> StackFile:
    """A test stack's file, as the plan reads it."""
    return load_stack_file(stacks_project(), name)


@functools.cache
def capture_in(project: Path, name: str) -> Capture:
    """The capture of stack `name` of a project folder (cached)."""
    return run_program(load_stack_file(project, name), project)


def _stack_capture(name: str) -> Capture:
    return capture_in(stacks_project(), name)


def every_stack() -> list[Any]:
    """pytest params (project folder, stack name): each test stack, then each example stack found at the top level."""
    tests = [pytest.param(stacks_project(), n, id=f"test-{n}") for n in list_stacks(stacks_project())]
    return tests + [pytest.param(ROOT, n, id=f"example-{n}") for n in list_stacks(ROOT)]


@pytest.fixture
def run_stack() -> Callable[..., Capture]:
    """Run the program with BASE_CONFIG updated by keyword overrides (`network={...}`)."""

    def run(**overrides: Any) -> Capture:
        values = copy.deepcopy(BASE_CONFIG)
        for key, value in overrides.items():
            full = key if ":" in key else f"cloudviper:{key}"
            if value is None:
                values.pop(full, None)
            else:
                values[full] = value
        return run_config(values)

    return run


@pytest.fixture
def stack_capture() -> Callable[[str], Capture]:
    """The capture of a test stack (tests/stacks/, cached per stack)."""
    return _stack_capture


@pytest.fixture
def stacks_dir() -> Path:
    """The project folder of the test stacks (read-only: copy it with copy_test_project to change a stack)."""
    return stacks_project()


@pytest.fixture
def repo_root() -> Path:
    """The repository root."""
    return ROOT


CLUSTER_CONFIG: dict[str, Any] = {
    "cloudviper:cluster": {
        "publicAccessCidrs": ["192.0.2.0/24"],
        "admins": ["arn:aws:iam::123456789012:role/Admin"],
        "accessEntries": [{"principalArn": "arn:aws:iam::123456789012:role/Scientists", "groups": ["scientists"]}],
    },
    "cloudviper:nodeGroups": [
        {"name": "system", "role": "system", "instanceTypes": ["t3.medium"], "minSize": 1, "maxSize": 2, "spot": False},
        {"name": "workers", "instanceTypes": ["m5.xlarge", "m5a.xlarge"], "maxSize": 8, "onDemandBase": 1,
         "labels": {"team": "astro"}, "disableSmt": True},
        {"name": "gpu", "instanceTypes": ["g5.xlarge"], "maxSize": 2, "gpu": True,
         "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]},
    ],
}


@pytest.fixture(scope="session")
def cluster_capture() -> Capture:
    """A stack with a cluster, a system pool, a spot worker pool (SMT off) and a GPU pool."""
    return run_config({**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(CLUSTER_CONFIG)}, stack="test")


def import_without(modules: list[str], forbidden: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Import `modules` in a fresh interpreter in which importing any `forbidden` package fails."""
    code = ("import builtins\nreal = builtins.__import__\n"
            "def guard(name, *a, **k):\n"
            f"    if name.split('.')[0] in {forbidden!r}:\n"
            "        raise ImportError(name + ' is not installed where this runs')\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = guard\n"
            f"import {', '.join(modules)}\n")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
