"""Run `python -m infra ...` in this process: what a subprocess would print and exit with, without paying for a
fresh interpreter's imports (about 3 s of CPU per plan). Each command keeps one end-to-end test in a real
subprocess (tests/test_plan_cli.py and the like); the others go through here."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

from infra.cli import main
from tests.checkov_server import exit_status


@contextlib.contextmanager
def _environment(env: Optional[dict[str, str]]) -> Iterator[None]:
    """os.environ replaced by `env` (None: unchanged) for the duration."""
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(*args: str, cwd: Optional[Path] = None, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """`python -m infra ARGS` in-process: exit code, stdout and stderr as a subprocess would give them."""
    return _captured(lambda: main(list(args)), args, cwd, env)


def run_diff_in(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m infra diff ARGS` run from the project `repo` (a copy of this one, tests/git_repo.py), in-process."""
    from infra.cli import _parser
    from infra.plan.diff_command import run_diff

    return _captured(lambda: run_diff(repo, _parser().parse_args(["diff", *args])), ("diff", *args), repo, None)


def _captured(call: Callable[[], int], args: tuple[str, ...], cwd: Optional[Path],
              env: Optional[dict[str, str]]) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    # Warnings the program logs (pulumi's mock engine logs to the root logger itself: pulumi/runtime/mocks.py
    # MockEngine): a fresh process has no handler there, so logging's lastResort prints the bare message to stderr;
    # under pytest its own handlers would take them instead. Only the root logger's own records: a library's (such
    # as botocore's, which has a NullHandler) never reach lastResort in a fresh process.
    warnings = logging.StreamHandler(err)
    warnings.setLevel(logging.WARNING)
    warnings.addFilter(lambda record: record.name == "root")
    with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            contextlib.ExitStack() as stack:
        logging.getLogger().addHandler(warnings)
        stack.callback(logging.getLogger().removeHandler, warnings)
        if cwd is not None:
            os.chdir(cwd)
            stack.callback(os.chdir, previous)
        try:
            code = call()
        except SystemExit as exc:  # argparse: usage errors exit 2, --help 0
            code = exit_status(exc.code)  # as the interpreter would exit (printed to the redirected stderr)
    return subprocess.CompletedProcess(["python", "-m", "infra", *args], code, out.getvalue(), err.getvalue())

