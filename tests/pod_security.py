"""The Pod Security Standards' controls, as the Pod Security admission checks a pod spec: the policy pack's own checks.

One copy of the checks (policies/rules/k8s_pss.py, which cites k8s.io/pod-security-admission policy/check_*.go),
so a test that says "the restricted standard admits this pod" and the pack's `k8s-no-host-access` rule agree.
Each violation reads "<control>: <detail>".
"""

from __future__ import annotations

from typing import Any, Optional

from policies.rules import k8s_pss


def violations(pod: dict[str, Any], level: str, metadata: Optional[dict[str, Any]] = None) -> list[str]:
    """What the Pod Security admission would refuse at this level ("privileged" refuses nothing)."""
    return k8s_pss.violations(pod, level, metadata)
