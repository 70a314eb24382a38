"""Evaluate the project's `__main__.py` for one stack file under the mock runtime.

Stacks named by federation targets of kind `stack` (and sources with a stack) are planned first
from their own files; their outputs answer the StackReference.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from infra import ROOT
from infra.config.errors import ConfigError
from infra.config.stackfile import StackFile, load_stack_file, referenced_stacks
from infra.plan.harness import Capture, evaluate
from infra.plan.secret_values import StackOutput


def resolve_references(stack: StackFile, project_dir: Path, depth: int,
                       chain: tuple[str, ...] = ()) -> dict[str, dict[str, StackOutput]]:
    """Plan each referenced stack from its own file first; its outputs answer the StackReference.

    A pair references each other: the source reads the target's credential and network, the target the source's
    network and egress. They deploy in turn -- target, source, target again -- so a target's reference to a source
    already on the chain is answered "not deployed yet", as on the target's first `pulumi up`."""
    found: dict[str, dict[str, StackOutput]] = {}
    chain = (*chain, stack.stack)
    for ref, is_source in referenced_stacks(stack):
        name = ref.rsplit("/", 1)[-1]
        if is_source and name in chain:
            found[ref] = {}
            continue
        if not (project_dir / f"Pulumi.{name}.yaml").exists():
            raise ConfigError([f"{stack.project}:federation: stack {ref}: no Pulumi.{name}.yaml here; the offline "
                               "plan evaluates the referenced stack's file to read its outputs"])
        if depth <= 0:
            raise ConfigError([f"{stack.project}:federation.targets: stack {ref}: references go too deep (a cycle?)"])
        found[ref] = run_program(load_stack_file(project_dir, name), project_dir, depth - 1, chain).outputs
    return found


def run_program(stack: StackFile, project_dir: Path = ROOT, depth: int = 3, chain: tuple[str, ...] = ()) -> Capture:
    """Evaluate the project's `__main__.py` for one stack under the mock runtime."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main = project_dir / "__main__.py"
    references = resolve_references(stack, project_dir, depth, chain)
    return evaluate(
        lambda: runpy.run_path(str(main), run_name="__main__"),
        project=stack.project,
        stack=stack.stack,
        config=stack.runtime_config(),
        secret_keys=tuple(stack.secret_keys),
        region=stack.region,
        stack_references=references,
    )
