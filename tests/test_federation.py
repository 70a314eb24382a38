"""Admiralty federation: both sides under mocks (StackReference answered by the other stack's plan)."""

from __future__ import annotations

import base64
import copy
import shutil

import pytest
import yaml

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.documents.admiralty import API_VERSION, CustomResourceError, target, validate_custom_resource
from infra.documents.rbac import Rbac, Subject
from infra.plan.manifests import manifests
from infra.plan.secret_values import is_secret_value, secret_paths, unwrap
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG
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
    for spec in targets.values():
        assert "kubernetes\\.io/os" in spec["excludedLabelsRegexp"]


def test_addons_in_order_with_the_eks_signer(stack_capture):
    cap = stack_capture("primary")
    admiralty = cap.one("kubernetes:helm.sh/v3:Release", "federation-admiralty")
    cert_manager = cap.one("kubernetes:helm.sh/v3:Release", "federation-cert-manager")
    assert cap.depends_on(admiralty, cert_manager)
    assert admiralty.props["chart"] == "oci://public.ecr.aws/admiralty/admiralty" and admiralty.props["version"] == "0.17.0"
    assert admiralty.props["values"]["controllerManager"]["certificateSignerName"] == "beta.eks.amazonaws.com/app-serving"
    assert admiralty.props["values"]["scheduler"]["resources"]["requests"]
    for target_cr in cr(cap, "Target"):
        assert cap.depends_on(target_cr, admiralty)


def test_dask_workers_are_elected_and_their_namespace_federated(stack_capture):
    cap = stack_capture("primary")
    workers = cap.one("kubernetes:kubernetes.dask.org/v1:DaskCluster", "dask-cluster").props["spec"]["worker"]
    assert workers["metadata"]["annotations"] == {"multicluster.admiralty.io/elect": ""}
    ns = cap.one("kubernetes:core/v1:Namespace", "dask-ns").props
    assert ns["metadata"]["labels"]["multicluster-scheduler"] == "enabled"


# The source's service account gets what Admiralty needs in its namespace, and nothing else.
ALLOWED = [("create", "podchaperons", "dask", "multicluster.admiralty.io"),
           ("delete", "podchaperons", "dask", "multicluster.admiralty.io"),
           ("create", "secrets", "dask", ""), ("update", "configmaps", "dask", ""), ("get", "services", "dask", ""),
           ("list", "clustersummaries", None, "multicluster.admiralty.io")]
DENIED = [("create", "pods", "dask", ""), ("get", "secrets", "kube-system", ""), ("create", "podchaperons", "default",
          "multicluster.admiralty.io"), ("list", "nodes", None, ""), ("create", "pods/exec", "dask", ""),
          ("create", "clustersummaries", None, "multicluster.admiralty.io"), ("create", "rolebindings", "dask",
          "rbac.authorization.k8s.io"), ("get", "secrets", "admiralty", "")]


@pytest.mark.parametrize(("verb", "resource", "namespace", "group", "allowed"),
                         [(*a, True) for a in ALLOWED] + [(*d, False) for d in DENIED])
def test_source_service_account_rights(stack_capture, verb, resource, namespace, group, allowed):
    rbac = Rbac(manifests(stack_capture("burst")))
    assert rbac.can(SA, verb, resource, namespace, api_group=group) is allowed


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
    values["cloudviper:federation"] = federation
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
     {"onprem": "clusters: [oops"}, "cloudviper:federation.targets[0].kubeconfigSecretValue: the kubeconfig in "
                                    "cloudviper:secretValues.onprem is not YAML"),
    ({"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "science"}]},
     {"onprem": "kind: Config\nclusters: []\n"}, "cloudviper:secretValues.onprem has no clusters"),
    ({"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem", "namespace": "science",
                   "context": "nope"}]}, {"onprem": GOOD_KUBECONFIG}, "has no context 'nope'; contexts: onprem"),
    ({"targets": [{"name": "x", "kind": "external", "kubeconfigSecretValue": "missing", "namespace": "science"}]},
     {}, '"missing" is not in cloudviper:secretValues'),
    ({"targets": [{"name": "x", "kind": "stack", "namespace": "science"}]}, None, "kind stack needs stack:"),
    ({"sources": [{"name": "p", "namespace": "nowhere"}]}, None,
     'cloudviper:federation.sources[0].namespace: "nowhere" is not a namespace of this stack'),
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


def test_a_target_stack_without_our_credential_is_a_clear_error(repo_root, tmp_path):
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.primary.yaml"):
        shutil.copy(repo_root / name, tmp_path / name)
    burst = yaml.safe_load((repo_root / "Pulumi.burst.yaml").read_text())
    burst["config"]["cloudviper:federation"]["sources"] = [{"name": "someone-else", "namespace": "dask"}]
    (tmp_path / "Pulumi.burst.yaml").write_text(yaml.safe_dump(burst))
    result = plan("--stack", "primary", "--project-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "stack organization/cloudviper/burst exports no federation credential for source 'primary'" in result.stderr
    assert "Traceback" not in result.stderr
