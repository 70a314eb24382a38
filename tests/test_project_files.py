"""Pulumi.yaml and the stack files stay loadable by the real Pulumi CLI."""

from __future__ import annotations

import yaml

# Pulumi's project schema: a declared type must be one of these, and keys of another
# namespace (aws:region) may only carry a `value`, never a type or default.
SIMPLE_TYPES = {"string", "integer", "boolean", "array"}


def test_project_file_follows_the_pulumi_schema(repo_root):
    doc = yaml.safe_load((repo_root / "Pulumi.yaml").read_text())
    assert doc["name"] == "cloudviper"
    assert doc["runtime"]["name"] == "python"
    assert doc["runtime"]["options"]["virtualenv"] == ".venv"
    for key, decl in (doc.get("config") or {}).items():
        namespaced_elsewhere = ":" in key and not key.startswith("cloudviper:")
        if isinstance(decl, dict):
            if namespaced_elsewhere:
                assert "type" not in decl and "default" not in decl, key
            elif "type" in decl:
                assert decl["type"] in SIMPLE_TYPES, key
                if decl["type"] == "array":
                    assert "items" in decl, key

