"""Config secrets become Kubernetes Secrets that stay secret in state, outputs and rendered files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.stackfile import StackFile, plain_secret_leaves
from infra.plan.harness import Capture
from infra.plan.program import run_program
from infra.plan.secret_values import secret_paths, unwrap, without_secrets
from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, copy_test_project
from tests.test_plan_cli import plan

SECRETS = {"gridProxy": "-----BEGIN PROXY-----SUPER-SECRET-PROXY-1234", "jupyterToken": "tok-5678-very-secret"}
# JupyterLab's home volume lives in one zone: its pool (here system) gets one node group per zone.
NODE_GROUPS = [{**g, "perZone": True, "maxSize": 3} if g["role"] == "system" else g
               for g in CLUSTER_CONFIG["cloudviper:nodeGroups"] if "role" in g] + \
              [g for g in CLUSTER_CONFIG["cloudviper:nodeGroups"] if "role" not in g]
SECRET_CONFIG = {
    **CLUSTER_CONFIG,
    "cloudviper:nodeGroups": NODE_GROUPS,
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


@pytest.mark.parametrize("kind, name", [("kubernetes:apps/v1:Deployment", "dask-jupyter"),
                                        ("kubernetes:batch/v1:CronJob", "dask-jupyter-culler")])
def test_jupyter_reads_its_token_from_the_secret_as_a_file(secret_capture, kind, name):
    # jupyter_server 2.17 auth/identity.py: the token is read from the file JUPYTER_TOKEN_FILE names.
    obj = secret_capture.one(kind, name).props
    pod = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else \
        obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert "JUPYTER_TOKEN" not in env
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "token"]
    assert env["JUPYTER_TOKEN_FILE"]["value"] == mount["mountPath"] + "/token" and mount["readOnly"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "token"]
    assert volume["secret"] == {"secretName": "jupyter-token", "defaultMode": 0o440}
    assert pod["securityContext"]["fsGroup"] == c["securityContext"]["runAsGroup"]  # the group may read it
    assert SECRETS["jupyterToken"] not in json.dumps(obj)


def test_plain_text_secret_values_are_refused():
    values = full_values()
    with pytest.raises(ConfigError, match="cloudviper:secretValues: is stored in plain text"):
        parse_stack_config("cloudviper", "test", values, secret_keys=set())


def test_a_secret_naming_a_missing_value_is_refused():
    values = full_values()
    values["cloudviper:secrets"] = [{"name": "x", "namespace": "atlas", "values": {"k": "nope"}}]
    with pytest.raises(ConfigError, match=r"cloudviper:secrets\[x\]\.values\.k: \"nope\" is not in cloudviper:secretValues"):
        parse_stack_config("cloudviper", "test", values, secret_keys={"cloudviper:secretValues"})


def secret_stack(project: Path, leaves: dict[str, object]) -> None:
    """Pulumi.sec.yaml: the test dev stack with these secretValues leaves (each `{secure: ...}` or plain text)."""
    doc = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    doc["config"]["cloudviper:secretValues"] = leaves
    (project / "Pulumi.sec.yaml").write_text(yaml.safe_dump(doc))
    shutil.copy(project / "policies" / "config" / "dev.json", project / "policies" / "config" / "sec.json")


def test_a_plain_leaf_next_to_an_encrypted_one_is_refused_by_name_without_echoing_it(tmp_path):
    # What `pulumi config set --secret --path K.a` followed by `pulumi config set --path K.b` (no --secret) writes.
    project = copy_test_project(tmp_path, ("dev",))
    secret_stack(project, {"a": {"secure": "v1:AAAAencrypted"}, "b": "hunter2-plain-credential"})
    result = plan("--stack", "sec", "--project-dir", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("cloudviper:secretValues.b: is stored in plain text in Pulumi.sec.yaml (and so in git: rotate it); set it "
            "encrypted with `pulumi config set --stack sec --secret --path 'cloudviper:secretValues.b' VALUE`"
            ) in result.stderr
    assert "cloudviper:secretValues.a:" not in result.stderr
    assert "hunter2" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_every_leaf_encrypted_plans(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    secret_stack(project, {"a": {"secure": "offline-placeholder"}})  # the README's recipe for the offline plan
    result = plan("--stack", "sec", "--project-dir", str(project))
    assert result.returncode == 0, result.stderr


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True),
                       st.one_of(st.builds(lambda t: {"secure": t}, st.text(max_size=6)), st.text(max_size=6),
                                 st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)),
                       max_size=5))
def test_exactly_the_plain_leaves_are_reported(leaves):
    found = plain_secret_leaves("cloudviper", {"cloudviper:secretValues": leaves, "cloudviper:tags": {"owner": "x"}})
    expected = sorted(f"cloudviper:secretValues.{k}" for k, v in leaves.items()
                      if not (isinstance(v, dict) and set(v) == {"secure"}))
    assert found == expected
    if found:
        with pytest.raises(ConfigError) as info:
            parse_stack_config("cloudviper", "lab", full_values(), {"cloudviper:secretValues"}, found)
        plain = [p for p in info.value.problems if "plain text" in p]
        assert [p.split(": is stored", 1)[0] for p in plain] == found


def test_a_secret_of_the_wrong_shape_is_named_but_never_shown():
    # `pulumi config set --secret --path 'cloudviper:secretValues.db.password' s3cr3t` hands the program a nested map,
    # and a plain `--path` value of digits becomes a number (pulumi sdk/go/common/resource/config/value.go coerceObject)
    values = full_values()
    values["cloudviper:secretValues"] = {**SECRETS, "db": {"password": "s3cr3t-nested"}, "pin": 987654321}
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "test", values, {"cloudviper:secretValues"})
    text = str(info.value)
    assert "cloudviper:secretValues.db: (a secret: its value is not shown) is not allowed: expected a string" in text
    assert "cloudviper:secretValues.pin:" in text
    assert "s3cr3t-nested" not in text and "987654321" not in text
    # the encrypted nested leaf is not mistaken for a plain one
    assert plain_secret_leaves("cloudviper", {"cloudviper:secretValues": {"db": {"password": {"secure": "v1:x"}}}}) == []
