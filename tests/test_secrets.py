"""Config secrets become Kubernetes Secrets that stay secret in state, outputs and rendered files."""

from __future__ import annotations

import json

import pytest

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.stackfile import StackFile
from infra.plan.harness import Capture
from infra.plan.program import run_program
from infra.plan.secret_values import secret_paths, unwrap, without_secrets
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG

SECRETS = {"gridProxy": "-----BEGIN PROXY-----SUPER-SECRET-PROXY-1234", "jupyterToken": "tok-5678-very-secret"}
SECRET_CONFIG = {
    **CLUSTER_CONFIG,
    "namespaces": [{"name": "atlas"}],
    "secrets": [{"name": "grid-proxy", "namespace": "atlas", "values": {"x509up": "gridProxy"}}],
    "dask": {"jupyter": {"enabled": True, "cpu": "500m", "memory": "1Gi"}, "schedulerCpu": "500m",
             "schedulerMemory": "1Gi", "workers": {"cores": 1, "memory": "2Gi"}},
    "secretValues": SECRETS,
}


def full_values() -> dict:
    return {**BASE_CONFIG, **{k if ":" in k else f"cloudviper:{k}": v for k, v in SECRET_CONFIG.items()}}


def run_with_secret_keys() -> Capture:
    values = full_values()
    return run_program(StackFile(project="cloudviper", stack="test", values=values,
                                 secret_keys=["cloudviper:secretValues"]))


@pytest.fixture(scope="module")
def secret_capture() -> Capture:
    return run_with_secret_keys()


def test_secret_values_reach_kubernetes_secrets_as_secrets(secret_capture):
    secret = secret_capture.one("kubernetes:core/v1:Secret", "secrets-atlas-grid-proxy")
    assert "stringData" in secret_paths(secret.inputs)
    assert unwrap(secret.inputs)["stringData"] == {"x509up": SECRETS["gridProxy"]}
    token = secret_capture.one("kubernetes:core/v1:Secret", "dask-jupyter-token")
    assert unwrap(token.inputs)["stringData"] == {"token": SECRETS["jupyterToken"]}
    assert "stringData" in secret_paths(token.inputs)


def test_no_secret_value_is_stored_in_plain_text(secret_capture):
    plain = json.dumps([without_secrets(r.inputs) for r in secret_capture.resources] +
                       [without_secrets(r.outputs) for r in secret_capture.resources])
    plain += json.dumps({k: v.value for k, v in secret_capture.outputs.items() if not v.secret})
    for value in SECRETS.values():
        assert value not in plain
    # and the check can fail: the value is in the capture, only behind secret markers
    assert SECRETS["gridProxy"] in json.dumps([unwrap(r.inputs) for r in secret_capture.resources])


def test_jupyter_reads_its_token_from_the_secret(secret_capture):
    deploy = secret_capture.one("kubernetes:apps/v1:Deployment", "dask-jupyter").props
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["JUPYTER_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "jupyter-token", "key": "token"}
    assert SECRETS["jupyterToken"] not in json.dumps(deploy)


def test_plain_text_secret_values_are_refused():
    values = full_values()
    with pytest.raises(ConfigError, match="cloudviper:secretValues: is stored in plain text"):
        parse_stack_config("cloudviper", "test", values, secret_keys=set())


def test_a_secret_naming_a_missing_value_is_refused():
    values = full_values()
    values["cloudviper:secrets"] = [{"name": "x", "namespace": "atlas", "values": {"k": "nope"}}]
    with pytest.raises(ConfigError, match=r"cloudviper:secrets\[0\]\.values\.k: \"nope\" is not in cloudviper:secretValues"):
        parse_stack_config("cloudviper", "test", values, secret_keys={"cloudviper:secretValues"})
