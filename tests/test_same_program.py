"""`infra diff` plans both sides in one process only when the base's program is the working tree's
(infra/plan/worktree.py same_program): any change, new or ignored file a plan could read sends it to one subprocess
per side, each with its own code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.plan.worktree import same_program
from tests.git_repo import git

FILES = {
    "Pulumi.yaml": "name: p\n", "Pulumi.dev.yaml": "config: {}\n", "__main__.py": "print('hi')\n",
    "infra/a.py": "A = 1\n", "components/b.py": "B = 2\n", "policies/c.py": "C = 3\n",
    "policies/config/dev.json": "{}\n", "README.md": "# p\n", ".gitignore": "__pycache__/\n*.pyc\npolicies/venv/\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository with a program and stack files, one commit; (folder, sha)."""
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    return tmp_path, git(tmp_path, "rev-parse", "HEAD")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def commit_a_change(repo: Path) -> None:
    write(repo / "infra/a.py", "A = 2\n")
    git(repo, "commit", "-qam", "a")


def ignore_refreshed_prices(repo: Path) -> None:
    write(repo / ".git/info/exclude", "*.refreshed.csv\n")
    write(repo / "infra/ec2-x.refreshed.csv", "x\n")


SAME: dict[str, Callable[[Path], None]] = {
    "nothing changed": lambda r: None,
    "a stack file": lambda r: write(r / "Pulumi.dev.yaml", "config: {a: 1}\n"),
    "a new stack file": lambda r: write(r / "Pulumi.lab.yaml", "config: {}\n"),
    "a policy config": lambda r: write(r / "policies/config/dev.json", '{"all": "advisory"}\n'),
    "a file outside the program": lambda r: write(r / "README.md", "# q\n"),
    "bytecode": lambda r: write(r / "infra/__pycache__/a.cpython-311.pyc", "x"),
    "the policy pack's venv": lambda r: write(r / "policies/venv/lib/x.py", "x"),
}

DIFFERENT: dict[str, Callable[[Path], None]] = {
    "a changed module": lambda r: write(r / "components/b.py", "B = 3\n"),
    "a committed change": commit_a_change,
    "a deleted module": lambda r: (r / "policies/c.py").unlink(),
    "a new untracked module": lambda r: write(r / "infra/new.py", "N = 1\n"),
    "the program": lambda r: write(r / "__main__.py", "print('bye')\n"),
    "an ignored file in the program": ignore_refreshed_prices,
}


@pytest.mark.parametrize("change", SAME)
def test_stack_and_policy_config_changes_keep_one_process(repo, change):
    folder, sha = repo
    SAME[change](folder)
    assert same_program(folder, sha)


@pytest.mark.parametrize("change", DIFFERENT)
def test_program_changes_plan_each_side_with_its_own_code(repo, change):
    folder, sha = repo
    DIFFERENT[change](folder)
    assert not same_program(folder, sha)

