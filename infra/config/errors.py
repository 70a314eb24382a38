"""User-facing configuration errors: key path, value, what is allowed; never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pulumi


def render_value(value: Any) -> str:
    """Render a config value the way the user wrote it (JSON, strings quoted)."""
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def key_path(namespace: str, key: str, loc: tuple[Any, ...] = ()) -> str:
    """Build `ns:key.sub[2].leaf` from a config key and a pydantic-style location."""
    path = f"{namespace}:{key}"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


class ConfigError(pulumi.RunError):
    """A stack configuration problem. RunError makes the Pulumi CLI print it without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"config error: {self.problems[0]}"
        return "config errors:\n" + "\n".join(f"  - {p}" for p in self.problems)

    @classmethod
    def single(cls, path: str, value: Any, allowed: str) -> ConfigError:
        """One problem: `path: value` then what is allowed."""
        return cls([f"{path}: {render_value(value)} {allowed}"])
