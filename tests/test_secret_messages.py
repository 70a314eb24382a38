"""A secret's value is never in a message, a log record or an exception, whatever shape it was given in.

Secrets are cloudviper:secretValues and every key the stack marks secret (a `secure:` value in the stack file, or the
runtime's secret keys). Pulumi masks only exact secret values in program output, so a value cut to 117 characters
or with its newlines escaped (a PEM, a kubeconfig) would get through: here every output is searched for the value and
for each 12-character run of it (also JSON- and repr-escaped). Runs that a secret shares with boilerplate
("-----BEGIN RSA") are not evidence of a leak: each secret is written twice with different canaries (A, B), and only
the runs of A that B does not have count.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import infra.cli
from infra.cli import main
from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.messages import FRAGMENT
from infra.config.stackfile import StackFile
from infra.plan.program import run_program
from tests.conftest import BASE_CONFIG
from tests.fuzz_runner import OFFLINE_AWS
from tests.git_repo import project_repo

A, B = "Zq7Xw3Lp9Vt2Kd5", "Hm4Rk8Ns1Yd6Pc0"


def pem(c: str) -> str:
    return (f"-----BEGIN RSA PRIVATE KEY-----\nMIIEow{c}AAKCAQEAzq9x1h2/+{c}==\n{c}QQxl{c[::-1]}\n"
            "-----END RSA PRIVATE KEY-----\n")


def kubeconfig(c: str) -> str:
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: cl-{c}\n  cluster: {{server: 'https://{c}.example:6443'}}\n"
            f"users:\n- name: u-{c}\n  user: {{token: tok{c}{c[::-1]}}}\ncontexts:\n- name: ctx-{c}\n"
            f"  context: {{cluster: cl-{c}, user: u-{c}}}\ncurrent-context: ctx-{c}\n")


def token(c: str) -> str:
    return f"ghp_{c}{c[::-1]}"


SECRETS: dict[str, Callable[[str], Any]] = {"pem": pem, "kubeconfig": kubeconfig, "token": token}
# Shapes of cloudviper:secretValues (each a function of the secret), right and wrong.
SHAPES: dict[str, Callable[[Any], Any]] = {
    "a value": lambda s: {"k": s}, "the whole key": lambda s: s, "a list": lambda s: [s], "nested": lambda s: {"a": {"b": s}},
    "next to a number": lambda s: {"a": s, "n": 5}, "a list in a map": lambda s: {"a": [s, s]},
    "secure next to a key": lambda s: {"k": {"secure": s, "x": s}}, "secure holding a list": lambda s: {"k": {"secure": [s]}},
    "secure in a list": lambda s: [{"secure": "v1:x"}, s],
}


def variants(secret: str) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]]


def grams(secret: str) -> set[str]:
    return {v[i:i + FRAGMENT] for v in variants(secret) for i in range(len(v) - FRAGMENT + 1)}


def leaks(text: str, make: Callable[[str], Any]) -> list[str]:
    """The secret (canary A) or 12-character runs of it that are only its own, found in `text`."""
    a, b = str(make(A)), str(make(B))
    found = [v for v in variants(a) if v in text]
    return found + sorted(g for g in grams(a) - grams(b) if g in text)[:5]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


# --- the runtime path: __main__.py under the mock runtime, given decrypted values and the secret keys --------------

def runtime_cases() -> list[tuple[str, str, Callable[[str], dict[str, Any]], str]]:
    cases = [(f"secretValues {shape} ({kind})", kind, (lambda s, f=f, m=m: {"cloudviper:secretValues": f(m(s))}),
              "cloudviper:secretValues") for shape, f in SHAPES.items() for kind, m in SECRETS.items()]
    return [
        *cases,
        ("tags.owner", "pem", lambda s: {"cloudviper:tags": {"owner": pem(s), "costCenter": [pem(s)]}}, "cloudviper:tags"),
        ("network.cidr", "token", lambda s: {"cloudviper:network": {"cidr": token(s)}}, "cloudviper:network"),
        ("network.azs", "token", lambda s: {"cloudviper:network": {"azs": [token(s), token(s)]}}, "cloudviper:network"),
        ("aws:region", "token", lambda s: {"aws:region": token(s)}, "aws:region"),
        ("dask.image", "token", lambda s: {"cloudviper:dask": {"image": token(s), "workers": {"cores": token(s)}}},
         "cloudviper:dask"),
        ("a kubeconfig without the context", "kubeconfig", lambda s: {
            "cloudviper:secretValues": {"onprem": kubeconfig(s).replace(f"current-context: ctx-{s}", "")},
            "cloudviper:namespaces": [{"name": "science"}],
            "cloudviper:federation": {"targets": [{"name": "onprem", "kind": "external", "kubeconfigSecretValue": "onprem",
                                                   "namespace": "science"}]}}, "cloudviper:secretValues"),
    ]


@pytest.mark.parametrize(("name", "kind", "config", "secret_key"), runtime_cases(), ids=[c[0] for c in runtime_cases()])
def test_the_program_never_shows_a_secret(caplog, capsys, name, kind, config, secret_key):
    caplog.set_level(logging.DEBUG)
    values = {**BASE_CONFIG, **config(A)}
    try:
        run_program(StackFile(project="cloudviper", stack="test", values=values, secret_keys=[secret_key]))
        error = ""
    except ConfigError as exc:  # most cases are configs the check refuses; "a value" is a good one
        error = f"{exc}\n{exc!r}\n{exc.problems}"
    out, err = capsys.readouterr()
    text = "\n".join([error, out, err, logged(caplog)])
    assert leaks(text, SECRETS[kind]) == [], text
    assert error or name.startswith("secretValues a value"), name


def test_the_check_can_see_a_leak():
    assert leaks(f"cloudviper:tags.owner: {json.dumps(pem(A))[:117]}...", pem)
    assert not leaks(f"cloudviper:tags.owner: {json.dumps(pem(B))[:117]}...", pem)


# --- the offline path: a stack file with plain text where secrets go, through every subcommand that reads it -------

@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secrets") / "project"
    project_repo(folder)
    shutil.copy(folder / "policies" / "config" / "dev.json", folder / "policies" / "config" / "sec.json")
    (folder.parent / "data.txt").write_text("x")
    return folder


def write_stack(repo: Path, config: dict[str, Any]) -> None:
    doc = yaml.safe_load((repo / "Pulumi.dev.yaml").read_text())
    doc["config"].update(config)
    (repo / "Pulumi.sec.yaml").write_text(yaml.safe_dump(doc))


def stack_commands(repo: Path, with_diff: bool) -> list[list[str]]:
    p = str(repo)
    found = [["plan", "--stack", "sec", "--project-dir", p], ["plan", "--stack", "sec", "--json", "--project-dir", p],
             ["plan", "--stack", "sec", "--markdown", "--project-dir", p],
             ["preflight", "--stack", "sec", "--offline", "--project-dir", p], ["stacks", "--project-dir", p],
             ["image-push-policy", "--stack", "sec", "--account", "123456789012", "--project-dir", p],
             ["data", "upload", str(repo.parent / "data.txt"), "--bucket", "data", "--stack", "sec", "--project-dir", p]]
    return found + ([["diff", "--base", "HEAD", "--stack", "sec"]] if with_diff else [])


def file_cases() -> list[tuple[str, str, Callable[[str], dict[str, Any]]]]:
    cases = [(f"secretValues {shape} ({kind})", kind, (lambda s, f=f, m=m: {"cloudviper:secretValues": f(m(s))}))
             for shape, f in SHAPES.items() for kind, m in SECRETS.items()]
    return [
        *cases,
        ("secure next to the owner", "pem", lambda s: {"cloudviper:tags": {"owner": {"secure": pem(s), "x": pem(s)},
                                                                             "costCenter": "cc"}}),
        ("secure in the cidr", "token", lambda s: {"cloudviper:network": {"cidr": {"secure": [token(s)]}}}),
    ]


@pytest.mark.parametrize(("name", "kind", "config"), file_cases(), ids=[c[0] for c in file_cases()])
def test_no_subcommand_shows_a_secret_written_in_the_stack_file(repo, monkeypatch, caplog, capsys, name, kind, config):
    for key, value in OFFLINE_AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(infra.cli, "ROOT", repo)  # diff compares this repository's HEAD with its working tree
    caplog.set_level(logging.DEBUG)
    write_stack(repo, config(A))
    for argv in stack_commands(repo, with_diff=name.startswith("secretValues a list (")):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        text = "\n".join([out, err, logged(caplog)])
        assert leaks(text, SECRETS[kind]) == [], (argv, text)
        assert "Traceback" not in text, argv
        assert code == 2 or argv[0] == "stacks", (argv, code, out, err)  # each one refuses the stack
        caplog.clear()


KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    server: https://ABCDEF0123.gr7.us-east-1.eks.amazonaws.com
  name: arn:aws:eks:us-east-1:123456789012:cluster/cloudviper-prod
contexts:
- context: {cluster: arn:aws:eks:us-east-1:123456789012:cluster/cloudviper-prod, user: robot}
  name: arn:aws:eks:us-east-1:123456789012:cluster/cloudviper-prod
current-context: arn:aws:eks:us-east-1:123456789012:cluster/cloudviper-prod
kind: Config
users:
- name: robot
  user: {token: k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5}
"""


