"""Who can do what: the permission matrix of every persona, over the objects the dev stack renders."""

from __future__ import annotations

import json

import pytest

from infra.documents.rbac import Rbac, Subject
from infra.plan.manifests import manifests

ROBOT = Subject("ServiceAccount", "pilot-factory", "astro")
MONITOR = Subject("ServiceAccount", "cluster-monitor", "kube-system")
SCIENTIST = Subject("User", "alice", groups=("astro-scientists",))
STRANGER = Subject("User", "mallory")
AUTOSCALER = Subject("ServiceAccount", "cluster-autoscaler", "kube-system")


@pytest.fixture(scope="module")
def rbac(request) -> Rbac:
    from tests.conftest import _stack_capture

    return Rbac(manifests(_stack_capture("dev")))


# (subject, verb, resource, namespace, api group, allowed)
MATRIX = [
    (ROBOT, "create", "pods", "astro", "", True),
    (ROBOT, "delete", "pods", "astro", "", True),
    (ROBOT, "watch", "pods", "astro", "", True),
    (ROBOT, "get", "pods/log", "astro", "", True),
    (ROBOT, "create", "jobs", "astro", "batch", True),
    (ROBOT, "get", "secrets", "astro", "", False),
    (ROBOT, "create", "pods/exec", "astro", "", False),
    (ROBOT, "create", "deployments", "astro", "apps", False),
    (ROBOT, "create", "pods", "dask", "", False),
    (ROBOT, "list", "nodes", None, "", False),
    (MONITOR, "get", "nodes", None, "", True),
    (MONITOR, "list", "namespaces", None, "", True),
    (MONITOR, "list", "pods", "astro", "", True),
    (MONITOR, "watch", "events", "dask", "", True),
    (MONITOR, "get", "secrets", "astro", "", False),
    (MONITOR, "create", "pods/exec", "astro", "", False),
    (MONITOR, "delete", "pods", "astro", "", False),
    (SCIENTIST, "create", "deployments", "astro", "apps", True),
    (SCIENTIST, "get", "secrets", "astro", "", True),
    (SCIENTIST, "list", "pods", "dask", "", True),
    (SCIENTIST, "get", "secrets", "dask", "", False),
    (SCIENTIST, "delete", "pods", "dask", "", False),
    (SCIENTIST, "create", "pods", "kube-system", "", False),
    (SCIENTIST, "list", "nodes", None, "", False),
    (STRANGER, "list", "pods", "astro", "", False),
    (AUTOSCALER, "update", "nodes", None, "", True),
    (AUTOSCALER, "get", "secrets", "kube-system", "", False),
]


@pytest.mark.parametrize(("who", "verb", "resource", "namespace", "group", "allowed"), MATRIX,
                         ids=[f"{m[0].name}-{m[1]}-{m[2]}-{m[3]}" for m in MATRIX])
def test_permission_matrix(rbac, who, verb, resource, namespace, group, allowed):
    assert rbac.can(who, verb, resource, namespace, api_group=group) is allowed


@pytest.mark.parametrize("who", [ROBOT, MONITOR, SCIENTIST, AUTOSCALER], ids=lambda s: s.name)
@pytest.mark.parametrize("verb_resource", [("create", "rolebindings"), ("create", "clusterrolebindings"),
                                           ("bind", "clusterroles"), ("escalate", "roles")])
def test_no_persona_can_grant_rights(rbac, who, verb_resource):
    verb, resource = verb_resource
    for namespace in (None, "astro", "dask", "kube-system"):
        assert not rbac.can(who, verb, resource, namespace, api_group="rbac.authorization.k8s.io")


def test_the_evaluator_sees_a_cluster_admin_binding():
    objects = [{"kind": "ClusterRoleBinding", "metadata": {"name": "x"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "pilot-factory", "namespace": "astro"}]}]
    assert Rbac(objects).can(ROBOT, "get", "secrets", "kube-system")
    assert not Rbac([]).can(ROBOT, "get", "secrets", "kube-system")


def test_jupyter_has_no_kubernetes_rights_and_its_culler_only_its_scale(cluster_capture):
    # Workers follow the scheduler's adaptive target through the operator, so the notebook needs no API rights.
    from tests.test_secrets import run_with_secret_keys

    rbac = Rbac(manifests(run_with_secret_keys()))
    jupyter = Subject("ServiceAccount", "jupyter", "dask")
    assert not rbac.can(jupyter, "patch", "deployments/scale", "dask", api_group="apps", name="jupyter")
    assert not rbac.can(jupyter, "get", "secrets", "dask")
    culler = Subject("ServiceAccount", "jupyter-culler", "dask")
    assert rbac.can(culler, "patch", "deployments/scale", "dask", api_group="apps", name="jupyter")
    assert not rbac.can(culler, "patch", "deployments/scale", "dask", api_group="apps", name="dask-kubernetes-operator")
    assert not rbac.can(culler, "get", "secrets", "dask")


def test_dask_irsa_policy_covers_only_the_stack_buckets(stack_capture):
    cap = stack_capture("dev")
    policy = json.loads(cap.one("aws:iam/rolePolicy:RolePolicy", "dask-dask-irsa").props["policy"])
    bucket_arn = cap.one("aws:s3/bucket:Bucket").outputs["arn"]
    key_arn = cap.one("aws:kms/key:Key", "data-key").outputs["arn"]
    resources = {r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert resources == {bucket_arn, f"{bucket_arn}/*", key_arn}
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert "s3:*" not in actions and "*" not in resources
    trust = json.loads(cap.one("aws:iam/role:Role", "dask-dask-irsa").props["assumeRolePolicy"])
    (cond,) = [v for v in trust["Statement"][0]["Condition"]["StringEquals"].items() if v[0].endswith(":sub")]
    assert cond[1] == "system:serviceaccount:dask:dask"
