"""Arkouda: ordered start-up and teardown, SSH key secret end to end, least-privilege RBAC, config errors."""

from __future__ import annotations

import copy
import json

import pytest

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.documents.rbac import Rbac, Subject
from infra.plan.manifests import manifests
from infra.plan.secret_values import is_secret_value, secret_paths, unwrap, without_secrets
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, run_config

SERVER = Subject("ServiceAccount", "arkouda-server", "arkouda")


def test_server_is_created_after_and_deleted_before_the_locales(stack_capture):
    cap = stack_capture("arkouda")
    server = cap.one("kubernetes:apps/v1:Deployment", "arkouda-server")
    locales = cap.one("kubernetes:apps/v1:StatefulSet", "arkouda-locales")
    headless = cap.one("kubernetes:core/v1:Service", "arkouda-locales")
    assert cap.depends_on(server, locales) and cap.depends_on(server, headless)
    assert not cap.depends_on(locales, server)
    assert locales.props["spec"]["replicas"] == 3  # locales 1..3; the server is locale 0
    env = {e["name"]: e.get("value") for e in server.props["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NUMLOCALES"] == "4" and env["CHPL_RT_NUM_THREADS_PER_LOCALE"] == "7"
    # the server also waits for its Role binding: discovery is its first API call
    assert cap.depends_on(server, cap.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "arkouda-server-rb"))


def test_locales_get_their_own_encrypted_ebs_volume(stack_capture):
    cap = stack_capture("arkouda")
    locales = cap.one("kubernetes:apps/v1:StatefulSet", "arkouda-locales").props
    (claim,) = locales["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "gp3-encrypted" and claim["spec"]["resources"]["requests"]["storage"] == "200Gi"
    sc = cap.one("kubernetes:storage.k8s.io/v1:StorageClass").props
    assert {k: sc["parameters"][k] for k in ("type", "encrypted")} == {"type": "gp3", "encrypted": "true"}
    assert sc["provisioner"] == "ebs.csi.aws.com" and sc["parameters"]["tagSpecification_5"] == "stack=arkouda"
    assert cap.one("aws:eks/addon:Addon", "eks-aws-ebs-csi-driver").props["serviceAccountRoleArn"]


def test_no_privileged_or_host_access(stack_capture):
    for doc in manifests(stack_capture("arkouda")):
        if doc["kind"] in ("Deployment", "StatefulSet"):
            spec = doc["spec"]["template"]["spec"]
            assert not spec.get("hostNetwork") and not spec.get("hostPID")
            assert not any("hostPath" in v for v in spec.get("volumes", []))
            for c in spec["containers"]:
                assert not c.get("securityContext", {}).get("privileged")
                assert not any("hostPort" in p for p in c.get("ports", []))


def test_the_ssh_private_key_is_never_plain_text(stack_capture):
    cap = stack_capture("arkouda")
    key = cap.one("tls:index/privateKey:PrivateKey")
    assert {"privateKeyOpenssh", "privateKeyPem"} <= set(key.additional_secret_outputs)
    private = key.outputs["privateKeyOpenssh"]
    secret = cap.one("kubernetes:core/v1:Secret", "arkouda-ssh")
    assert is_secret_value(secret.inputs["stringData"]) and unwrap(secret.inputs)["stringData"]["id_rsa"] == private
    plain = json.dumps([without_secrets(r.inputs) for r in cap.resources if r is not key] +
                       [without_secrets(r.outputs) for r in cap.resources if r is not key] +
                       [o.value for o in cap.outputs.values() if not o.secret])
    assert private not in plain and "MOCK" + key.id.split("-")[-1] not in plain
    assert "stringData" in secret_paths(secret.inputs)


@pytest.mark.parametrize(("verb", "resource", "namespace", "name", "allowed"), [
    ("list", "pods", "arkouda", None, True),  # discovery: pods.py -> KubernetesDao.get_pods -> list_namespaced_pod
    ("watch", "pods", "arkouda", None, False),
    ("create", "services", "arkouda", None, False),  # the stack owns the Services; no self-registration
    ("create", "endpoints", "arkouda", None, False),
    ("update", "services", "arkouda", "arkouda-server", False),
    ("delete", "services", "arkouda", "arkouda-server", False),
    ("delete", "endpoints", "arkouda", "arkouda-server-metrics", False),
    ("get", "secrets", "arkouda", None, False),
    ("list", "pods", "default", None, False),
    ("create", "services", "kube-system", None, False),
    ("delete", "pods", "arkouda", None, False),
    ("create", "pods/exec", "arkouda", None, False),
])
def test_server_rbac(stack_capture, verb, resource, namespace, name, allowed):
    rbac = Rbac(manifests(stack_capture("arkouda")))
    assert rbac.can(SERVER, verb, resource, namespace, name=name) is allowed
    assert not rbac.can(Subject("ServiceAccount", "arkouda-locale", "arkouda"), "list", "pods", "arkouda")


def test_no_binding_to_cluster_admin(stack_capture):
    for doc in manifests(stack_capture("arkouda")):
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding") and doc["metadata"].get("namespace") == "arkouda":
            assert doc["roleRef"]["name"] != "cluster-admin"


def arkouda_values(**ak):
    values = {**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(CLUSTER_CONFIG)}
    values["cloudviper:nodeGroups"] = [*values["cloudviper:nodeGroups"],
                                       {"name": "mem", "role": "compute", "instanceTypes": ["r5.2xlarge"], "maxSize": 4, "spot": False}]
    values["cloudviper:arkouda"] = ak
    return values


@pytest.mark.parametrize(("ak", "message"), [
    ({"locales": 0}, "cloudviper:arkouda.locales: 0 is not allowed: expected greater than or equal to 1"),
    ({"threadsPerLocale": 16}, "cloudviper:arkouda.threadsPerLocale: 16 cores / 16Gi per locale is more than a node of pool mem"),
    ({"memoryPerLocale": "80Gi"}, "per locale is more than a node of pool mem"),
    ({"pool": "nope"}, 'cloudviper:arkouda.pool: "nope" is not a node group'),
    ({"locales": 8}, "cloudviper:arkouda.locales: 8 locales need 8 nodes, but pool mem has maxSize 4"),
])
def test_arkouda_config_errors(ak, message):
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "test", arkouda_values(**ak))
    assert message in str(info.value)


