"""`python -m infra init NAME --region R`: a new stack's file and policy config from the templates, never over a file.

A lab's stacks are new files only (Pulumi.NAME.yaml, policies/config/NAME.json): the tests and workflows find them,
so taking upstream changes (`git pull upstream main`) never conflicts with them.
"""

from __future__ import annotations

import getpass
import json
import re
from dataclasses import dataclass
from pathlib import Path

from infra.config.cluster import DEFAULT_VERSION
from infra.config.errors import ConfigError, render_value
from infra.config.regions import region_problem
from infra.config.stack import TagsConfig

TEMPLATES = Path(__file__).with_name("templates")
# Pulumi accepts letters, digits, -, _ and . in a stack name; the stack name is part of bucket, role and cluster names,
# which take lowercase letters, digits and hyphens only, so init asks for those.
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
DEFAULT_BUDGET = 2.0  # $/hour at maximum scale: the template's pools at maxSize cost about $0.45/h


@dataclass(frozen=True)
class NewStack:
    """What `init` was asked for."""

    name: str
    region: str
    owner: str
    cost_center: str
    budget: float


def new_stack(name: str, region: str, owner: str | None, cost_center: str | None, budget: float | None) -> NewStack:
    """The request, validated: each bad argument names the flag, the value and what is allowed."""
    problems = []
    if not NAME_RE.match(name):
        problems.append(f"NAME: {render_value(name)} is not allowed: 2-32 lowercase letters, digits and hyphens, "
                        "starting with a letter (it becomes part of bucket, role and cluster names)")
    why = region_problem(region)
    if why:
        problems.append(f"--region: {render_value(region)} {why}")
    owner = owner or getpass.getuser()
    cost_center = cost_center or name
    try:
        TagsConfig.model_validate({"owner": owner, "costCenter": cost_center})
    except ValueError as exc:
        problems.append(f"--owner/--cost-center: {render_value([owner, cost_center])} is not a valid AWS tag value "
                        f"({str(exc).splitlines()[-1].strip()})")
    if budget is not None and not budget > 0:
        problems.append(f"--budget: {render_value(budget)} is not allowed: expected $/hour above 0")
    if problems:
        raise ConfigError(problems)
    return NewStack(name, region, owner, cost_center, budget if budget is not None else DEFAULT_BUDGET)


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def write_stack(project_dir: Path, stack: NewStack) -> list[Path]:
    """Write Pulumi.NAME.yaml and policies/config/NAME.json; refuses (ConfigError) when either exists."""
    stack_path = project_dir / f"Pulumi.{stack.name}.yaml"
    policy_path = project_dir / "policies" / "config" / f"{stack.name}.json"
    existing = [p for p in (stack_path, policy_path) if p.exists()]
    if existing:
        raise ConfigError([f"{p.relative_to(project_dir)}: exists; init never overwrites a file (pick another NAME, "
                           "or edit it)" for p in existing])
    values = {"name": stack.name, "region": stack.region, "owner": json.dumps(stack.owner),
              "cost_center": json.dumps(stack.cost_center), "version": DEFAULT_VERSION,
              "budget": f"{stack.budget:g}"}
    policy_path.parent.mkdir(parents=True, exist_ok=True)
    stack_path.write_text(_fill((TEMPLATES / "Pulumi.stack.yaml").read_text(), values))
    policy_path.write_text(_fill((TEMPLATES / "policy.json").read_text(), values))
    return [stack_path, policy_path]
