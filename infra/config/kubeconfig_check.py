"""Kubeconfig checks (pure): the kubeconfigs users give for external federation targets."""

from __future__ import annotations

from typing import Any, Optional

import yaml

from infra.config.stackfile import SECRET_PLACEHOLDER


class KubeconfigError(ValueError):
    """A kubeconfig that cannot work."""


def check_kubeconfig(text: Any, context: Optional[str] = None) -> None:
    """Raise KubeconfigError unless `text` is a kubeconfig whose context names a cluster and a user.

    A value masked by the offline plan (it cannot decrypt secrets) is accepted as is.
    """
    if text == SECRET_PLACEHOLDER:
        return
    try:
        doc = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        raise KubeconfigError("is not YAML") from None
    if not isinstance(doc, dict) or doc.get("kind", "Config") != "Config":
        raise KubeconfigError("is not a kubeconfig (expected kind: Config with clusters, users, contexts)")
    for section in ("clusters", "users", "contexts"):
        if not isinstance(doc.get(section), list) or not doc[section]:
            raise KubeconfigError(f"has no {section}")
    name = context or doc.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in doc["contexts"] if isinstance(c, dict)}
    if name not in contexts:
        raise KubeconfigError(f"has no context {name!r}; contexts: {', '.join(map(str, contexts))}")
    ctx = contexts[name]
    clusters = {c.get("name"): c.get("cluster") or {} for c in doc["clusters"] if isinstance(c, dict)}
    users = {u.get("name") for u in doc["users"] if isinstance(u, dict)}
    if ctx.get("cluster") not in clusters or not clusters[ctx["cluster"]].get("server"):
        raise KubeconfigError(f"context {name!r} names no cluster with a server")
    if ctx.get("user") not in users:
        raise KubeconfigError(f"context {name!r} names no user")
