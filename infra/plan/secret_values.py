"""Property values as the engine sees them: secret markers, and stack outputs with their secret flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc

SECRET_SIG = rpc._special_secret_sig  # how the engine marks a secret value


def is_secret_value(value: Any) -> bool:
    """True for a value the engine would treat as secret."""
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == SECRET_SIG


def unwrap(value: Any) -> Any:
    """The value with every secret marker removed (for assertions on content)."""
    if is_secret_value(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def without_secrets(value: Any) -> Any:
    """The value with every secret part removed: what would be stored in plain text."""
    if is_secret_value(value):
        return None
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def secret_paths(value: Any, path: str = "") -> list[str]:
    """Paths (a.b[0]) of the secret values inside a captured property bag."""
    if is_secret_value(value):
        return [path or "."]
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += secret_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += secret_paths(v, f"{path}[{i}]")
    return found


@dataclass
class StackOutput:
    """A resolved stack output and whether the engine would store it as a secret."""

    value: Any
    secret: bool
