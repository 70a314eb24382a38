"""Admiralty federation: both sides under mocks (StackReference answered by the other stack's plan)."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.documents.admiralty import API_VERSION, CustomResourceError, target, validate_custom_resource
from infra.documents.rbac import Rbac, Subject
from infra.plan.manifests import manifests
from infra.plan.secret_values import is_secret_value, secret_paths, unwrap
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, STACKS, copy_test_project
from tests.test_plan_cli import plan

SA = Subject("ServiceAccount", "admiralty-source-primary", "dask")


def cr(cap, kind):
    return [r for r in cap.resources if r.type == f"kubernetes:{API_VERSION}:{kind}"]


def test_source_side_target_points_at_a_secret_with_the_target_stacks_credential(stack_capture):
    primary, burst = stack_capture("primary"), stack_capture("burst")
    (to_burst,) = [t for t in cr(primary, "Target") if t.props["metadata"]["name"] == "burst"]
    ref = to_burst.props["spec"]["kubeconfigSecret"]
    assert ref == {"name": "admiralty-target-burst", "key": "config"}
    secret = primary.one("kubernetes:core/v1:Secret", "targets-burst-kubeconfig")
    assert secret.props["metadata"]["name"] == ref["name"] and secret.props["metadata"]["namespace"] == "dask"
    assert "stringData" in secret_paths(secret.inputs)
    kubeconfig = yaml.safe_load(unwrap(secret.inputs)["stringData"]["config"])
    burst_cluster = burst.one("aws:eks/cluster:Cluster")
    token_secret = burst.one("kubernetes:core/v1:Secret", "sources-primary-token")
    assert kubeconfig["clusters"][0]["cluster"]["server"] == burst_cluster.outputs["endpoint"]
    assert kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"] == burst_cluster.outputs["certificateAuthority"]["data"]
    assert kubeconfig["users"][0]["user"]["token"] == base64.b64decode(unwrap(token_secret.outputs)["data"]["token"]).decode()
    assert kubeconfig["contexts"][0]["context"]["namespace"] == "dask"


def test_target_side_exports_the_kubeconfig_as_a_secret_output(stack_capture):
    out = stack_capture("burst").outputs["federationKubeconfigs"]
    assert out.secret is True and set(out.value) == {"primary"}


def test_target_side_creates_service_account_long_lived_token_and_source(stack_capture):
    burst = stack_capture("burst")
    token = burst.one("kubernetes:core/v1:Secret", "sources-primary-token").props
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "admiralty-source-primary"
    (source,) = cr(burst, "Source")
    assert source.props["metadata"]["namespace"] == "dask"
    assert source.props["spec"] == {"serviceAccountName": "admiralty-source-primary"}


def test_self_target_and_daemonsets_kept_off_virtual_nodes(stack_capture):
    targets = {t.props["metadata"]["name"]: t.props["spec"] for t in cr(stack_capture("primary"), "Target")}
    assert targets["local"]["self"] is True
    # Admiralty matches the regexp against "key=value", unanchored (pkg/controllers/resources/upstream.go @v0.17.0:
    # regExp.MatchString(fmt.Sprintf("%s=%s", k, v))); Python's re.search has the same semantics for this pattern.
    for spec in targets.values():
        regexp = re.compile(spec["excludedLabelsRegexp"])
        for label in ("kubernetes.io/os=linux", "kubernetes.io/arch=amd64", "eks.amazonaws.com/nodegroup=x",
                      "beta.kubernetes.io/instance-type=m5.xlarge"):
            assert regexp.search(label), label
        for label in ("cloudviper.io/pool=workers", "topology.kubernetes.io/zone=us-east-1a", "kubernetes.io/osx=1"):
            assert not regexp.search(label), label


CHART = Path(__file__).parent / "fixtures" / "admiralty-0.17.0"


def keys_of(values: dict, prefix: str = "") -> set[str]:
    """Dotted keys, not below the chart's free-form maps (resources, nodeSelector, ...)."""
    found = set()
    for k, v in values.items():
        found.add(prefix + k)
        if isinstance(v, dict) and k not in ("resources", "nodeSelector", "affinity", "securityContext"):
            found |= keys_of(v, f"{prefix}{k}.")
    return found


