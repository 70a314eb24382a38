"""Fuzz the stack-file reader and every `python -m infra` subcommand; count tracebacks and hangs (both must be 0).

`make fuzz` runs it through bench/fuzz_cli.py (FUZZ_INPUTS, FUZZ_SEED change the run); tests/test_stack_reader.py
runs a short one. Each input is a mutated Pulumi.fuzz.yaml (see tests/fuzz_inputs.py) read either by the reader
alone (load_stack_file + parse_stack_config) or by one random command line run in this process through
infra.cli.main. SystemExit is an exit code; any other exception, or "Traceback" in the output, is a traceback; an
input still running after --timeout seconds (signal.setitimer; 15 times that for plan, diff and init, which may
evaluate the whole program) is a hang. AWS is unreachable (no credentials, endpoint on a closed local port). A
command that would evaluate the whole program for a still-valid config does so at most --max-plans times (the
config is still read and checked each time), a diff with a real base at most a quarter as often.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz_inputs import StackInput, command_line, seeds, stack_input, write_special

OFFLINE_AWS = {"AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull,
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
               "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}


COMMANDS = ("plan", "diff", "init", "stacks", "preflight", "prices", "data", "image-push-policy")


class Hang(BaseException):
    """Raised by the timer: the input ran past the timeout."""


@dataclass
class Figures:
    """What a fuzz run found."""

    inputs: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    tracebacks: list[tuple[str, str]] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    plans: int = 0
    diffs: int = 0
    plans_capped: int = 0
    seconds: float = 0.0
    slowest: dict[str, float] = field(default_factory=dict)  # seconds spent per command

    def report(self) -> str:
        """The figures, one per line."""
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items()))
        lines = [f"inputs: {self.inputs}", f"exit codes: {codes}", f"tracebacks: {len(self.tracebacks)}",
                 f"hangs: {len(self.hangs)}", f"whole-program runs: {self.plans} plans, {self.diffs} diffs; "
                 f"{self.plans_capped} more stopped at the cap (config read and checked, program not run)",
                 f"time: {self.seconds:.1f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(self.slowest.items(), key=lambda kv: -kv[1])[:4]) + ")"]
        lines += [f"TRACEBACK {label}\n{text[-2000:]}" for label, text in self.tracebacks[:5]]
        lines += [f"HANG {label}" for label in self.hangs[:5]]
        return "\n".join(lines)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in this (main) thread after `seconds`."""
    def fire(signum: int, frame: Any) -> None:
        raise Hang()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Fuzzer:
    """Runs inputs against a throwaway copy of the project (a git repository, so `diff` has a base)."""

    def __init__(self, project: Path, seed: int, timeout: float, max_plans: int) -> None:
        self.project, self.rng, self.timeout, self.max_plans = project, random.Random(seed), timeout, max_plans
        self.max_diffs = max(1, max_plans // 4)
        self.figures = Figures()
        self.pool = seeds()
        self.saved = {p: p.read_bytes() for p in [project / "Pulumi.yaml", *(project / "policies" / "config").glob("*")]}
        self.stack_files = set(project.glob("Pulumi.*.yaml"))
        scratch = project.parent / "scratch"
        scratch.mkdir(exist_ok=True)
        (scratch / "file.txt").write_text("x")
        (scratch / "dir").mkdir(exist_ok=True)
        if not (scratch / "fifo").exists():
            os.mkfifo(scratch / "fifo")
        self.paths = {"project": str(project), "missing": str(scratch / "nowhere"), "file": str(scratch / "file.txt"),
                      "dir": str(scratch / "dir"), "fifo": str(scratch / "fifo"), "null": os.devnull,
                      "out": str(scratch / "out"), "nested": str(scratch / "file.txt" / "x")}
        self._cap_plans()

    def _cap_plans(self) -> None:
        """Count whole-program plans; past max_plans, check the config and stop before evaluating the program."""
        import pulumi

        import infra.plan.plan_command as plan_command
        from infra.config.loader import parse_stack_config
        from infra.config.stackfile import load_stack_file

        real = plan_command.make_plan  # where `plan` (and a diff planning in-process) looks it up
        self.originals: list[tuple[Any, str, Any]] = [(plan_command, "make_plan", real)]

        def capped(stack_name: str, project_dir: Path = self.project, memo: Any = None) -> Any:
            stack = load_stack_file(project_dir, stack_name)
            parse_stack_config(stack.project, stack_name, stack.values, set(stack.secret_keys), stack.plain_secrets)
            if self.figures.plans >= self.max_plans:
                self.figures.plans_capped += 1
                raise pulumi.RunError("fuzz: plan cap reached (config checked, program not evaluated)")
            self.figures.plans += 1
            return real(stack_name, project_dir, memo)

        plan_command.make_plan = capped

        import infra.plan.diff_command as diff_command
        from infra.plan.worktree import DiffError

        real_both = diff_command.plan_both
        self.originals.append((diff_command, "plan_both", real_both))

        def capped_both(*args: Any) -> Any:
            if self.figures.diffs >= self.max_diffs:
                self.figures.plans_capped += 1
                raise DiffError("fuzz: diff cap reached")
            self.figures.diffs += 1
            return real_both(*args)

        diff_command.plan_both = capped_both  # type: ignore[assignment]

    def close(self) -> None:
        """Put back what _cap_plans replaced."""
        for module, name, value in self.originals:
            setattr(module, name, value)

    def _place(self, item: StackInput) -> None:
        path = self.project / "Pulumi.fuzz.yaml"
        if item.kind == "file":
            path.write_bytes(item.data)
        else:
            write_special(path, item.kind)
        if item.project is not None:
            (self.project / "Pulumi.yaml").write_bytes(item.project)
        if item.policy is not None:
            (self.project / "policies" / "config" / "fuzz.json").write_bytes(item.policy)

    def _restore(self) -> None:
        for path in [*self.project.glob("Pulumi.*.yaml"), *(self.project / "policies" / "config").glob("*")]:
            if path not in self.saved and path not in self.stack_files:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for path, data in self.saved.items():
            path.write_bytes(data)
        shutil.rmtree(self.paths["out"], ignore_errors=True)

    def one(self, use_cli: bool) -> None:
        """Run one input and record its outcome."""
        from infra.cli import main
        from infra.config.errors import ConfigError
        from infra.config.loader import parse_stack_config
        from infra.config.stackfile import load_stack_file

        item = stack_input(self.rng, self.pool)
        argv = command_line(self.rng, self.paths) if use_cli else ["(reader)"]
        label = f"{item.label or item.kind} {argv!r}"[:300]
        self._place(item)
        out = io.StringIO()
        code: Any = "?"
        began = time.perf_counter()
        try:
            slow = use_cli and bool(argv) and argv[0] in ("plan", "diff", "init")  # may evaluate the whole program
            with deadline(self.timeout * (15 if slow else 1)), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                if use_cli:
                    try:
                        code = main(argv)
                    except SystemExit as exc:
                        code = exc.code if isinstance(exc.code, int) else 2
                else:
                    try:
                        stack = load_stack_file(self.project, "fuzz")
                        parse_stack_config(stack.project, "fuzz", stack.values, set(stack.secret_keys),
                                           stack.plain_secrets)
                        code = 0
                    except ConfigError:
                        code = 2
        except Hang:
            self.figures.hangs.append(label)
            code = "hang"
        except BaseException as exc:
            import traceback

            self.figures.tracebacks.append((label, "".join(traceback.format_exception(exc))))
            code = "traceback"
        finally:
            self._restore()
        if "Traceback (most recent call last)" in out.getvalue():
            self.figures.tracebacks.append((label, out.getvalue()))
        self.figures.inputs += 1
        kind = "reader" if not use_cli else argv[0] if argv and argv[0] in COMMANDS else "(usage error)"
        self.figures.slowest[kind] = self.figures.slowest.get(kind, 0.0) + time.perf_counter() - began
        self.figures.codes[f"{kind} {code}"] += 1

    def run(self, inputs: int, cli_share: float = 0.6) -> Figures:
        """Run `inputs` inputs (a `cli_share` of them through the command line)."""
        start = time.perf_counter()
        for _ in range(inputs):
            self.one(self.rng.random() < cli_share)
        self.figures.seconds = time.perf_counter() - start
        return self.figures


def fuzz_project(dest: Path) -> Path:
    """A throwaway git repository of the project with the test stacks, plus Pulumi.fuzz.yaml's policy config."""
    from tests.git_repo import project_repo

    project_repo(dest)
    shutil.copy(dest / "policies" / "config" / "dev.json", dest / "policies" / "config" / "fuzz.json")
    return dest


def run(inputs: int, seed: int, timeout: float = 20.0, max_plans: int = 12, cli_share: float = 0.6) -> Figures:
    """A whole fuzz run in a temporary folder, with AWS offline and the CLI's repo root pointed at the copy."""
    import infra.cli

    saved_env = dict(os.environ)
    os.environ.update(OFFLINE_AWS)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="cloudviper-fuzz-") as tmp:
        project = fuzz_project(Path(tmp) / "project")
        old_root, old_cwd = infra.cli.ROOT, Path.cwd()
        infra.cli.ROOT = project
        fuzzer = Fuzzer(project, seed, timeout, max_plans)  # imports what it patches before the working folder moves
        os.chdir(tmp)
        try:
            return fuzzer.run(inputs, cli_share)
        finally:
            fuzzer.close()
            infra.cli.ROOT = old_root
            os.chdir(old_cwd)
            os.environ.clear()
            os.environ.update(saved_env)


def main() -> int:
    """`python bench/fuzz_cli.py [--inputs N] [--seed S]` (`make fuzz`): print the figures; exit 1 on a traceback or a hang."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=int(os.environ.get("FUZZ_INPUTS", "5000")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20")))
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before an input counts as a hang")
    parser.add_argument("--max-plans", type=int, default=12, help="whole-program plans at most")
    args = parser.parse_args()
    figures = run(args.inputs, args.seed, args.timeout, args.max_plans)
    print(figures.report())
    return 1 if figures.tracebacks or figures.hangs else 0
