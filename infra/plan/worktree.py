"""Plan the base revision (from a temporary git worktree) and the working tree, side by side.

Each side is planned with its own code and stack files, not today's code for both. When the base's program (the
files a plan runs: Pulumi.yaml, __main__.py, infra/, components/, policies/ but its config/) is byte-identical to
the working tree's -- a pull request that changes only stack files or policy configs -- both sides are planned in
this process, one import of the SDKs for the whole diff. Otherwise each side runs `python -m infra plan --json`
from its own folder, the two in parallel (one per core). Both get the same random key for secret digests
(infra/plan/resource_list.py), made up here and never written down.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from infra.config.stackfile import list_stacks
from infra.plan.resource_list import SECRET_KEY_ENV

Docs = dict[str, dict[str, Any]]  # stack name -> plan document (or an error document)


class DiffError(Exception):
    """A problem with the request (no git, not a repository, an unknown ref): exit 2, no traceback."""


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; its stderr becomes a DiffError."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DiffError("git is not installed; `infra diff` reads the base revision from git") from None
    if done.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def resolve(repo: Path, ref: str) -> str:
    """The commit a ref names (a branch, tag, origin/main, HEAD~1, a sha)."""
    git(repo, "rev-parse", "--show-toplevel")
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except DiffError:
        raise DiffError(f"--base {ref!r} is not a commit in this repository (in CI, fetch the base branch: "
                        "actions/checkout with fetch-depth: 0)") from None


@contextmanager
def checkout(repo: Path, sha: str) -> Iterator[Path]:
    """A detached worktree of `sha` in a temporary folder, removed afterwards; yields the project folder."""
    top = Path(git(repo, "rev-parse", "--show-toplevel"))
    inside = Path(repo).resolve().relative_to(top.resolve())
    with tempfile.TemporaryDirectory(prefix="cloudviper-base-") as tmp:
        tree = Path(tmp) / "tree"
        git(repo, "worktree", "add", "--detach", "--quiet", str(tree), sha)
        try:
            yield tree / inside
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True,
                           check=False)
            subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True, check=False)


def _command(stack: Optional[str]) -> list[str]:
    which = ["--all"] if stack is None else ["--stack", stack]
    return [sys.executable, "-m", "infra", "plan", "--json", *which]


def _start(project_dir: Path, stack: Optional[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(_command(stack), cwd=project_dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _failed(stack: str, label: str, message: str) -> dict[str, Any]:
    return {"stack": stack, "exitCode": 1, "error": {"kind": "internal", "message": f"{label}: {message}",
                                                     "problems": [message]}}


def _collect(proc: subprocess.Popen[str], project_dir: Path, stack: Optional[str], label: str) -> Docs:
    out, err = proc.communicate()
    names = [stack] if stack else list_stacks(project_dir)
    try:
        doc = json.loads(out)
    except ValueError:
        tail = " ".join(err.strip().splitlines()[-3:]) or f"exit {proc.returncode}, no output"
        return {n: _failed(n, label, f"the plan printed no JSON ({tail})") for n in names}
    docs = doc.get("stacks", []) if stack is None else [doc]
    found = {str(d.get("stack")): d for d in docs if isinstance(d, dict)}
    if stack is None and not found and names:
        return {n: _failed(n, label, "the plan listed no stacks (a cloudviper older than `plan --all`?)") for n in names}
    for d in found.values():
        if "error" not in d and "resources" not in d:
            d.update(_failed(d.get("stack", ""), label, "the plan has no resource list (a cloudviper older than "
                             "`infra diff`): diff against a newer base"))
    return found


PROGRAM = ("Pulumi.yaml", "__main__.py", "infra", "components", "policies", ":(exclude)policies/config")


def _harmless(path: str) -> bool:
    """An ignored file a plan never reads: Python's bytecode caches, the policy pack's virtualenv (made by pulumi)."""
    return "__pycache__" in path.split("/") or path.endswith(".pyc") or path.startswith("policies/venv/")


def same_program(repo: Path, sha: str) -> bool:
    """True if the working tree's program files (PROGRAM) are those of `sha`: no change, no new file, no ignored file
    a plan could read (such as refreshed price tables a user ignores in .git/info/exclude)."""
    changed = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", "--no-ext-diff", sha, "--", *PROGRAM],
                             capture_output=True, check=False)
    if changed.returncode != 0 or git(repo, "ls-files", "--others", "--exclude-standard", "--", *PROGRAM):
        return False
    ignored = git(repo, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "--", *PROGRAM)
    return all(_harmless(p) for p in ignored.splitlines())


def _plan_here(project_dir: Path, stack: Optional[str], key: str) -> Docs:
    """Every stack of a side (or the one named) planned in this process, as `plan --json` would print them."""
    import argparse

    from infra.plan.plan_command import plan_one
    from infra.plan.sdk_modules import import_and_freeze

    import_and_freeze()
    project_dir = project_dir.resolve()  # it becomes the working folder below
    names = [stack] if stack else list_stacks(project_dir)
    args = argparse.Namespace(json=True, markdown=False, render_k8s=None)
    saved = os.environ.get(SECRET_KEY_ENV)
    os.environ[SECRET_KEY_ENV] = key
    # As the subprocess: run from the side's folder (messages name files relative to it) and its stderr (the
    # program's warnings) not shown.
    try:
        with contextlib.chdir(project_dir), contextlib.redirect_stderr(io.StringIO()):
            memo: dict[Any, Any] = {}
            docs = {n: plan_one(n, project_dir, args, True, memo)[1] for n in names}
        return dict(json.loads(json.dumps(docs, default=str)))  # exactly what the subprocess would have printed
    finally:
        if saved is None:
            os.environ.pop(SECRET_KEY_ENV, None)
        else:
            os.environ[SECRET_KEY_ENV] = saved


def plan_both(repo: Path, base_dir: Path, stack: Optional[str], base_label: str, sha: str = "") -> tuple[Docs, Docs]:
    """(base, head) plan documents by stack; a stack without a file on a side is absent from that side."""
    sides = [(d, label) for d, label in ((base_dir, base_label), (repo, "working tree"))
             if stack is None or (d / f"Pulumi.{stack}.yaml").exists()]
    key = secrets.token_hex(32)
    if sha and same_program(repo, sha):
        results = {label: _plan_here(d, stack, key) for d, label in sides}
        return results.get(base_label, {}), results.get("working tree", {})
    env = dict(os.environ)  # each side imports its own code: PYTHONPATH is its folder (PYTHONSAFEPATH-proof)
    env[SECRET_KEY_ENV] = key
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    procs = [(_start(d, stack, {**env, "PYTHONPATH": str(d)}), d, label) for d, label in sides]
    results = {label: _collect(p, d, stack, label) for p, d, label in procs}
    return results.get(base_label, {}), results.get("working tree", {})
