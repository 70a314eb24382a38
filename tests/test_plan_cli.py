"""`python -m infra plan` as a user runs it: end to end in a subprocess once, the other cases in-process
(tests/cli_runner.py: the same exit code and output, without a fresh interpreter's imports)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import ROOT
from tests.cli_runner import run_cli
from tests.conftest import stacks_project


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m infra plan ARGS` in-process, of the test stacks unless ARGS name a --project-dir."""
    project = [] if "--project-dir" in args else ["--project-dir", str(stacks_project())]
    return run_cli("plan", *args, *project)


def test_dev_stack_plans_and_lists_the_network_and_bucket():
    # The end-to-end case: a fresh interpreter, as a user runs it.
    result = subprocess.run([sys.executable, "-m", "infra", "plan", "--stack", "dev", "--project-dir",
                             str(stacks_project())], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for token in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway",
                  "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:s3/bucket:Bucket"):
        assert token in out
    assert "network (cloudviper:network:Network)" in out
    assert "Traceback" not in result.stderr


def test_json_report_counts_match_the_text():
    result = plan("--stack", "dev", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    resources = doc["sections"]["resources"]
    assert resources["total"] == sum(g["count"] for g in resources["groups"])
    network = next(g for g in resources["groups"] if g["component"].startswith("network"))
    assert network["types"]["aws:ec2/subnet:Subnet"] == 4
    assert doc["sections"]["outputs"]["dataBuckets"] == {"data": "cloudviper-dev-data-123456789012"}


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_broken_stack_file_exits_2_with_the_key_path(project_copy):
    (project_copy / "Pulumi.broken.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  cloudviper:tags: {owner: a, costCenter: b}\n"
        "  cloudviper:network:\n    cidr: 10.0.0.0/33\n"
    )
    result = plan("--stack", "broken", "--project-dir", str(project_copy))
    assert result.returncode == 2
    assert 'cloudviper:network.cidr: "10.0.0.0/33" is not a valid IPv4 network' in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_stack_file_exits_2_and_lists_the_stacks(project_copy):
    shutil.copy(stacks_project() / "Pulumi.dev.yaml", project_copy / "Pulumi.dev.yaml")
    result = plan("--stack", "nope", "--project-dir", str(project_copy))
    assert result.returncode == 2
    assert "Pulumi.nope.yaml: no such file; stacks here: dev" in result.stderr


def test_invalid_yaml_exits_2(project_copy):
    (project_copy / "Pulumi.bad.yaml").write_text("config: [unclosed\n")
    result = plan("--stack", "bad", "--project-dir", str(project_copy))
    assert result.returncode == 2 and "Pulumi.bad.yaml:2: not valid YAML" in result.stderr


def test_encrypted_values_are_masked_not_decrypted(project_copy):
    (project_copy / "Pulumi.sec.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  cloudviper:tags: {owner: a, costCenter: b}\n"
        "  cloudviper:unknownSecret:\n    secure: AAABAKx9c2VjcmV0\n"
    )
    result = plan("--stack", "sec", "--project-dir", str(project_copy))
    assert result.returncode == 2
    assert "cloudviper:unknownSecret: unknown key" in result.stderr
    assert "AAABAKx9c2VjcmV0" not in result.stderr + result.stdout


def test_a_malformed_pinned_date_exits_2(monkeypatch):
    monkeypatch.setenv("CLOUDVIPER_TODAY", "2026-13-01")
    result = plan("--stack", "dev")
    assert result.returncode == 2 and "CLOUDVIPER_TODAY='2026-13-01' is not a date" in result.stderr
    assert "Traceback" not in result.stderr