def test_addons_in_order_with_the_eks_signer_and_real_chart_keys(stack_capture):
    cap = stack_capture("primary")
    admiralty = cap.one("kubernetes:helm.sh/v3:Release", "federation-admiralty")
    cert_manager = cap.one("kubernetes:helm.sh/v3:Release", "federation-cert-manager")
    assert cap.depends_on(admiralty, cert_manager)
    # cert-manager v1.16.2 values.yaml: top-level placement is the controller's only; each other pod has its own keys
    values = cert_manager.props["values"]
    for part in (values, values["webhook"], values["cainjector"], values["startupapicheck"]):
        assert part["nodeSelector"] == {"cloudviper.io/pool-role": "system"}
    assert admiralty.props["chart"] == "oci://public.ecr.aws/admiralty/admiralty" and admiralty.props["version"] == "0.17.0"
    values = admiralty.props["values"]
    assert values["controllerManager"]["certificateSignerName"] == "beta.eks.amazonaws.com/app-serving"
    # Every key we set is a key of the chart's values.yaml at the pinned version (copied from admiraltyio/admiralty
    # @v0.17.0 charts/multicluster-scheduler/values.yaml); an unknown key would be ignored silently.
    chart = yaml.safe_load((CHART / "values.yaml").read_text())
    assert keys_of(values) <= keys_of(chart), keys_of(values) - keys_of(chart)
    for component in ("controllerManager", "scheduler", "restarter", "postDeleteJob"):  # the webhook is in controllerManager
        assert values[component]["nodeSelector"] == {"cloudviper.io/pool-role": "system"}
        assert "nodeSelector" in chart[component] and "tolerations" in chart[component]
    assert values["sourceController"] == {"enabled": False} and values["fullnameOverride"] == "admiralty"
    for target_cr in cr(cap, "Target"):
        assert cap.depends_on(target_cr, admiralty)


def test_the_webhook_skips_pods_that_are_not_elected(stack_capture):
    cap = stack_capture("primary")
    patch = cap.one("kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfigurationPatch")
    # templates/webhook.yaml @v0.17.0: MutatingWebhookConfiguration {{fullname}}, webhook {{fullname}}.multicluster.admiralty.io
    webhook_template = (CHART / "webhook.yaml").read_text()
    assert "name: {{ include \"fullname\" . }}.multicluster.admiralty.io" in webhook_template
    assert patch.props["metadata"]["name"] == "admiralty"
    (hook,) = patch.props["webhooks"]
    assert hook["name"] == "admiralty.multicluster.admiralty.io"
    selector = hook["objectSelector"]["matchLabels"]
    spec = cap.one("kubernetes:kubernetes.dask.org/v1:DaskCluster", "dask-cluster").props["spec"]
    assert selector.items() <= spec["worker"]["metadata"]["labels"].items()
    assert not selector.items() <= spec["scheduler"]["metadata"]["labels"].items()
    jupyter = [r for r in cap.of_type("kubernetes:apps/v1:Deployment") if r.props["metadata"]["namespace"] == "dask"]
    for d in jupyter:
        assert not selector.items() <= d.props["spec"]["template"]["metadata"].get("labels", {}).items()


