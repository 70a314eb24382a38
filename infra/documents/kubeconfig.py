"""Kubeconfigs (pure): the token kubeconfig a federation source uses to reach this cluster."""

from __future__ import annotations

import base64
from typing import Any, Optional

import yaml


def token_kubeconfig(name: str, server: str, ca_data: str, token_b64: str, namespace: Optional[str]) -> str:
    """A kubeconfig for a service account token (base64 as in the token Secret's data)."""
    token = base64.b64decode(token_b64).decode()
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": context}],
        "users": [{"name": name, "user": {"token": token}}],
    }, sort_keys=False)
