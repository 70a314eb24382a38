"""Kubeconfig checks (pure): the kubeconfigs users give for external federation targets.

A kubeconfig is a secret: a message names what is missing, never a name or value from inside it.
"""

from __future__ import annotations

from typing import Any, Optional

from infra.config.file_text import FileReadError
from infra.config.stackfile import SECRET_PLACEHOLDER
from infra.config.yaml_reader import parse_yaml


class KubeconfigError(ValueError):
    """A kubeconfig that cannot work."""


def _named(items: Any, field: str) -> dict[str, Any]:
    """`name` -> `field` of the list entries that are maps with a text name."""
    return {i["name"]: i.get(field) for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def _parsed(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return parse_yaml(text, strict=False).value  # bounded like a stack file: depth, aliases
    except FileReadError as exc:
        raise KubeconfigError(f"is not YAML{f' (line {exc.line})' if exc.line else ''}") from None


def check_kubeconfig(text: Any, context: Optional[str] = None) -> None:
    """Raise KubeconfigError unless `text` is a kubeconfig whose context names a cluster and a user.

    A value masked by the offline plan (it cannot decrypt secrets) is accepted as is. `context` comes from the stack
    config (not secret) and may be named; the kubeconfig's own names are not.
    """
    if text == SECRET_PLACEHOLDER:
        return
    doc = _parsed(text)
    if not isinstance(doc, dict) or doc.get("kind", "Config") != "Config":
        raise KubeconfigError("is not a kubeconfig (expected kind Config, with clusters, users and contexts)")
    for section in ("clusters", "users", "contexts"):
        if not isinstance(doc.get(section), list) or not doc[section]:
            raise KubeconfigError(f"has no {section}")
    name = context or doc.get("current-context")
    which = f"context {context!r}" if context else "its current context"  # words that are not kubeconfig text
    contexts = _named(doc["contexts"], "context")
    if not isinstance(name, str) or name not in contexts:
        raise KubeconfigError(f"has no {which} (it has {len(contexts)} named context(s))")
    ctx = contexts[name] if isinstance(contexts[name], dict) else {}
    clusters = {k: v for k, v in _named(doc["clusters"], "cluster").items() if isinstance(v, dict)}
    cluster, user = ctx.get("cluster"), ctx.get("user")
    if not isinstance(cluster, str) or cluster not in clusters or not clusters[cluster].get("server"):
        raise KubeconfigError(f"{which} names no cluster with a server")
    if not isinstance(user, str) or user not in _named(doc["users"], "user"):
        raise KubeconfigError(f"{which} names no user")
