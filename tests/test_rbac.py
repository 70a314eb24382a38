"""Who can do what: the permission matrix of every persona, over the objects the dev stack renders."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.documents.rbac import JOB_ROBOT_RULES, Rbac, Subject
from infra.plan.manifests import manifests
from infra.plan.secret_values import secret_paths, unwrap, without_secrets
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG

ROBOT = Subject("ServiceAccount", "pilot-factory", "grid")
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
    (ROBOT, "create", "jobs", "astro", "batch", False),  # the people's namespace
    (ROBOT, "list", "pods", "dask", "", False),
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
                "subjects": [{"kind": "ServiceAccount", "name": "pilot-factory", "namespace": "grid"}]}]
    assert Rbac(objects).can(ROBOT, "get", "secrets", "kube-system")
    assert not Rbac([]).can(ROBOT, "get", "secrets", "kube-system")


# PanDA Harvester's Kubernetes calls (HSF/harvester @ d561b72, pandaharvester/harvestermisc/k8s_utils.py):
# (verb, resource, api group, object name, allowed) in the robot's own namespace.
HARVESTER = [
    ("create", "jobs", "batch", None, True),             # submitter: create_namespaced_job
    ("list", "jobs", "batch", None, True),               # monitor: list_namespaced_job
    ("delete", "jobs", "batch", "grid-job-42", True),    # sweeper: delete_namespaced_job
    ("list", "pods", "", None, True),                    # monitor: list_namespaced_pod
    ("delete", "pods", "", "grid-job-42-abcde", True),   # monitor: delete_namespaced_pod (stuck pods)
    ("get", "pods/log", "", "grid-job-42-abcde", True),  # messenger: read_namespaced_pod_log
    ("create", "configmaps", "", None, True),            # submitter: per-worker ConfigMap, pilots-starter fallback
    ("delete", "configmaps", "", "42", True),            # sweeper: delete_namespaced_config_map
    ("patch", "configmaps", "", "pilots-starter", True),  # submitter start-up: patch_namespaced_config_map
    ("create", "secrets", "", None, True),               # credmanager: create_namespaced_secret (fallback)
    ("patch", "secrets", "", "proxy-secret", True),      # credmanager: patch_namespaced_secret
    # Harvester never reads a Secret (it only patches or creates proxy-secret), so no get/list/watch/delete:
    ("get", "secrets", "", "proxy-secret", False),
    ("list", "secrets", "", None, False),
    ("watch", "secrets", "", None, False),
    ("delete", "secrets", "", "proxy-secret", False),
    ("patch", "secrets", "", "pilot-factory-token", False),
    ("patch", "configmaps", "", "kube-root-ca.crt", False),
    ("update", "configmaps", "", "pilots-starter", False),
    # Pods come from the Job controller; Harvester never reads one object by name, nor watches.
    ("create", "pods", "", None, False),
    ("get", "pods", "", "grid-job-42-abcde", False),
    ("watch", "pods", "", None, False),
    ("get", "jobs", "batch", "grid-job-42", False),
    ("watch", "jobs", "batch", None, False),
    ("patch", "jobs", "batch", "grid-job-42", False),
    ("create", "pods/exec", "", "grid-job-42-abcde", False),
    ("create", "pods/attach", "", "grid-job-42-abcde", False),
    ("create", "deployments", "apps", None, False),
    ("create", "cronjobs", "batch", None, False),
    ("create", "serviceaccounts/token", "", "pilot-factory", False),
    ("create", "rolebindings", "rbac.authorization.k8s.io", None, False),
    ("create", "roles", "rbac.authorization.k8s.io", None, False),
    ("patch", "resourcequotas", "", "team-budget", False),
]


@pytest.mark.parametrize(("verb", "resource", "group", "name", "allowed"), HARVESTER,
                         ids=[f"{h[0]}-{h[1]}-{h[3] or 'any'}" for h in HARVESTER])
def test_the_grid_robot_can_do_what_harvester_calls_and_no_more(rbac, verb, resource, group, name, allowed):
    assert rbac.can(ROBOT, verb, resource, "grid", api_group=group, name=name) is allowed


@pytest.mark.parametrize(("verb", "resource", "group", "name", "allowed"), [h for h in HARVESTER if h[4]],
                         ids=[f"{h[0]}-{h[1]}" for h in HARVESTER if h[4]])
@pytest.mark.parametrize("namespace", ["astro", "dask", "kube-system", "default", None])
def test_the_grid_robot_reaches_nothing_outside_its_namespace(rbac, verb, resource, group, name, allowed, namespace):
    assert not rbac.can(ROBOT, verb, resource, namespace, api_group=group, name=name)


@pytest.mark.parametrize(("verb", "resource"), [("patch", "namespaces"), ("update", "namespaces"), ("list", "nodes"),
                                                ("list", "pods"), ("create", "namespaces")])
def test_the_grid_robot_has_nothing_cluster_wide(rbac, verb, resource):
    assert not rbac.can(ROBOT, verb, resource, None)


def test_the_grid_robots_role_is_exactly_harvesters_calls(stack_capture):
    (role,) = [r for r in stack_capture("dev").of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
               if r.props["metadata"]["name"] == "pilot-factory-jobs"]
    granted = {(g, res, v, tuple(r.get("resourceNames") or ())) for r in role.props["rules"]
               for g in r["apiGroups"] for res in r["resources"] for v in r["verbs"]}
    assert granted == {
        ("batch", "jobs", "create", ()), ("batch", "jobs", "list", ()), ("batch", "jobs", "delete", ()),
        ("", "pods", "list", ()), ("", "pods", "delete", ()), ("", "pods/log", "get", ()),
        ("", "configmaps", "create", ()), ("", "configmaps", "delete", ()),
        ("", "configmaps", "patch", ("pilots-starter",)),
        ("", "secrets", "create", ()), ("", "secrets", "patch", ("proxy-secret",)),
    }
    assert role.props["rules"] == JOB_ROBOT_RULES and role.props["metadata"]["namespace"] == "grid"
    sa = [r for r in stack_capture("dev").of_type("kubernetes:core/v1:ServiceAccount")
          if r.props["metadata"]["name"] == "pilot-factory"]
    assert sa[0].props["automountServiceAccountToken"] is False  # Harvester runs outside; pilots get no API token


def test_the_grid_namespace_enforces_baseline_and_warns_restricted(stack_capture):
    labels = {r.props["metadata"]["name"]: r.props["metadata"]["labels"]
              for r in stack_capture("dev").of_type("kubernetes:core/v1:Namespace")}
    pss = "pod-security.kubernetes.io/"
    assert {k: v for k, v in labels["grid"].items() if k.startswith(pss)} == {
        pss + "enforce": "baseline", pss + "enforce-version": "latest", pss + "audit": "restricted", pss + "warn": "restricted"}
    assert {labels["astro"][pss + m] for m in ("enforce", "audit", "warn")} == {"restricted"}  # the default is untouched


PROXY = "-----BEGIN PROXY-----GRID-PROXY-SECRET-9876"
GRID_CONFIG: dict[str, Any] = {
    **CLUSTER_CONFIG,
    "cloudviper:namespaces": [{"name": "atlas"}, {"name": "grid"}],
    "cloudviper:rbac": {"namespaceAccess": [{"namespace": "atlas", "group": "scientists", "access": "edit"}],
                        "jobRobots": [{"name": "harvester", "namespace": "grid", "proxySecretValue": "gridProxy",
                                       "proxySecretKey": "x509up_u25606", "longLivedToken": True}]},
    "cloudviper:secretValues": {"gridProxy": PROXY},
}


def grid_values(**changes: Any) -> dict[str, Any]:
    """BASE_CONFIG + a cluster, a people's namespace and a grid robot, with `section=value` changes (None removes)."""
    values = {**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(GRID_CONFIG)}
    for key, value in changes.items():
        if value is None:
            values.pop(f"cloudviper:{key}", None)
        else:
            values[f"cloudviper:{key}"] = value
    return values


