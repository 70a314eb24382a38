"""`python -m infra init NAME --region R`: a new stack from the templates that plans, and never over a file."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from infra import ROOT
from infra.config.policy_file import load_policy_config
from infra.config.stackfile import load_stack_file
from policies.pack import pack_specs
from tests.cli_runner import run_cli
from tests.conftest import copy_test_project


def init(project, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m infra init ARGS` in-process (tests/cli_runner.py)."""
    return run_cli("init", *args, "--project-dir", str(project))


def test_init_writes_both_files_and_the_new_stack_plans_clean(tmp_path):
    # The end-to-end case, in a fresh interpreter as a user runs it; the others run in-process.
    project = copy_test_project(tmp_path, ("dev",))
    result = subprocess.run([sys.executable, "-m", "infra", "init", "mylab", "--project-dir", str(project), "--region",
                             "eu-central-1", "--owner", "astro-lab", "--cost-center", "grant-42", "--budget", "3"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "cloudviper plan: stack mylab (eu-central-1)" in result.stdout
    assert "0 mandatory violations, 0 advisory (20 rules, config: policies/config/mylab.json)" in result.stdout
    stack = load_stack_file(project, "mylab")
    assert stack.values["aws:region"] == "eu-central-1"
    assert stack.values["cloudviper:tags"] == {"owner": "astro-lab", "costCenter": "grant-42"}
    assert "# mylab: written by `python -m infra init mylab --region eu-central-1`" in \
        (project / "Pulumi.mylab.yaml").read_text()  # commented, as the README promises
    policy = load_policy_config("mylab", project / "policies" / "config", pack_specs())
    assert policy.rules["allowed-regions"][1]["allowedRegions"] == ["eu-central-1"]
    assert policy.rules["max-hourly-cost"][1]["maxHourlyUsd"] == 3
    listed = run_cli("stacks", "--json", "--project-dir", str(project))
    assert json.loads(listed.stdout) == ["dev", "mylab"]  # the workflows' matrix picks it up


def test_init_refuses_to_overwrite_and_leaves_the_files_alone(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    before = (project / "Pulumi.dev.yaml").read_text()
    result = init(project, "dev", "--region", "us-east-1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Pulumi.dev.yaml: exists; init never overwrites a file" in result.stderr
    assert "policies/config/dev.json: exists" in result.stderr
    assert (project / "Pulumi.dev.yaml").read_text() == before


def test_bad_arguments_name_the_flag(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    result = init(project, "My_Lab", "--region", "us-wset-2", "--budget", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for part in ('NAME: "My_Lab" is not allowed', '--region: "us-wset-2" is not an AWS region; did you mean "us-west-2"?',
                 "--budget: 0.0 is not allowed"):
        assert part in result.stderr
    assert not list(project.glob("Pulumi.My*"))


def test_the_budget_is_enforced_on_the_new_stack(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    result = init(project, "tight", "--region", "us-east-1", "--budget", "0.1")
    assert result.returncode == 3, result.stderr  # written, planned, stopped by max-hourly-cost
    assert "[mandatory] max-hourly-cost: estimated $0.45/hour at maximum scale" in result.stdout
    assert "exceeds maxHourlyUsd $0.10" in result.stdout
    assert yaml.safe_load((project / "Pulumi.tight.yaml").read_text())["config"]["aws:region"] == "us-east-1"
