"""The example stacks, found by discovery: every Pulumi.<name>.yaml at the top level plans with 0 mandatory violations.

Behaviour is pinned on the test stacks (tests/stacks/); the examples are the user's to change, add (`python -m
infra init`) or delete, so nothing here names one. A stack a lab adds is checked the same way (and its Kubernetes
objects by tests/test_manifests.py).
"""

from __future__ import annotations

import pytest
import yaml

from infra import ROOT
from infra.config.loader import parse_stack_config
from infra.config.policy_file import load_policy_config
from infra.config.stackfile import list_stacks, load_stack_file
from infra.plan.policy_runner import run_pack
from policies.pack import POLICIES, pack_specs
from tests.conftest import capture_in

EXAMPLES = list_stacks(ROOT)


@pytest.mark.parametrize("stack", EXAMPLES)
def test_the_example_stack_config_is_valid(stack):
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    assert "aws:region" in doc["config"], stack
    file = load_stack_file(ROOT, stack)
    parse_stack_config(file.project, stack, file.values, set(file.secret_keys))  # raises ConfigError


@pytest.mark.parametrize("stack", EXAMPLES)
def test_the_example_stack_has_its_own_valid_policy_config(stack):
    config = load_policy_config(stack, ROOT / "policies" / "config", pack_specs())  # raises ConfigError
    assert config.path is not None, f"no policies/config/{stack}.json: `python -m infra init NAME` writes one"


@pytest.mark.parametrize("stack", EXAMPLES)
def test_the_example_stack_passes_every_mandatory_rule(stack):
    report = run_pack(capture_in(ROOT, stack), stack, ROOT / "policies" / "config")
    assert report.mandatory == [], [v.message for v in report.mandatory]
    assert report.rules == len(POLICIES) and report.config_file == f"policies/config/{stack}.json"
