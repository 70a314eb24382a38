"""Per-stack policy config files (policies/config/<stack>.json), validated like stack config.

The pack imports this module in its own virtualenv (pulumi and pulumi_policy only), so it uses the standard
library at import time; jsonschema is imported by the validation the plan and preflight run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from infra import ROOT
from infra.config.errors import ConfigError, render_value, unknown
from infra.config.file_text import FileReadError, read_text
from infra.config.regions import region_problem

POLICY_CONFIG_DIR = ROOT / "policies" / "config"
DEFAULT_ALLOWED_REGIONS = ["us-east-1"]  # the allowed-regions rule's default
DEFAULT_MAX_HOURLY_USD = 25.0  # the max-hourly-cost rule's maxHourlyUsd default
# pulumi_policy.EnforcementLevel's values (tests/test_policy_config.py pins them to the installed SDK).
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
REGION_SETTINGS = {("allowed-regions", "allowedRegions")}  # settings whose items are AWS region names


@dataclass(frozen=True)
class RuleSpec:
    """What a rule accepts in the policy config: its default enforcement level and its settings' JSON schemas."""

    level: str
    properties: Mapping[str, Mapping[str, Any]]


@dataclass
class PolicyConfig:
    """A stack's validated policy config: per rule, its enforcement level and settings (schema defaults filled)."""

    rules: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    path: Optional[Path] = None  # None: the stack has no file; every rule runs with its defaults

    def label(self, project_dir: Path) -> str:
        """The file as the user knows it (policies/config/NAME.json), or why there is none."""
        if self.path is None:
            return "rule defaults (no policies/config/<stack>.json)"
        try:
            return str(self.path.relative_to(project_dir))
        except ValueError:
            return str(self.path)


def _describe(schema: Mapping[str, Any]) -> str:
    """A JSON schema in words: `a number`, `a list of strings`, `a whole number of at least 0`."""
    words = {"number": "a number", "integer": "a whole number", "string": "a string", "boolean": "true or false",
             "object": "a map of key: value", "null": "null", "array": "a list"}
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    text = " or ".join(words.get(k, k) for k in kinds) or "a value"
    if "array" in kinds and schema.get("items", {}).get("type") == "string":
        text = text.replace("a list", 'a list of strings, e.g. ["x"]')
    if "minimum" in schema:
        text += f" of at least {schema['minimum']}"
    if "enum" in schema:
        text = "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    return text