def test_dask_workers_are_elected_prefer_the_local_target_and_their_namespace_federated(stack_capture):
    cap = stack_capture("primary")
    workers = cap.one("kubernetes:kubernetes.dask.org/v1:DaskCluster", "dask-cluster").props["spec"]["worker"]
    annotations = workers["metadata"]["annotations"]
    assert annotations["multicluster.admiralty.io/elect"] == ""
    constraints = json.loads(annotations["multicluster.admiralty.io/proxy-pod-scheduling-constraints"])
    # The webhook parses the annotation strictly as a PodSpec (pkg/webhooks/proxypod/proxypod.go @v0.17.0): the
    # upstream schema must accept it as one.
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "i"}], **constraints}}, "1.31.0", strict=True)
    terms = constraints["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    # Virtual nodes of namespaced Targets carry multicluster.admiralty.io/target-name (pkg/model/virtualnode/model.go).
    assert terms == [{"weight": 100, "preference": {"matchExpressions": [
        {"key": "multicluster.admiralty.io/target-name", "operator": "In", "values": ["local"]}]}}]
    ns = cap.one("kubernetes:core/v1:Namespace", "dask-ns").props
    assert ns["metadata"]["labels"]["multicluster-scheduler"] == "enabled"


def test_a_preference_per_target_orders_the_terms():
    from infra.documents.admiralty import proxy_constraints

    terms = json.loads(proxy_constraints({"local": 100, "cloud-a": 30, "cloud-b": 0}))[
        "affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(t["weight"], t["preference"]["matchExpressions"][0]["values"]) for t in terms] == [(100, ["local"]), (30, ["cloud-a"])]
    assert json.loads(proxy_constraints({"x": 0}, frozenset({"x"}))) == {}


def test_local_delegates_count_twice_in_the_quota(stack_capture):
    from infra.config.quotas import dask_budget, has_local_delegates

    cfg = parse_stack_config("cloudviper", "primary", stack_values("primary"))
    assert has_local_delegates(cfg)
    single, double = dask_budget(cfg.dask), dask_budget(cfg.dask, True)
    workers = 10 + 1  # maximum and the replacement headroom
    assert double.pods - single.pods == workers and double.cpu - single.cpu == workers * 3
    quota = stack_capture("primary").one("kubernetes:core/v1:ResourceQuota", "dask-ns-quota").props["spec"]["hard"]
    assert int(quota["pods"]) == double.pods


# The source's service account gets Admiralty's own source rules in its namespace (logs and exec of federated pods
# included), and nothing else. Roles: the chart's, from tests/fixtures/admiralty-0.17.0/source-clusterroles.yaml.
ALLOWED = [("create", "podchaperons", "dask", "multicluster.admiralty.io"),
           ("delete", "podchaperons", "dask", "multicluster.admiralty.io"),
           ("create", "secrets", "dask", ""), ("update", "configmaps", "dask", ""), ("get", "services", "dask", ""),
           ("get", "pods/log", "dask", ""), ("create", "pods/exec", "dask", ""), ("list", "pods", "dask", ""),
           ("list", "clustersummaries", None, "multicluster.admiralty.io")]
DENIED = [("create", "pods", "dask", ""), ("get", "secrets", "kube-system", ""), ("create", "podchaperons", "default",
          "multicluster.admiralty.io"), ("list", "nodes", None, ""), ("get", "pods/log", "default", ""),
          ("create", "clustersummaries", None, "multicluster.admiralty.io"), ("create", "rolebindings", "dask",
          "rbac.authorization.k8s.io"), ("get", "secrets", "admiralty", "")]


def source_rbac(cap) -> Rbac:
    chart_roles = [d for d in yaml.safe_load_all((CHART / "source-clusterroles.yaml").read_text()) if d]
    return Rbac(manifests(cap) + chart_roles)


@pytest.mark.parametrize(("verb", "resource", "namespace", "group", "allowed"),
                         [(*a, True) for a in ALLOWED] + [(*d, False) for d in DENIED])
def test_source_service_account_rights(stack_capture, verb, resource, namespace, group, allowed):
    assert source_rbac(stack_capture("burst")).can(SA, verb, resource, namespace, api_group=group) is allowed


def test_source_bindings_use_the_names_admiraltys_source_controller_uses(stack_capture):
    # pkg/controllers/source/controller.go @v0.17.0 and docs/operator_guide/scheduling.md: RoleBinding
    # admiralty-source-<source> -> ClusterRole admiralty-source; ClusterRoleBinding
    # admiralty-source-<ns>-<source>-cluster-summary-viewer -> admiralty-cluster-summary-viewer.
    burst = stack_capture("burst")
    rb = burst.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "sources-primary-rb").props
    assert (rb["metadata"]["name"], rb["metadata"]["namespace"]) == ("admiralty-source-primary", "dask")
    assert rb["roleRef"]["name"] == "admiralty-source"
    crb = burst.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "sources-primary-summaries").props
    assert crb["metadata"]["name"] == "admiralty-source-dask-primary-cluster-summary-viewer"
    assert crb["roleRef"]["name"] == "admiralty-cluster-summary-viewer"
    # The stack creates no ClusterRole of its own for sources: the chart's are the ones bound.
    assert not [r for r in burst.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
                if "admiralty" in r.props["metadata"]["name"]]


