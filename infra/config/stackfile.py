"""Read Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI hands them to a program."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.config.errors import ConfigError
from infra.config.stack import SECRET_VALUES

SECRET_PLACEHOLDER = "[secret: encrypted in the stack file; not decrypted offline]"


@dataclass
class StackFile:
    """One stack's config: decoded values, which keys are secret, and its project."""

    project: str
    stack: str
    values: dict[str, Any]
    secret_keys: list[str] = field(default_factory=list)
    plain_secrets: list[str] = field(default_factory=list)  # leaves of secretValues written without `secure:`

    @property
    def region(self) -> str:
        """The stack's AWS region, or us-east-1 when it is unset (the config check reports that)."""
        region = self.values.get("aws:region")
        return region if isinstance(region, str) else "us-east-1"

    def runtime_config(self) -> dict[str, str]:
        """Config as the language host passes it: strings, structured values as JSON."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError([f"{path.name}: no such file; stacks here: {', '.join(list_stacks(path.parent)) or 'none'}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path.name}: not valid YAML: {exc}".replace("\n", " ")]) from None


def project_folder(arg: str | None, default: Path, needs: tuple[str, ...] = ("Pulumi.yaml",)) -> Path:
    """The folder a --project-dir argument names (default when unset), or ConfigError naming what it lacks."""
    folder = Path(arg) if arg else default
    if not folder.is_dir():
        raise ConfigError([f"--project-dir {folder}: no such folder"])
    missing = [name for name in needs if not (folder / name).is_file()]
    if missing:
        raise ConfigError([f"--project-dir {folder}: has no {' and '.join(missing)}; a cloudviper project folder holds "
                           "Pulumi.yaml, __main__.py (copy both from this repo), Pulumi.<stack>.yaml files and "
                           "policies/config/<stack>.json"])
    return folder


def list_stacks(root: Path) -> list[str]:
    """Names of the stacks (Pulumi.<name>.yaml) in a project folder."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def plain_secret_leaves(project: str, config: dict[str, Any]) -> list[str]:
    """Paths (`cloudviper:secretValues.NAME`) of the secretValues leaves a stack file holds in plain text.

    Pulumi decrypts the whole key for the program and marks it secret, so only the file shows a value that was set
    without --secret next to encrypted ones (`pulumi config set --path` without --secret does exactly that)."""
    found: list[str] = []
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        if full != f"{project}:{SECRET_VALUES}":
            continue
        if not isinstance(value, dict):
            continue  # a shape the config check reports
        found += _plain_leaves(full, value)
    return sorted(found)


def _plain_leaves(path: str, value: Any) -> list[str]:
    """Paths under `value` that are not `{secure: ...}` (a nested map is walked; its shape is the config check's)."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return []
    if isinstance(value, dict):
        return [p for name, leaf in value.items() for p in _plain_leaves(f"{path}.{name}", leaf)]
    return [path]


def stack_file_secrets(root: Path, stack: str) -> list[str]:
    """plain_secret_leaves of Pulumi.<stack>.yaml in `root`, or [] when there is no such file (config kept elsewhere)."""
    path = root / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    if not path.is_file():
        return []
    project = str(_read_yaml(root / "Pulumi.yaml").get("name", "")) if (root / "Pulumi.yaml").is_file() else ""
    config = _read_yaml(path).get("config") or {}
    return plain_secret_leaves(project, config) if isinstance(config, dict) else []


def load_stack_file(root: Path, stack: str) -> StackFile:
    """Project defaults from Pulumi.yaml overlaid by Pulumi.<stack>.yaml; secure values masked."""
    project_doc = _read_yaml(root / "Pulumi.yaml")
    project = str(project_doc.get("name", ""))
    values: dict[str, Any] = {}
    for key, decl in (project_doc.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and ("default" in decl or "value" in decl):
            values[full] = decl.get("value", decl.get("default"))
        elif not isinstance(decl, dict):
            values[full] = decl
    doc = _read_yaml(root / f"Pulumi.{stack}.yaml")
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"Pulumi.{stack}.yaml: `config` must be a map of key: value"])
    secret_keys = []
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        if _has_secret(value):
            secret_keys.append(full)
        values[full] = _mask(value)
    return StackFile(project=project, stack=stack, values=values, secret_keys=secret_keys,
                     plain_secrets=plain_secret_leaves(project, config))


def referenced_stacks(stack: StackFile) -> list[tuple[str, bool]]:
    """Stack references (organization/project/stack) the stack's federation names, each with whether it names a
    source (True) or a target (False)."""
    fed = stack.values.get(f"{stack.project}:federation")
    targets = fed.get("targets", []) if isinstance(fed, dict) else []
    sources = fed.get("sources", []) if isinstance(fed, dict) else []
    found = {t["stack"]: False for t in targets
             if isinstance(t, dict) and t.get("kind") == "stack" and isinstance(t.get("stack"), str)}
    for s in sources:
        if isinstance(s, dict) and isinstance(s.get("stack"), str):
            found.setdefault(s["stack"], True)
    return list(found.items())


def deploy_order(root: Path) -> list[str]:
    """The project's stacks in the order to deploy them: each after the target stacks it reads (a source reads its
    target's federation credential), otherwise by name. A federated pair's target comes first."""
    names = list_stacks(root)
    needs = {name: {ref.rsplit("/", 1)[-1] for ref, is_source in referenced_stacks(load_stack_file(root, name))
                    if not is_source} & set(names) - {name} for name in names}
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and needs[n] <= set(order)]
        if not ready:  # a cycle of targets: the config check of those stacks names it; deploy them by name
            ready = [n for n in names if n not in order]
        order.append(ready[0])
    return order
