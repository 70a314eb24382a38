"""The pack as a whole: entry point, config files, taggable list, example stacks, the bad stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi_aws

from policies.pack import POLICIES
from policies.taggable_types import DATA, scan
from tests.test_plan_cli import plan

FIXTURE = Path(__file__).parent / "fixtures" / "bad_stack"


def test_pack_entry_point_starts_the_analyzer(repo_root):
    proc = subprocess.Popen([sys.executable, "__main__.py"], cwd=repo_root / "policies", stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit() and 0 < int(port) < 65536, port
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_shipped_taggable_list_matches_the_pinned_sdk():
    assert DATA.read_text().splitlines() == scan(Path(pulumi_aws.__file__).parent)


def test_dev_plan_shows_cost_and_zero_mandatory_violations():
    result = plan("--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert "== Cost" in result.stdout and "$/hour" in result.stdout
    assert f"0 mandatory violations, 0 advisory ({len(POLICIES)} rules, config: policies/config/dev.json)" in result.stdout


def test_bad_stack_is_stopped_by_region_type_spot_tags_and_budget():
    result = plan("--stack", "bad", "--project-dir", str(FIXTURE), "--json")
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)["sections"]["policy"]
    by_rule: dict[str, list[str]] = {}
    for violation in doc["violations"]:
        assert violation["level"] == "mandatory"
        by_rule.setdefault(violation["policy"], []).append(violation["message"])
    assert {"allowed-regions", "instance-types", "spot-workers", "required-tags", "max-hourly-cost"} <= set(by_rule)
    assert any("deploys to region us-west-2" in m for m in by_rule["allowed-regions"])
    assert any("LaunchTemplate 'gpu': p4d.24xlarge matches deniedInstanceTypes" in m for m in by_rule["instance-types"])
    assert any("'gpu-workers' is a worker pool without a mixed instances policy" in m for m in by_rule["spot-workers"])
    assert any("'gpu-workers' is missing required tags: project, stack, owner, cost-center" in m for m in by_rule["required-tags"])
    (budget,) = by_rule["max-hourly-cost"]
    # 4 x p4d.24xlarge 21.957642 + 4 x 100 GB x 0.08/730 = 87.8744 (us-west-2 priced with us-east-1's table)
    assert "estimated $87.87/hour at maximum scale" in budget and "gpu-workers $87.87/h" in budget


def test_bad_stack_text_report_names_rule_and_resource():
    result = plan("--stack", "bad", "--project-dir", str(FIXTURE))
    assert result.returncode == 3
    assert "[mandatory] instance-types: aws:ec2/launchTemplate:LaunchTemplate 'gpu': p4d.24xlarge" in result.stdout
