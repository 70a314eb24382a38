"""Build a plan: load a stack file, evaluate the program, build every report section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

from infra import ROOT
from infra.config.stackfile import load_stack_file
from infra.plan.cost_section import cost_section
from infra.plan.dask_section import dask_section
from infra.plan.program import References, run_program
from infra.plan.report import Plan, Section
from infra.plan.sections import diagram_section, outputs_section, policy_section, resources_section


def _builders() -> list[Callable[[Plan], Optional[Section]]]:
    return [
        lambda plan: resources_section(plan.capture),
        cost_section,
        dask_section,
        policy_section,
        lambda plan: outputs_section(plan.capture),
        diagram_section,
    ]


def make_plan(stack_name: str, project_dir: Path = ROOT, memo: Optional[References] = None) -> Plan:
    """Load a stack file, evaluate the program, build every report section; `memo` shares the referenced stacks'
    plans between the stacks of one run (infra/plan/program.py)."""
    stack = load_stack_file(project_dir, stack_name)
    plan = Plan(stack=stack, capture=run_program(stack, project_dir, memo=memo), project_dir=project_dir)
    for build in _builders():
        section = build(plan)
        if section is not None:
            plan.sections.append(section)
    return plan
