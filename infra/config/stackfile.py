"""Read Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI hands them to a program."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.config.errors import ConfigError

SECRET_PLACEHOLDER = "[secret: encrypted in the stack file; not decrypted offline]"


@dataclass
class StackFile:
    """One stack's config: decoded values, which keys are secret, and its project."""

    project: str
    stack: str
    values: dict[str, Any]
    secret_keys: list[str] = field(default_factory=list)

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


def list_stacks(root: Path) -> list[str]:
    """Names of the example stacks (Pulumi.<name>.yaml) in a project folder."""
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
    return StackFile(project=project, stack=stack, values=values, secret_keys=secret_keys)