def test_s3_persistence_uses_irsa_limited_to_the_stack_buckets():
    cap = run_config(arkouda_values(persistence={"kind": "s3"}))
    for sa in ("arkouda-arkouda-server", "arkouda-arkouda-locale"):
        policy = json.loads(cap.one("aws:iam/rolePolicy:RolePolicy", f"{sa}-irsa").props["policy"])
        resources = {r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
        bucket = cap.one("aws:s3/bucket:Bucket").outputs["arn"]
        assert {bucket, f"{bucket}/*"} <= resources and "*" not in resources
    assert not cap.of_type("kubernetes:storage.k8s.io/v1:StorageClass")


def test_the_client_token_is_secret_end_to_end(stack_capture):
    cap = stack_capture("arkouda")
    password = cap.one("random:index/randomPassword:RandomPassword")
    assert "result" in password.additional_secret_outputs and password.props["special"] is False
    token = password.outputs["result"]
    secret = cap.one("kubernetes:core/v1:Secret", "arkouda-token")
    assert is_secret_value(secret.inputs["stringData"]) and unwrap(secret.inputs)["stringData"] == {"token": token}
    assert cap.outputs["arkoudaToken"].secret and cap.outputs["arkoudaToken"].value == token
    for kind, name in (("Deployment", "arkouda-server"), ("StatefulSet", "arkouda-locales")):
        pod = cap.one(f"kubernetes:apps/v1:{kind}", name).props["spec"]["template"]
        # a file in every pod (locale 0 may be any of them), never an environment variable (ssh command lines)
        assert {"name": "token", "secret": {"secretName": "arkouda-token", "defaultMode": 0o400}} in pod["spec"]["volumes"]
        assert not [e for e in pod["spec"]["containers"][0].get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
        assert len(pod["metadata"]["annotations"]["cloudviper.io/token-digest"]) == 16  # a digest, not the token
    plain = json.dumps([without_secrets(r.inputs) for r in cap.resources if r is not password] +
                       [without_secrets(r.outputs) for r in cap.resources if r is not password] +
                       [o.value for o in cap.outputs.values() if not o.secret])
    assert token not in plain


def test_jupyter_reaches_arkouda_with_a_mounted_token():
    from tests.test_jupyter import run_config as run_with_secrets
    from tests.test_secrets import full_values

    values = full_values()
    values["cloudviper:nodeGroups"] = [*values["cloudviper:nodeGroups"], {
        "name": "mem", "role": "compute", "instanceTypes": ["r5.2xlarge"], "maxSize": 4, "spot": False}]
    values["cloudviper:arkouda"] = {"locales": 2}
    cap = run_with_secrets(values)
    copy = cap.one("kubernetes:core/v1:Secret", "arkouda-client")
    assert copy.props["metadata"]["namespace"] == "dask" and is_secret_value(copy.inputs["stringData"])
    assert cap.depends_on(copy, cap.one("cloudviper:k8s:DaskCluster"))
    pod = cap.one("kubernetes:apps/v1:Deployment", "dask-jupyter").props["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e}
    assert env["ARKOUDA_SERVER"] == "arkouda-server.arkouda.svc.cluster.local" and env["ARKOUDA_PORT"] == "5555"
    mount = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}[env["ARKOUDA_TOKEN_FILE"].rsplit("/", 1)[0]]
    (vol,) = [v for v in pod["volumes"] if v["name"] == mount]
    # optional: JupyterLab starts before Arkouda has made the Secret; the kubelet fills the volume later
    assert vol["secret"] == {"secretName": "arkouda-client", "defaultMode": 0o440, "optional": True}
    # and the client port admits the notebook's namespace (ssh and GASNet stay inside Arkouda's)
    policy = cap.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "arkouda-ingress").props["spec"]
    assert policy["ingress"] == [{"from": [{"podSelector": {}}]}, {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dask"}}}],
        "ports": [{"protocol": "TCP", "port": 5555}]}]
