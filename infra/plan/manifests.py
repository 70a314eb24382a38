"""Render the Kubernetes objects a captured stack would create as plain manifests (secrets redacted)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from infra.plan.harness import Capture
from infra.plan.secret_values import is_secret_value

REDACTED = "REDACTED"


def _redact(value: Any) -> Any:
    if is_secret_value(value):
        inner = value["value"]
        return {k: REDACTED for k in inner} if isinstance(inner, dict) else REDACTED
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine's wire format (protobuf Struct) turns every number into a double
    return value


ORDER = ("apiVersion", "kind", "metadata")


def manifests(capture: Capture) -> list[dict[str, Any]]:
    """Every kubernetes:* resource of the capture as an apiVersion/kind/metadata/... document."""
    docs = []
    for res in capture.resources:
        if not res.custom or not res.type.startswith("kubernetes:") or res.type.startswith("kubernetes:helm.sh/"):
            continue  # Helm releases are rendered by Helm at deploy time, not by us
        raw = {k: v for k, v in _redact(res.inputs).items() if not k.startswith("__") and v is not None}
        docs.append({**{k: raw[k] for k in ORDER if k in raw}, **{k: v for k, v in raw.items() if k not in ORDER}})
    return docs


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-")


def write_manifests(capture: Capture, directory: Path) -> list[Path]:
    """Write one YAML file per object into `directory`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for i, doc in enumerate(manifests(capture)):
        meta = doc.get("metadata") or {}
        name = "-".join(_slug(str(p)) for p in (doc.get("kind", ""), meta.get("namespace", "cluster"), meta.get("name", "")))
        path = directory / f"{i:03d}-{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        written.append(path)
    return written
