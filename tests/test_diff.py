"""`python -m infra diff` end to end, through a real git history in a temporary repository.

The history: the project as it is; a commit that adds a pool; one that renames the dev bucket (kept on
destroy); one that lets the bucket be destroyed and one that renames it again (its data would go); one
that breaks the config. Each diff plans both revisions from their own trees, as CI does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_diff_in
from tests.git_repo import commit_config, git, project_repo


def diff(repo: Path, base: str, head: str, *args: str, fresh: bool = False) -> subprocess.CompletedProcess[str]:
    """`infra diff --base <base>` with the working tree at `head`: in-process (tests/cli_runner.py), or with `fresh`
    as a user runs it, `python -m infra diff` from the repository."""
    git(repo, "checkout", "-q", "--detach", head)
    if not fresh:
        return run_diff_in(repo, "--base", base, "--stack", "dev", *args)
    return subprocess.run([sys.executable, "-m", "infra", "diff", "--base", base, "--stack", "dev", *args], cwd=repo,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict[str, str]:
    """The project's files (tracked and new) in a fresh repository, then one commit per change."""
    repo = tmp_path_factory.mktemp("repo")
    shas = {"repo": str(repo), "base": project_repo(repo)}
    shas["pool"] = commit_config(repo, "add a pool", lambda c: c["cloudviper:nodeGroups"].append(
        {"name": "extra", "role": "worker", "instanceTypes": ["m5.xlarge"], "minSize": 0, "maxSize": 2}))
    shas["rename"] = commit_config(repo, "rename the bucket", lambda c: c["cloudviper:buckets"][0].update(
        bucketName="rc-lab-data-renamed"))
    shas["destroyable"] = commit_config(repo, "let destroy delete the bucket", lambda c: c["cloudviper:buckets"][0].update(
        allowDestroy=True))
    shas["rename2"] = commit_config(repo, "rename it again", lambda c: c["cloudviper:buckets"][0].update(
        bucketName="rc-lab-data-again"))
    shas["broken"] = commit_config(repo, "break the config", lambda c: c["cloudviper:network"].update(cidr="10.0.0.0/33"))
    return shas


def test_a_new_pool_is_listed_as_additions_with_its_cost(history):
    result = diff(Path(history["repo"]), history["base"], history["pool"], "--json", fresh=True)  # end to end
    assert result.returncode == 0, result.stderr
    (stack,) = json.loads(result.stdout)["stacks"]
    added = {(r["type"], r["name"]) for r in stack["resources"] if r["action"] == "add"}
    assert {("aws:autoscaling/group:Group", "pool-extra-asg"), ("aws:ec2/launchTemplate:LaunchTemplate", "pool-extra-lt"),
            ("aws:autoscaling/lifecycleHook:LifecycleHook", "nth-hook-extra")} <= added
    assert stack["counts"]["remove"] == 0 and stack["counts"]["replace"] == 0
    # minSize 0: nothing more at idle or on day one; at max two m5.xlarge at the spot price (0.192 x 0.4) with a
    # worker's 50 GB gp3 root volume ($0.08/GB-month)
    assert stack["cost"]["idle"]["delta"] == 0 and stack["cost"]["day_one"]["delta"] == 0
    assert stack["cost"]["max"]["delta"] == pytest.approx(2 * (0.192 * 0.4 + 50 * 0.08 / 730), abs=1e-4)
    # the NTH queue's lifecycle hooks cover the new group: an existing resource changes, and says how
    assert not any(r["action"] == "replace" for r in stack["resources"])


def test_renaming_a_kept_bucket_is_a_replacement_that_leaves_the_old_one(history):
    # Issue 20: a kept bucket's new S3 name would leave the workloads on an empty bucket and the data behind, so
    # the diff fails (exit 4, like destroyed data) unless the PR says so (label allow-data-loss) or uses renamedFrom.
    result = diff(Path(history["repo"]), history["pool"], history["rename"])
    assert result.returncode == 4, result.stdout + result.stderr
    out = result.stdout
    assert "LEAVES KEPT DATA BEHIND" in out
    assert "± data-data (Bucket) replace because bucket cannot change in place" in out
    assert "the old one is retained (retainOnDelete)" in out
    assert 'bucket: "cloudviper-dev-data-123456789012" → "rc-lab-data-renamed"' in out


def test_renaming_a_destroyable_bucket_exits_4_and_says_the_data_goes(history):
    result = diff(Path(history["repo"]), history["destroyable"], history["rename2"], "--markdown")
    assert result.returncode == 4, result.stdout + result.stderr
    md = result.stdout
    assert "> [!CAUTION]" in md and "NOT retained, so its data is destroyed" in md
    assert "| `dev` | 0 | 0 |" in md and "DESTROYS DATA" in md
    assert "```mermaid" in md and "class " in md and "replace" in md  # the diagram colours the changed component


def test_a_broken_config_is_reported_with_exit_2_and_the_key(history):
    result = diff(Path(history["repo"]), history["rename2"], history["broken"], "--json")
    assert result.returncode == 2
    (stack,) = json.loads(result.stdout)["stacks"]
    assert stack["head_error"]["kind"] == "config"
    assert 'cloudviper:network.cidr: "10.0.0.0/33" is not a valid IPv4 network' in stack["head_error"]["message"]
    assert "Traceback" not in result.stderr


def test_an_unknown_base_is_a_usage_error(history):
    result = diff(Path(history["repo"]), "no-such-branch", history["base"])
    assert result.returncode == 2
    assert "--base 'no-such-branch' is not a commit in this repository" in result.stderr
    assert "Traceback" not in result.stderr
    assert "cloudviper-base-" not in git(Path(history["repo"]), "worktree", "list")  # nothing left behind


def test_a_change_to_the_code_is_planned_with_each_sides_own_code(history):
    # The head changes a module, not a stack file: each side runs in its own process from its own tree
    # (infra/plan/worktree.py same_program). Planned in this process, both sides would use one code and show nothing.
    repo = Path(history["repo"])
    git(repo, "checkout", "-q", "--detach", history["rename2"])
    naming = repo / "infra/documents/naming.py"
    naming.write_text(naming.read_text().replace('"managed-by": "pulumi",', '"managed-by": "pulumi-cloudviper",'))
    git(repo, "commit", "-qam", "a new managed-by tag")
    head = git(repo, "rev-parse", "HEAD")
    result = diff(repo, history["rename2"], head, "--json")
    assert result.returncode == 0, result.stderr
    (stack,) = json.loads(result.stdout)["stacks"]
    assert stack["counts"]["update"] > 0 and stack["counts"]["add"] == 0 and stack["counts"]["remove"] == 0
    assert "pulumi-cloudviper" in result.stdout


def test_a_broken_base_is_named_by_its_path_in_the_project_not_the_temporary_tree(history):
    repo = Path(history["repo"])
    git(repo, "checkout", "-q", "--detach", history["base"])
    stack_file = repo / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + "config: {}\n")  # a second top-level `config` key
    git(repo, "commit", "-qam", "a malformed stack file")
    malformed = git(repo, "rev-parse", "HEAD")
    result = diff(repo, malformed, history["base"], "--json")
    (stack,) = json.loads(result.stdout)["stacks"]
    message = stack["base_error"]["message"]
    assert message.startswith("config error: Pulumi.dev.yaml:") and 'duplicate key "config"' in message, message