@pytest.fixture(scope="module")
def grid_capture():
    from infra.config.stackfile import StackFile
    from infra.plan.program import run_program

    return run_program(StackFile(project="cloudviper", stack="test", values=grid_values(),
                                 secret_keys=["cloudviper:secretValues"]))


def test_the_grid_proxy_becomes_proxy_secret_and_stays_secret(grid_capture):
    secret = grid_capture.one("kubernetes:core/v1:Secret", "secrets-grid-proxy-secret")
    meta = secret.props["metadata"]
    assert (meta["name"], meta["namespace"], secret.props["type"]) == ("proxy-secret", "grid", "Opaque")
    assert "stringData" in secret_paths(secret.inputs)
    assert unwrap(secret.inputs)["stringData"] == {"x509up_u25606": PROXY}
    plain = json.dumps([without_secrets(r.inputs) for r in grid_capture.resources] +
                       [without_secrets(r.outputs) for r in grid_capture.resources] +
                       [v.value for v in grid_capture.outputs.values() if not v.secret])
    assert PROXY not in plain
    assert PROXY in json.dumps([unwrap(r.inputs) for r in grid_capture.resources])  # the check can fail


def test_a_long_lived_token_for_an_outside_harvester_is_opt_in_and_secret(grid_capture, stack_capture):
    token = grid_capture.one("kubernetes:core/v1:Secret", "rbac-robot-harvester-token")
    assert token.props["type"] == "kubernetes.io/service-account-token"
    assert token.props["metadata"]["namespace"] == "grid"
    assert token.props["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "harvester"
    assert "data" in token.additional_secret_outputs
    assert not [r for r in stack_capture("dev").of_type("kubernetes:core/v1:Secret")
                if r.props.get("type") == "kubernetes.io/service-account-token"]
    rbac = Rbac(manifests(grid_capture))
    harvester = Subject("ServiceAccount", "harvester", "grid")
    assert rbac.can(harvester, "patch", "secrets", "grid", name="proxy-secret")
    assert not rbac.can(harvester, "get", "secrets", "grid", name="harvester-token")
    assert not rbac.can(harvester, "create", "jobs", "atlas", api_group="batch")


NOT_ITS_OWN = "a job robot needs a namespace of its own"
# (config changes, expected problem text)
SHARED_NAMESPACES = [
    ({"dask": {"namespace": "grid"}}, 'cloudviper:rbac.jobRobots[harvester].namespace: "grid" is also the Dask namespace'),
    ({"dask": {"clientNamespaces": ["grid"]}},
     'cloudviper:rbac.jobRobots[harvester].namespace: "grid" is also a Dask client namespace (cloudviper:dask.clientNamespaces[0])'),
    ({"arkouda": {"namespace": "grid"}}, 'cloudviper:rbac.jobRobots[harvester].namespace: "grid" is also the Arkouda namespace'),
    ({"rbac": {**GRID_CONFIG["cloudviper:rbac"], "namespaceAccess": [{"namespace": "grid", "group": "g", "access": "view"}]}},
     'cloudviper:rbac.jobRobots[harvester].namespace: "grid" is also a namespace people use (cloudviper:rbac.namespaceAccess[0])'),
    ({"rbac": {"jobRobots": [{"name": "a", "namespace": "grid"}, {"name": "b", "namespace": "grid"}]}},
     'cloudviper:rbac.jobRobots[b].namespace: "grid" is also the namespace of job robot a (cloudviper:rbac.jobRobots[a])'),
    ({"federation": {"sources": [{"name": "primary", "namespace": "grid"}]}},
     'cloudviper:rbac.jobRobots[harvester].namespace: "grid" is also a federation namespace (cloudviper:federation.sources[primary])'),
    ({"namespaces": [{"name": "atlas"}]}, 'cloudviper:rbac.jobRobots[harvester].namespace: "grid" is not a namespace of this stack'),
]


@pytest.mark.parametrize(("changes", "message"), SHARED_NAMESPACES, ids=[m[1].split(" is ")[1][:30] for m in SHARED_NAMESPACES])
def test_a_robot_namespace_shared_with_anything_else_is_refused(changes, message):
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "test", grid_values(**changes))
    (line,) = [p for p in info.value.problems if "jobRobots" in p.split(":")[1].split(" ")[0]]
    assert line.startswith(message) and NOT_ITS_OWN in line and "cloudviper:namespaces" in line