def test_a_kubeconfig_in_secret_values_hides_its_token_but_not_ordinary_text():
    # The federation set-up keeps a kubeconfig in secretValues: its structure, the cluster's name and the account id
    # are ordinary text that messages quote for other reasons; only what the rest of the config does not say is hidden.
    raw = {**BASE_CONFIG, "aws:region": "us-east-1", "cloudviper:secretValues": {"prod": KUBECONFIG},
           "cloudviper:buckets": [{"name": "data", "bucketName": "cloudviper-prod-data-123456789012-" + "x" * 40}]}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("cloudviper", "prod", raw, {"cloudviper:secretValues"})
    text = str(exc.value)
    assert "cloudviper-prod-data-123456789012-" in text and "(a secret" not in text, text
    from infra.config.messages import Redactor

    redact = Redactor([KUBECONFIG], ["cloudviper", "prod", "cloudviper-prod"])
    for ordinary in ("arn:aws:iam::123456789012:role/x is not allowed", "the current-context of the cluster",
                     'cloudviper:cluster.name: "cloudviper-prod" is already used'):
        assert redact(ordinary) == ordinary
    leaked = "token k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8 in a message"
    assert "aHR0cHM6Ly9zdHMu" not in redact(leaked) and "(a secret: its value is not shown)" in redact(leaked)