def _setting_problems(where: str, value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Each way `value` breaks its schema, as `where[i]: value is not allowed: expected ...`."""
    import jsonschema  # not in the pack's virtualenv; only the plan and preflight validate

    rule = {k: v for k, v in schema.items() if k not in ("default", "description")}
    problems = []
    for err in sorted(jsonschema.Draft7Validator(rule).iter_errors(value), key=lambda e: list(e.absolute_path)):
        at = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        problems.append(f"{at}: {render_value(err.instance)} is not allowed: expected {_describe(err.schema)}")
    return problems


def rule_settings(name: str, spec: RuleSpec, raw: Any, where: str) -> tuple[str, dict[str, Any], list[str]]:
    """(enforcement level, settings with schema defaults, problems) of one rule's entry; `where` prefixes problems."""
    level, settings, problems = spec.level, {}, []
    if isinstance(raw, str):
        level = raw
    elif isinstance(raw, dict):
        settings = {k: v for k, v in raw.items() if k != "enforcementLevel"}
        level = raw.get("enforcementLevel", level)
    elif raw is not None:
        problems.append(f"{where}: {render_value(raw)} is not allowed: expected an enforcement level "
                        f"({', '.join(LEVELS)}) or a map of settings")
    if level not in LEVELS:
        problems.append(f"{where}.enforcementLevel: {render_value(level)} is not allowed: expected one of "
                        f"{', '.join(LEVELS)}")
        level = spec.level
    for key in sorted(set(settings) - set(spec.properties)):
        problems.append(f"{where}.{key}: {unknown('setting', key, spec.properties)}")
        settings.pop(key)
    for key, value in settings.items():
        problems += _setting_problems(f"{where}.{key}", value, spec.properties[key])
        if (name, key) in REGION_SETTINGS and isinstance(value, list):
            for i, region in enumerate(value):
                why = region_problem(region) if isinstance(region, str) else None
                if why:
                    problems.append(f"{where}.{key}[{i}]: {render_value(region)} {why}")
    return level, {**{k: v.get("default") for k, v in spec.properties.items()}, **settings}, problems


def validate_policy_config(doc: Any, label: str, specs: Mapping[str, RuleSpec]) -> PolicyConfig:
    """Every rule's level and settings from a policy config document, or ConfigError naming file, key and value."""
    if not isinstance(doc, dict):
        raise ConfigError([f"{label}: {render_value(doc)} is not allowed: expected a map of rule name to settings"])
    problems: list[str] = []
    # Two keys the Pulumi CLI reads besides rule names (pkg/resource/analyzer/config.go): `all`, a level for every
    # rule that a rule's own entry overrides, and `environments`, Pulumi ESC environments (not readable offline).
    base = doc.get("all")
    if "all" in doc and base not in LEVELS:
        problems.append(f"{label}: all: {render_value(base)} is not allowed: expected one of {', '.join(LEVELS)}")
        base = None
    envs = doc.get("environments", [])
    if not (isinstance(envs, list) and all(isinstance(e, str) for e in envs)):
        problems.append(f"{label}: environments: {render_value(envs)} is not allowed: expected a list of strings")
    for name in sorted(set(doc) - set(specs) - {"all", "environments"}):
        problems.append(f"{label}: {render_value(name)}: {unknown('rule', name, specs)}")
    config = PolicyConfig()
    for name, spec in specs.items():
        spec = RuleSpec(base, spec.properties) if isinstance(base, str) else spec
        level, settings, found = rule_settings(name, spec, doc.get(name), f"{label}: {name}")
        problems += found
        config.rules[name] = (level, settings)
    if problems:
        raise ConfigError(problems)
    return config


def read_json(path: Path, label: str) -> Any:
    """A policy config file's JSON (Pulumi reads it with Go's encoding/json), or ConfigError naming the file: not a
    regular file, unreadable, over the size limit, not UTF-8, not JSON, nested past Python's recursion limit."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ConfigError([f"{label}: no such file (a symlink to nowhere?)"]) from None
    except FileReadError as exc:
        raise ConfigError([f"{label}{f':{exc.line}' if exc.line else ''}: {exc.reason}"]) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError([f"{label}: not valid JSON: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{label}: not valid JSON: nested too deeply"]) from None


def load_policy_config(stack: str, directory: Path, specs: Mapping[str, RuleSpec]) -> PolicyConfig:
    """The stack's validated policy config (policies/config/<stack>.json); rule defaults when it has none."""
    path = directory / f"{stack}.json"
    label = f"policies/config/{path.name}" if directory.name == "config" else str(path)
    if not path.exists() and not path.is_symlink():
        return validate_policy_config({}, label, specs)
    config = validate_policy_config(read_json(path, label), label, specs)
    config.path = path
    return config


def max_hourly_usd(stack: str, directory: Path) -> float:
    """The max-hourly-cost rule's maxHourlyUsd for the stack (the program's venv has no policy SDK, so the file is
    read without the pack's schemas: the plan, preflight and `pulumi preview --policy-pack` validate it)."""
    path = directory / f"{stack}.json"
    label = f"policies/config/{path.name}"
    if not path.exists() and not path.is_symlink():
        return DEFAULT_MAX_HOURLY_USD
    doc = read_json(path, label)
    entry = doc.get("max-hourly-cost") if isinstance(doc, dict) else None
    value = entry.get("maxHourlyUsd", DEFAULT_MAX_HOURLY_USD) if isinstance(entry, dict) else DEFAULT_MAX_HOURLY_USD
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError([f"{label}: max-hourly-cost.maxHourlyUsd: {render_value(value)} is not allowed: expected "
                           "a number greater than 0 (the stack's monthly budget is derived from it)"])
    return float(value)
