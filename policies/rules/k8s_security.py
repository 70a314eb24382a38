"""Kubernetes security rules, judged on what the API server would do with the objects (the pack's list of them).

- pods (k8s_pods.py): every pod spec in every object meets the Pod Security Standards baseline;
- namespaces (k8s_namespaces.py): every namespace enforces baseline or restricted;
- RBAC (k8s_rbac.py): no cluster-admin for robots, no wildcards, no escalating rights, judged on effective rights.
"""

from __future__ import annotations

from pulumi_policy import Policy

from policies.rules import k8s_namespaces, k8s_pods, k8s_rbac

PODS = k8s_pods.PODS
NAMESPACES = k8s_namespaces.POLICY
CLUSTER_ADMIN = k8s_rbac.CLUSTER_ADMIN
WILDCARDS = k8s_rbac.WILDCARDS
ESCALATION = k8s_rbac.ESCALATION

POLICIES: list[Policy] = [PODS, NAMESPACES, CLUSTER_ADMIN, WILDCARDS, ESCALATION]
