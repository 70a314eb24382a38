"""Shared fixtures: run the real program under the mock harness with a given stack config."""

from __future__ import annotations

import copy
import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import ROOT
from infra.config.stackfile import StackFile, load_stack_file
from infra.plan.harness import Capture
from infra.plan.program import run_program

BASE_CONFIG: dict[str, Any] = {
    "aws:region": "us-east-1",
    "cloudviper:tags": {"owner": "tests", "costCenter": "cc-1"},
    "cloudviper:network": {"cidr": "10.0.0.0/16", "azs": ["us-east-1a", "us-east-1b", "us-east-1c"]},
    "cloudviper:buckets": [{"name": "raw"}],
}


def run_config(values: dict[str, Any], stack: str = "test") -> Capture:
    """Evaluate __main__.py with these config values (`ns:key` -> decoded value)."""
    return run_program(StackFile(project="cloudviper", stack=stack, values=copy.deepcopy(values)))


@functools.cache
def _stack_capture(name: str) -> Capture:
    return run_program(load_stack_file(ROOT, name))


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
    """The capture of an example stack file (cached per stack)."""
    return _stack_capture


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
