"""Evaluate the project's `__main__.py` for one stack file under the mock runtime.

Stacks named by federation targets of kind `stack` (and sources with a stack) are planned first
from their own files; their outputs answer the StackReference. Plans are remembered for the whole run (References),
keyed by what decides them: a stack without source references, or one read as a target, plans the same however it
is reached, so it costs one evaluation however many targets name it and whether `plan --all` plans it itself too; a
stack with source references, reached other than as a target, costs one per chain of stacks that leads to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import runpy
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from infra import ROOT
from infra.config.errors import ConfigError
from infra.config.stackfile import StackFile, load_stack_file, referenced_stacks
from infra.plan.harness import Capture, evaluate, let_go
from infra.plan.sdk_modules import settle
from infra.plan.secret_values import StackOutput

# (project folder, stack name, how it was reached: _remembered) -> (its capture, how deep its references went). A stack
# read as a target answers every source reference "not deployed yet"; one read as a source, or planned itself,
# answers so only the stacks on the chain that led to it. A remembered capture is shared: callers must not change it.
References = dict[tuple[str, str, tuple[str, ...]], tuple[Capture, int]]

# Off (None) unless a caller that evaluates the same stacks again and again turns it on -- the test suite
# (tests/conftest.py): the files and environment the program reads, the stack, its config and the referenced stacks'
# outputs -> the capture. A capture found here is shared: callers must not change it, and its evaluation's side
# effects are not repeated, but what it logged is logged again.
EVALUATIONS: Optional[dict[str, tuple[Capture, list[logging.LogRecord]]]] = None


def resolve_references(stack: StackFile, project_dir: Path, depth: int, chain: tuple[str, ...] = (),
                       memo: Optional[References] = None,
                       as_target: bool = False) -> tuple[dict[str, dict[str, StackOutput]], int]:
    """Plan each referenced stack from its own file first; its outputs answer the StackReference. Returns them and
    the height of the references below this stack (0: it plans none).

    A pair references each other: the source reads the target's credential and network, the target the source's
    network and egress. They deploy in turn -- targets first (`python -m infra stacks`), then their sources, then
    the targets again -- so a source reads a target as its first `pulumi up` left it: a stack read as a target
    (`as_target`) answers every one of its source references "not deployed yet". A top-level stack or one read as a
    source answers so only the stacks on the chain that led to it. A referenced stack is planned once per run and
    context (`memo`, _remembered); `depth` bounds how deep references may go (a cycle of targets): a remembered plan
    is reused where its references fit in the depth left, exactly where planning it again would succeed."""
    found: dict[str, dict[str, StackOutput]] = {}
    memo = {} if memo is None else memo
    chain = (*chain, stack.stack)
    height = 0
    for ref, is_source in referenced_stacks(stack):
        name = ref.rsplit("/", 1)[-1]
        if is_source and (as_target or name in chain):
            found[ref] = {}
            continue
        if not (project_dir / f"Pulumi.{name}.yaml").exists():
            raise ConfigError([f"{stack.project}:federation: stack {ref}: no Pulumi.{name}.yaml here; the offline "
                               "plan evaluates the referenced stack's file to read its outputs"])
        if depth <= 0:
            raise ConfigError([f"{stack.project}:federation.targets: stack {ref}: references go too deep (a cycle?)"])
        capture, below = _remembered(name, project_dir, depth - 1, chain, memo, not is_source)
        found[ref] = capture.outputs
        height = max(height, below + 1)
    return found, height


def _remembered(stack: str | StackFile, project_dir: Path, depth: int, chain: tuple[str, ...], memo: References,
                as_target: bool) -> tuple[Capture, int]:
    """The stack's plan from `memo`, or planned now and remembered. A remembered plan is reused where its references
    fit in the `depth` left (its height at most that), exactly where planning it again would succeed.

    The key is how the stack was reached, as far as its plan depends on it: only its source references are answered
    by the way (each "not deployed yet" when it is read as a target or the source is on its chain); its targets are
    read as targets, which plan the same whatever led to them. A stack named (not loaded) and read as a target is
    found without reading its file: a hub that a hundred sources name is loaded once, not a hundred times."""
    if as_target:
        context: tuple[str, ...] = ("target",)
    else:
        stack = load_stack_file(project_dir, stack) if isinstance(stack, str) else stack
        has_sources = any(is_source for _, is_source in referenced_stacks(stack))
        context = ("source", *chain) if has_sources else ("target",)
    key = (str(project_dir), stack if isinstance(stack, str) else stack.stack, context)
    if key not in memo or memo[key][1] > depth:
        stack = load_stack_file(project_dir, stack) if isinstance(stack, str) else stack
        memo[key] = _evaluate(stack, project_dir, depth, chain, memo, as_target)
        settle(let_go)
    return memo[key]


def _read_inputs(project_dir: Path, name: str) -> list[object]:
    """What an evaluation reads besides the stack's config: the program, the project and stack files, the stack's
    policy config (its maxHourlyUsd sets the budget: __main__.py) and the environment pulumi and we read."""
    files = ("__main__.py", "Pulumi.yaml", f"Pulumi.{name}.yaml", f"policies/config/{name}.json")
    texts = [(project_dir / f).read_text() if (project_dir / f).exists() else None for f in files]
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(("PULUMI_", "CLOUDVIPER_")))
    return [texts, env]


def _evaluate(stack: StackFile, project_dir: Path, depth: int, chain: tuple[str, ...], memo: Optional[References],
              as_target: bool) -> tuple[Capture, int]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main = project_dir / "__main__.py"
    references, height = resolve_references(stack, project_dir, depth, chain, memo, as_target)
    config, secret_keys = stack.runtime_config(), tuple(stack.secret_keys)
    key = ""
    if EVALUATIONS is not None:
        key = json.dumps([_read_inputs(project_dir, stack.stack), stack.project, stack.stack, config,
                          sorted(secret_keys), stack.region, references], sort_keys=True, default=repr)
        if key in EVALUATIONS:
            capture, said = EVALUATIONS[key]
            for record in said:  # what the program logged (its warnings), as a fresh evaluation would log it
                logger = logging.getLogger(record.name)
                if logger.isEnabledFor(record.levelno):  # the check Logger.warning makes, and Logger.handle does not
                    logger.handle(record)
            return capture, height
    with _logged() as said:
        capture = evaluate(
            lambda: runpy.run_path(str(main), run_name="__main__"),
            project=stack.project,
            stack=stack.stack,
            config=config,
            secret_keys=secret_keys,
            region=stack.region,
            stack_references=references,
        )
    if EVALUATIONS is not None:
        EVALUATIONS[key] = (capture, said)
    return capture, height


class _Keep(logging.Handler):
    """A handler that keeps the records it gets."""

    def __init__(self, kept: list[logging.LogRecord]) -> None:
        super().__init__(logging.INFO)
        self.kept = kept

    def emit(self, record: logging.LogRecord) -> None:
        # the evaluating thread's only: pulumi's mock engine logs in the caller's thread (pulumi/log.py `_log`), while
        # another thread (a test's local server) may log meanwhile
        if record.thread == threading.get_ident():
            self.kept.append(record)


@contextlib.contextmanager
def _logged() -> Iterator[list[logging.LogRecord]]:
    """The records the root logger receives meanwhile (pulumi's mock engine logs the program's warnings there:
    pulumi/runtime/mocks.py MockEngine), when EVALUATIONS is on; nothing is recorded otherwise."""
    said: list[logging.LogRecord] = []
    if EVALUATIONS is None:
        yield said
        return
    handler = _Keep(said)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield said
    finally:
        root.removeHandler(handler)


def run_program(stack: StackFile, project_dir: Path = ROOT, depth: int = 3, memo: Optional[References] = None) -> Capture:
    """Evaluate the project's `__main__.py` for one stack under the mock runtime; `memo` carries the stacks' plans
    between the stacks of one `plan` run (default: this stack's plan only), this one's too: a stack already planned
    as another's reference, where that plans the same, is not evaluated again."""
    if memo is None:
        return _evaluate(stack, project_dir, depth, (), memo, False)[0]
    return _remembered(stack, project_dir, depth, (), memo, False)[0]
