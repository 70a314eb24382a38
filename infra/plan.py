"""The offline plan: evaluate a stack under mocks and report what `pulumi up` would create.

A report is a list of sections (resources, outputs, and later cost and policy); each section
renders as text, markdown and JSON, so new concerns add a section and nothing else.
"""

from __future__ import annotations

import json
import runpy
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from infra.harness import Capture, StackOutput, evaluate
from infra.stackfile import StackFile, load_stack_file

ROOT = Path(__file__).resolve().parents[1]
SECRET_MASK = "[secret]"


@dataclass
class Section:
    """One part of the report."""

    title: str
    lines: list[str]
    data: Any
    markdown: Optional[list[str]] = None

    def as_markdown(self) -> list[str]:
        """Markdown lines for a pull-request comment (defaults to the text in a code block)."""
        if self.markdown is not None:
            return self.markdown
        return ["```", *self.lines, "```"]


@dataclass
class Plan:
    """The captured stack and the sections describing it."""

    stack: StackFile
    capture: Capture
    project_dir: Path = ROOT
    sections: list[Section] = field(default_factory=list)
    exit_code: int = 0


def referenced_stacks(stack: StackFile) -> list[str]:
    """Stack references (organization/project/stack) the stack's federation targets name."""
    fed = stack.values.get(f"{stack.project}:federation")
    targets = fed.get("targets", []) if isinstance(fed, dict) else []
    return [t["stack"] for t in targets if isinstance(t, dict) and t.get("kind") == "stack" and isinstance(t.get("stack"), str)]


def resolve_references(stack: StackFile, project_dir: Path, depth: int) -> dict[str, dict[str, StackOutput]]:
    """Plan each referenced stack from its own file first; its outputs answer the StackReference."""
    from infra.errors import ConfigError

    found: dict[str, dict[str, StackOutput]] = {}
    for ref in referenced_stacks(stack):
        name = ref.rsplit("/", 1)[-1]
        if not (project_dir / f"Pulumi.{name}.yaml").exists():
            raise ConfigError([f"{stack.project}:federation.targets: stack {ref}: no Pulumi.{name}.yaml here; the offline "
                               "plan evaluates the target stack's file to read its outputs"])
        if depth <= 0:
            raise ConfigError([f"{stack.project}:federation.targets: stack {ref}: references go too deep (a cycle?)"])
        found[ref] = run_program(load_stack_file(project_dir, name), project_dir, depth - 1).outputs
    return found


def run_program(stack: StackFile, project_dir: Path = ROOT, depth: int = 3) -> Capture:
    """Evaluate the project's `__main__.py` for one stack under the mock runtime."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main = project_dir / "__main__.py"
    references = resolve_references(stack, project_dir, depth)
    return evaluate(
        lambda: runpy.run_path(str(main), run_name="__main__"),
        project=stack.project,
        stack=stack.stack,
        config=stack.runtime_config(),
        secret_keys=tuple(stack.secret_keys),
        region=stack.region,
        stack_references=references,
    )


def _component_label(capture: Capture, res: Any) -> str:
    comp = capture.component_of(res)
    if comp is None:
        return "providers" if res.type.startswith("pulumi:providers:") else "stack"
    return f"{comp.name} ({comp.type})"


def resources_section(capture: Capture) -> Section:
    """Resources grouped by the component that owns them, with counts per type."""
    groups: dict[str, Counter[str]] = {}
    for res in capture.resources:
        if not res.custom:
            continue
        groups.setdefault(_component_label(capture, res), Counter())[res.type] += 1
    total = sum(sum(c.values()) for c in groups.values())
    lines = [f"{total} resources"]
    data = []
    for label in sorted(groups, key=lambda g: (g in ("providers", "stack"), g)):
        counts = groups[label]
        lines.append(f"  {label}: {sum(counts.values())}")
        for typ, n in sorted(counts.items()):
            lines.append(f"    {n:>3}  {typ}")
        data.append({"component": label, "count": sum(counts.values()), "types": dict(sorted(counts.items()))})
    return Section("Resources", lines, {"total": total, "groups": data})


def _show(out: StackOutput) -> Any:
    return SECRET_MASK if out.secret else out.value


def outputs_section(capture: Capture) -> Section:
    """Stack outputs; ids are mock values until a real `pulumi up`, secrets are masked."""
    lines = ["(ids are placeholders from the mock runtime; real values appear after `pulumi up`)"]
    for key in sorted(capture.outputs):
        lines.append(f"  {key}: {json.dumps(_show(capture.outputs[key]))}")
    return Section("Outputs", lines, {k: _show(v) for k, v in sorted(capture.outputs.items())})


def _builders() -> list[Callable[[Plan], Section]]:
    from infra.sections import cost_section, policy_section

    return [
        lambda plan: resources_section(plan.capture),
        cost_section,
        policy_section,
        lambda plan: outputs_section(plan.capture),
    ]


def make_plan(stack_name: str, project_dir: Path = ROOT) -> Plan:
    """Load a stack file, evaluate the program, build every report section."""
    stack = load_stack_file(project_dir, stack_name)
    plan = Plan(stack=stack, capture=run_program(stack, project_dir), project_dir=project_dir)
    for build in _builders():
        plan.sections.append(build(plan))
    return plan


def header(plan: Plan) -> str:
    """First line of every rendering."""
    return f"cloudviper plan: stack {plan.stack.stack} ({plan.stack.region}), offline (mock runtime, no cloud calls)"


def render_text(plan: Plan) -> str:
    """Plain-text report for a terminal."""
    out = [header(plan), ""]
    for s in plan.sections:
        out += [f"== {s.title}", *s.lines, ""]
    return "\n".join(out)


def render_markdown(plan: Plan) -> str:
    """Markdown report for a pull-request comment."""
    out = [f"### {header(plan)}", ""]
    for s in plan.sections:
        out += [f"#### {s.title}", *s.as_markdown(), ""]
    return "\n".join(out)


def render_json(plan: Plan) -> str:
    """Machine-readable report."""
    doc = {
        "project": plan.stack.project,
        "stack": plan.stack.stack,
        "region": plan.stack.region,
        "sections": {s.title.lower(): s.data for s in plan.sections},
    }
    return json.dumps(doc, indent=2, sort_keys=True, default=str)
