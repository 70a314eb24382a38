"""Pod building blocks every workload uses (pure)."""

from __future__ import annotations

from typing import Any, Optional


def restricted_security_context(uid: int = 65534, gid: Optional[int] = None) -> dict[str, Any]:
    """Container security context that meets the `restricted` Pod Security Standard."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid if gid is None else gid,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