def test_delegated_pods_find_their_service_account_in_the_target(stack_capture):
    primary, burst = stack_capture("primary"), stack_capture("burst")
    worker_sa = primary.one("kubernetes:kubernetes.dask.org/v1:DaskCluster", "dask-cluster").props["spec"]["worker"][
        "spec"]["serviceAccountName"]
    sa = [r for r in burst.of_type("kubernetes:core/v1:ServiceAccount")
          if r.props["metadata"] == {**r.props["metadata"], "name": worker_sa, "namespace": "dask"}]
    assert len(sa) == 1
    role_arn = sa[0].props["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    (role,) = [r for r in burst.of_type("aws:iam/role:Role") if r.outputs.get("arn") == role_arn]
    trust = json.loads(unwrap(role.inputs)["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    issuer = burst.one("aws:eks/cluster:Cluster").outputs["identities"][0]["oidcs"][0]["issuer"].removeprefix("https://")
    assert condition[f"{issuer}:sub"] == f"system:serviceaccount:dask:{worker_sa}"  # the burst cluster's own IRSA
    assert burst.outputs["federationServiceAccounts"].value == {"primary": [worker_sa]}


def test_a_target_without_the_workers_service_account_is_a_clear_error(tmp_path):
    burst = copy_project(tmp_path)
    burst["config"]["cloudviper:federation"]["sources"][0]["serviceAccounts"] = []
    (tmp_path / "Pulumi.burst.yaml").write_text(yaml.safe_dump(burst))
    result = plan("--stack", "primary", "--project-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "stack organization/cloudviper/burst has no service account 'dask' for our delegated pods" in result.stderr
    assert "Traceback" not in result.stderr


def test_admiralty_on_an_untested_kubernetes_version_needs_an_explicit_choice():
    values = stack_values("primary")
    values["cloudviper:federation"].pop("allowUntestedKubernetes")
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "primary", values)
    assert ('cloudviper:cluster.version: "1.35" is not a Kubernetes version Admiralty 0.17.0 was tested on '
            "(1.27, 1.28, 1.29, 1.30, 1.31)") in str(info.value)
    assert "allowUntestedKubernetes: true" in str(info.value)


def stack_values(name: str) -> dict:
    return yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"]


def copy_project(tmp_path) -> dict:
    """The federated pair of test stacks in `tmp_path`; burst's stack file, to edit."""
    copy_test_project(tmp_path, ("primary", "burst"))
    return yaml.safe_load((tmp_path / "Pulumi.burst.yaml").read_text())


def test_custom_resources_are_checked_against_the_crd():
    with pytest.raises(CustomResourceError, match="not in the CRD schema"):
        validate_custom_resource({"apiVersion": API_VERSION, "kind": "Target", "metadata": {"name": "x", "namespace": "n"},
                                  "spec": {"kubeConfigSecret": {"name": "s"}}})
    with pytest.raises(CustomResourceError, match="is Cluster-scoped"):
        validate_custom_resource({"apiVersion": API_VERSION, "kind": "ClusterTarget", "metadata": {"name": "x", "namespace": "n"},
                                  "spec": {"self": True}})
    with pytest.raises(CustomResourceError, match="'yes' is not of type 'boolean'"):
        validate_custom_resource({"apiVersion": API_VERSION, "kind": "Target", "metadata": {"name": "x", "namespace": "n"},
                                  "spec": {"self": "yes"}})
    assert target("t", None, self_target=True)["kind"] == "ClusterTarget"


def fed_values(federation, secret_values=None):
    values = {**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(CLUSTER_CONFIG)}
    values["cloudviper:namespaces"] = [{"name": "science"}]
    values["cloudviper:federation"] = {"allowUntestedKubernetes": True, **federation}
    if secret_values is not None:
        values["cloudviper:secretValues"] = secret_values
    return values


GOOD_KUBECONFIG = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "onprem",
                                  "clusters": [{"name": "onprem", "cluster": {"server": "https://k8s.example.edu:6443"}}],
                                  "users": [{"name": "u", "user": {"token": "t"}}],
                                  "contexts": [{"name": "onprem", "context": {"cluster": "onprem", "user": "u"}}]})


@pytest.mark.parametrize(("federation", "secrets", "message"), [
    ({"targets": [{"name": "a", "kind": "self", "namespace": "science"}, {"name": "a", "kind": "self", "namespace": "science"}]},
     None, 'cloudviper:federation.targets[1].name: "a" is already used by federation.targets[0]'),
    ({"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "science"}]},
     {"onprem": "clusters: [oops"}, "cloudviper:federation.targets[onprem].kubeconfigSecretValue: the kubeconfig in "
                                    "cloudviper:secretValues.onprem is not YAML"),
    ({"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "science"}]},
     {"onprem": "kind: Config\nclusters: []\n"}, "cloudviper:secretValues.onprem has no clusters"),
    ({"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "science",
                   "context": "nope"}]}, {"onprem": GOOD_KUBECONFIG}, "has no context 'nope' (it has 1 named context(s))"),
    ({"targets": [{"name": "x", "kind": "external", "kubeconfigSecretValue": "missing", "namespace": "science"}]},
     {}, '"missing" is not in cloudviper:secretValues'),
    ({"targets": [{"name": "x", "kind": "stack", "namespace": "science"}]}, None, "kind stack needs stack:"),
    ({"sources": [{"name": "p", "namespace": "nowhere"}]}, None,
     'cloudviper:federation.sources[p].namespace: "nowhere" is not a namespace of this stack'),
    ({"sources": [{"name": "p"}]}, None, "set either namespace (a namespaced Source) or clusterWide: true"),
])
def test_federation_config_errors(federation, secrets, message):
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "test", fed_values(federation, secrets),
                           secret_keys={"cloudviper:secretValues"})
    assert message in str(info.value)


