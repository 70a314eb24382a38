"""Every rendered Kubernetes object validates against the upstream schema and passes checkov (or a reviewed skip)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from infra import ROOT
from infra.config.stackfile import load_stack_file
from infra.documents.crd import CustomResourceError, crd_for, validate_custom_resource
from infra.plan.manifests import REDACTED, manifests, write_manifests
from tests.checkov_client import run_checkov
from tests.conftest import capture_in, every_stack

SKIPS = yaml.safe_load((Path(__file__).parent / "checkov_skips.yaml").read_text())


def cluster_version(project: Path, stack: str) -> str:
    return str((load_stack_file(project, stack).values.get("cloudviper:cluster") or {}).get("version", "1.33"))


def shipped_crd(doc: dict) -> bool:
    try:
        crd_for(doc["apiVersion"], doc["kind"])
    except CustomResourceError:
        return False
    return True


@pytest.mark.parametrize(("project", "stack"), every_stack())
def test_every_object_validates_against_the_upstream_schema(project, stack):
    docs = manifests(capture_in(project, stack))
    assert len(docs) >= 20 or project == ROOT  # every test stack has a cluster; an example may have none
    version = cluster_version(project, stack)
    for doc in docs:
        validate_once(json.dumps(doc, sort_keys=True), version)


@functools.cache
def validate_once(text: str, version: str) -> None:
    """Validate one object (as JSON) for a Kubernetes version; the same object in another stack is not re-checked
    (an example stack has its test stack's config)."""
    doc = json.loads(text)
    if shipped_crd(doc):
        validate_custom_resource(doc)  # the pinned charts' CRD schemas, shipped in infra/documents/crds/
    elif is_patch(doc):
        kubernetes_validate.validate(patched_chart_webhook(doc), f"{version}.0", strict=True)
    else:
        kubernetes_validate.validate(doc, f"{version}.0", strict=True)


def is_patch(doc: dict) -> bool:
    """A server-side-apply patch (pulumi_kubernetes *Patch resources): only the fields it owns."""
    return "pulumi.com/patchForce" in (doc.get("metadata", {}).get("annotations") or {})


def patched_chart_webhook(patch: dict) -> dict:
    """The Admiralty chart's MutatingWebhookConfiguration (tests/fixtures/admiralty-0.17.0/webhook.yaml, rendered
    with fullname and namespace "admiralty", debug off) with the patch merged in as the API server would: webhooks are
    a list map keyed by name. A patch naming a webhook the chart does not have fails here."""
    text = (Path(__file__).parent / "fixtures" / "admiralty-0.17.0" / "webhook.yaml").read_text()
    text = re.sub(r"\n *\{\{- if \.Values\.debug\.controllerManager \}\}.*?\{\{- else \}\}", "", text, flags=re.S)
    text = re.sub(r"\n *\{\{- end \}\}", "", text)
    text = text.replace('{{ include "fullname" . }}', "admiralty").replace("{{ .Release.Namespace }}", "admiralty")
    text = text.replace("{{ .Values.webhook.reinvocationPolicy }}", "Never")
    chart = yaml.safe_load("\n".join(line for line in text.splitlines() if "{{" not in line))
    assert patch["kind"] == chart["kind"] and patch["metadata"]["name"] == chart["metadata"]["name"]
    hooks = {h["name"]: h for h in chart["webhooks"]}
    for h in patch["webhooks"]:
        assert h["name"] in hooks, f"the chart has no webhook {h['name']}"
        hooks[h["name"]].update(h)
    return {**chart, "webhooks": list(hooks.values())}


def test_the_schema_validator_rejects_a_broken_object():
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": "two", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.33.0", strict=True)


_SCANNED: dict[str, list[dict]] = {}  # the files' names and bytes -> checkov's failed checks


def checkov_failures(directory: Path) -> list[dict]:
    """The failed checks of checkov's JSON report on `directory` (the CLI, run by tests/checkov_client.py). The
    findings are a function of the files: a folder with the very files of one already scanned in this process (an
    example stack is its test stack's config) gets that scan's findings, whose paths name the first folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory)}\0{path.stat().st_size}\0".encode() + path.read_bytes())
    if digest.hexdigest() not in _SCANNED:
        _SCANNED[digest.hexdigest()] = _scan(directory)
    return _SCANNED[digest.hexdigest()]


def _scan(directory: Path) -> list[dict]:
    binary = os.environ.get("CHECKOV") or shutil.which("checkov")
    assert binary, "checkov is not installed: run `make test` (it creates .venv-checkov)"
    run = run_checkov(binary, ["-d", str(directory), "--framework", "kubernetes", "--skip-download", "--quiet",
                               "-o", "json"])
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"no JSON report ({e}): {run.describe()}") from None
    reports = report if isinstance(report, list) else [report]
    return [f for r in reports for f in r.get("results", {}).get("failed_checks", [])]


def unreviewed(failures: list[dict]) -> list[str]:
    left = []
    for f in failures:
        skip = SKIPS.get(f["check_id"])
        if skip and (not skip.get("resources") or f["resource"] in skip["resources"]):
            continue
        left.append(f"{f['check_id']} {f['resource']}: {f['check_name']}")
    return left


@pytest.mark.parametrize(("project", "stack"), every_stack())
def test_checkov_finds_nothing_unreviewed(project, stack, tmp_path):
    if not write_manifests(capture_in(project, stack), tmp_path):
        return  # a stack without a cluster has no Kubernetes objects
    assert unreviewed(checkov_failures(tmp_path)) == []


def test_jupyterlab_objects_validate_and_pass_checkov(tmp_path):
    # no example stack runs JupyterLab (it needs a token in secretValues): the secrets test config does
    from tests.test_secrets import run_with_secret_keys

    cap = run_with_secret_keys()
    docs = manifests(cap)
    assert {d["metadata"]["name"] for d in docs if d["kind"] in ("Deployment", "CronJob", "PersistentVolumeClaim")} >= {
        "jupyter", "jupyter-culler", "jupyter-home"}
    for doc in docs:
        if not shipped_crd(doc):
            kubernetes_validate.validate(doc, "1.33.0", strict=True)
    write_manifests(cap, tmp_path)
    assert unreviewed(checkov_failures(tmp_path)) == []


def test_every_skip_has_a_reason():
    for check, entry in SKIPS.items():
        assert len(entry.get("reason", "")) > 40, check


def test_checkov_catches_a_privileged_pod(tmp_path):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": "x"},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(pod))
    assert any("CKV_K8S_16" in line for line in unreviewed(checkov_failures(tmp_path)))


def test_rendered_secrets_are_redacted(tmp_path):
    from tests.test_secrets import SECRETS, run_with_secret_keys

    cap = run_with_secret_keys()
    paths = write_manifests(cap, tmp_path)
    text = "".join(p.read_text() for p in paths)
    assert REDACTED in text
    for value in SECRETS.values():
        assert value not in text
