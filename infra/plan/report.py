"""The plan report: a list of sections, each rendered as text, markdown and JSON.

New concerns add a section (infra/plan/sections.py) and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from infra import ROOT
from infra.config.errors import ConfigError
from infra.config.stackfile import StackFile, project_name
from infra.plan.harness import Capture
from infra.plan.resource_list import resource_entries


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
    notices: list[str] = field(default_factory=list)  # shown under the header: what the user should know first


def header(plan: Plan) -> str:
    """First line of every rendering."""
    return f"cloudviper plan: stack {plan.stack.stack} ({plan.stack.region}), offline (mock runtime, no cloud calls)"


def render_text(plan: Plan) -> str:
    """Plain-text report for a terminal."""
    out = [header(plan), *[f"note: {n}" for n in plan.notices], ""]
    for s in plan.sections:
        out += [f"== {s.title}", *s.lines, ""]
    return "\n".join(out)


def render_markdown(plan: Plan) -> str:
    """Markdown report for a pull-request comment."""
    out = [f"### {header(plan)}", "", *[f"> [!NOTE]\n> {n}\n" for n in plan.notices]]
    for s in plan.sections:
        out += [f"#### {s.title}", *s.as_markdown(), ""]
    return "\n".join(out)


def render_json(plan: Plan) -> str:
    """Machine-readable report."""
    doc = {
        "project": plan.stack.project,
        "stack": plan.stack.stack,
        "region": plan.stack.region,
        "exitCode": plan.exit_code,
        "notices": plan.notices,
        "sections": {s.title.lower(): s.data for s in plan.sections},
        "resources": resource_entries(plan.capture),
    }
    return json.dumps(doc, indent=2, sort_keys=True, default=str)


def error_document(project_dir: Path, stack: str, kind: str, exc: BaseException) -> dict[str, Any]:
    """The JSON form of a stack that failed to plan: `kind` is "config" (exit 2) or "internal" (exit 1)."""
    problems = list(exc.problems) if isinstance(exc, ConfigError) else [str(exc)]
    message = str(exc) if kind == "config" else f"internal error: {exc!r}"
    return {"project": _project_name(project_dir), "stack": stack, "exitCode": 2 if kind == "config" else 1,
            "error": {"kind": kind, "message": message, "problems": problems}}


def _project_name(project_dir: Path) -> str:
    return project_name(project_dir)  # read as the stack files are: bounded, never a traceback
