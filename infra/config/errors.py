"""User-facing configuration errors: key path, value, what is allowed; never a traceback."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

import pulumi


def render_value(value: Any) -> str:
    """Render a config value the way the user wrote it (JSON, strings quoted)."""
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def did_you_mean(value: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`did you mean "x"?` for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return f'did you mean "{close[0]}"?' if close else ""


def unknown(what: str, value: str, choices: Iterable[str]) -> str:
    """`unknown key; did you mean "azs"? allowed keys: azCount, azs, cidr` (what = "key", "rule", "setting")."""
    allowed = sorted(choices)
    hint = did_you_mean(value, allowed)
    return f"unknown {what}; " + (f"{hint} " if hint else "") + f"allowed {what}s: {', '.join(allowed) or 'none'}"


def key_path(namespace: str, key: str, loc: tuple[Any, ...] = ()) -> str:
    """Build `ns:key.sub[2].leaf` from a config key and a pydantic-style location."""
    path = f"{namespace}:{key}"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


class ConfigError(pulumi.RunError):
    """A stack configuration problem. RunError makes the Pulumi CLI print it without a traceback."""

    def __init__(self, problems: list[str], note: str = "") -> None:
        self.problems = problems
        self.note = note  # shown after the problems, e.g. which checks did not run
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            text = f"config error: {self.problems[0]}"
        else:
            text = "config errors:\n" + "\n".join(f"  - {p}" for p in self.problems)
        return f"{text}\n  ({self.note})" if self.note else text

    @classmethod
    def single(cls, path: str, value: Any, allowed: str) -> ConfigError:
        """One problem: `path: value` then what is allowed."""
        return cls([f"{path}: {render_value(value)} {allowed}"])