def test_a_good_external_kubeconfig_is_accepted():
    cfg = parse_stack_config("cloudviper", "test", fed_values(
        {"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "science"}]},
        {"onprem": GOOD_KUBECONFIG}), secret_keys={"cloudviper:secretValues"})
    assert cfg.federation is not None and cfg.federation.targets[0].kind == "external"


def test_external_kubeconfig_reaches_a_secret_only_as_a_secret(run_stack):
    from infra.config.stackfile import StackFile
    from infra.plan.program import run_program

    values = fed_values({"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem",
                                      "namespace": "science"}]}, {"onprem": GOOD_KUBECONFIG})
    cap = run_program(StackFile(project="cloudviper", stack="test", values=values, secret_keys=["cloudviper:secretValues"]))
    secret = cap.one("kubernetes:core/v1:Secret", "targets-onprem-kubeconfig")
    assert is_secret_value(secret.inputs["stringData"])
    assert unwrap(secret.inputs)["stringData"]["config"] == GOOD_KUBECONFIG


def test_a_target_stack_without_our_credential_is_a_clear_error(tmp_path):
    burst = copy_project(tmp_path)
    burst["config"]["cloudviper:federation"]["sources"] = [{"name": "someone-else", "namespace": "dask"}]
    (tmp_path / "Pulumi.burst.yaml").write_text(yaml.safe_dump(burst))
    result = plan("--stack", "primary", "--project-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "stack organization/cloudviper/burst exports no federation credential for source 'primary'" in result.stderr
    assert "Traceback" not in result.stderr