@pytest.mark.parametrize(("changes", "message"), [
    ({"secrets": [{"name": "registry", "namespace": "grid", "values": {"k": "gridProxy"}}]},
     'cloudviper:secrets[registry].name: "registry" is in grid, the namespace of job robot harvester, which can read every '
     "Secret there; only its grid proxy (proxy-secret) may live there"),
    ({"secrets": [{"name": "proxy-secret", "namespace": "grid", "values": {"k": "gridProxy"}}]},
     'cloudviper:secrets[proxy-secret].name: "proxy-secret" in grid is also made from job robot harvester\'s proxySecretValue'),
    ({"namespaces": [{"name": "atlas"}, {"name": "grid", "podSecurity": "privileged"}]},
     'cloudviper:namespaces[grid].podSecurity: "privileged" is set on grid, the namespace of job robot harvester, whose own '
     "podSecurity decides it; leave it out and set cloudviper:rbac.jobRobots[harvester].podSecurity (restricted or baseline)"),
    ({"rbac": {"jobRobots": [{"name": "harvester", "namespace": "grid", "proxySecretValue": "nope"}]}},
     'cloudviper:rbac.jobRobots[harvester].proxySecretValue: "nope" is not in cloudviper:secretValues'),
    ({"rbac": {"jobRobots": [{"name": "harvester", "namespace": "grid", "podSecurity": "privileged"}]}},
     "cloudviper:rbac.jobRobots[harvester].podSecurity: \"privileged\" is not allowed: expected 'restricted' or 'baseline'"),
])
def test_robot_namespace_secrets_and_levels_are_checked(changes, message):
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "test", grid_values(**changes))
    assert any(p.startswith(message) for p in info.value.problems), info.value.problems


def test_the_grid_proxy_alone_may_share_the_robot_namespace():
    robot = {"name": "harvester", "namespace": "grid", "podSecurity": "baseline"}
    cfg = parse_stack_config("cloudviper", "test", grid_values(
        rbac={"jobRobots": [robot]}, secrets=[{"name": "proxy-secret", "namespace": "grid", "values": {"x509up": "gridProxy"}}]))
    (grid,) = [n for n in cfg.namespaces if n.name == "grid"]
    assert (grid.pod_security, grid.pod_security_warn) == ("baseline", "restricted")
    assert [(s.name, s.namespace) for s in cfg.secrets] == [("proxy-secret", "grid")]


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
