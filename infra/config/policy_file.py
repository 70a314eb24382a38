"""Per-stack policy config files (policies/config/<stack>.json); standard library and pulumi only (the pack imports it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from infra import ROOT
from infra.config.errors import ConfigError

POLICY_CONFIG_DIR = ROOT / "policies" / "config"
DEFAULT_ALLOWED_REGIONS = ["us-east-1"]  # the allowed-regions rule's default


def load_policy_config(stack: str, directory: Path = POLICY_CONFIG_DIR) -> tuple[dict[str, Any], Optional[Path]]:
    """The stack's policy config (`{rule: {key: value, enforcementLevel: ...}}`), or {} if it has none."""
    path = directory / f"{stack}.json"
    if not path.exists():
        return {}, None
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError([f"{path.name}: not valid JSON: {exc}"]) from None
    if not isinstance(doc, dict):
        raise ConfigError([f"{path.name}: expected a map of rule name to settings"])
    return doc, path
