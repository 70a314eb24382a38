"""The CRDs we ship are parsed with libyaml's safe loader (infra/documents/crd.py YAML_LOADER): the same documents
as PyYAML's pure-Python safe loader gives, several times faster, and kept as JSON copies that give the same
documents again. Their schemas are valid JSON schemas (the plan's validator no longer checks them on every use, as
jsonschema.validate did). The components register them through the untyped CustomResource class, and the engine
receives exactly what the typed CustomResourceDefinition class sends."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from google.protobuf import json_format

from components.k8s_objects import CRD_V1BETA1, crds
from infra.documents.crd import (
    CRD_ROOT,
    YAML_LOADER,
    CustomResourceError,
    crd_documents,
    load_crd,
    validate_custom_resource,
)
from infra.plan.harness import RecordingMonitor, evaluate

FILES = sorted(CRD_ROOT.glob("*/*.yaml"))
PROJECTS = sorted(p.name for p in CRD_ROOT.iterdir() if p.is_dir())


def test_the_pinned_pyyaml_wheel_has_libyaml_and_the_plan_uses_it():
    assert yaml.__with_libyaml__ and YAML_LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_libyaml_reads_each_crd_as_the_python_loader_does(path):
    text = path.read_text()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)


def test_a_checked_schema_still_refuses_what_the_crd_refuses():
    # the validator is built once per kind; a second object of the kind is validated, not waved through
    cluster = crd_documents("dask")["DaskCluster"]
    version = cluster["spec"]["versions"][0]["name"]
    api = f"{cluster['spec']['group']}/{version}"
    with pytest.raises(CustomResourceError, match="'spec' is a required property"):
        validate_custom_resource({"apiVersion": api, "kind": "DaskCluster", "metadata": {"name": "a", "namespace": "d"}})
    with pytest.raises(CustomResourceError, match="is not of type 'object'"):
        validate_custom_resource({"apiVersion": api, "kind": "DaskCluster", "metadata": {"name": "b", "namespace": "d"},
                                  "spec": 3})


@pytest.mark.parametrize("project", PROJECTS)
def test_every_crd_schema_is_a_valid_json_schema(project):
    for doc in crd_documents(project).values():
        for version in doc["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            jsonschema.validators.validator_for(schema).check_schema(schema)  # raises SchemaError otherwise


def _requests(register: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every RegisterResourceRequest the program sent to the engine (the mock monitor), as the engine reads it."""
    seen: list[Any] = []
    real = RecordingMonitor.RegisterResource

    def record(self: RecordingMonitor, request: Any) -> Any:
        seen.append(request)
        return real(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", record)
    evaluate(register, project="p", stack="s", config={})
    return [r for r in seen if r.type != "pulumi:pulumi:Stack"]


# Set by the SDK, not by what the program asked for: where in the program the resource was made.
WHERE = ("sourcePosition", "stackTrace")


@pytest.mark.parametrize("project", PROJECTS)
def test_our_crds_reach_the_engine_as_the_typed_crd_class_sends_them(project, monkeypatch):
    # components/k8s_objects.py crds registers CRDs through the untyped CustomResource class (the typed one walks the
    # JSONSchemaProps tree, a quarter of a plan's evaluation): the request must be the one the typed class sends --
    # type token, inputs, alias to the v1beta1 type, provider version -- or a real `pulumi up` would differ.
    def options() -> pulumi.ResourceOptions:  # as the operators' components pass them: parent, cluster provider
        parent = pulumi.ComponentResource("test:index:Operator", "operator")
        provider = k8s.Provider("cluster", kubeconfig="{}", enable_server_side_apply=True, opts=pulumi.ResourceOptions(
            parent=parent))
        return pulumi.ResourceOptions(parent=parent, provider=provider, protect=True)

    def typed() -> None:
        opts = options()
        for kind, doc in crd_documents(project).items():
            k8s.apiextensions.v1.CustomResourceDefinition(f"x-crd-{kind.lower()}", metadata={
                "name": doc["metadata"]["name"]}, spec=doc["spec"], opts=opts)

    theirs = _requests(typed, monkeypatch)
    ours = _requests(lambda: crds("x", project, options()), monkeypatch)
    assert len(ours) == len(theirs) == len(crd_documents(project)) + 2  # and the parent and provider
    for mine, their in zip(ours, theirs, strict=True):
        if mine.type.startswith(("test:", "pulumi:providers:")):
            continue
        assert mine.type == "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
        assert [a.spec.type for a in mine.aliases] == [CRD_V1BETA1]
        assert mine.parent.endswith("::operator") and "::cluster::" in mine.provider
        for field in WHERE:
            mine.ClearField(field)
            their.ClearField(field)
        assert json_format.MessageToDict(mine) == json_format.MessageToDict(their)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_json_copy_of_each_crd_is_the_same_document(path, tmp_path):
    local = tmp_path / path.name
    local.write_bytes(path.read_bytes())
    expected = yaml.safe_load(path.read_text())
    assert load_crd(local) == expected
    (copy,) = (tmp_path / "__pycache__").glob(f"{path.stem}.*.json")
    assert json.loads(copy.read_text()) == expected
    assert load_crd(local) == expected  # now read from the copy


def test_a_crd_copy_follows_its_file_and_is_never_trusted_blindly(tmp_path, monkeypatch):
    local = tmp_path / "crd.yaml"
    local.write_text("spec: {names: {kind: A}}\n")
    assert load_crd(local) == {"spec": {"names": {"kind": "A"}}}
    local.write_text("spec: {names: {kind: B}}\n")  # an edited file: a new copy, the old one removed
    assert load_crd(local) == {"spec": {"names": {"kind": "B"}}}
    (copy,) = (tmp_path / "__pycache__").glob("crd.*.json")
    copy.write_text("{not json")  # a torn or damaged copy: the YAML is read again
    assert load_crd(local) == {"spec": {"names": {"kind": "B"}}}
    numbered = tmp_path / "numbered.yaml"
    numbered.write_text("codes: {200: ok}\n")  # JSON would turn the key into "200": no copy
    assert load_crd(numbered) == {"codes": {200: "ok"}} and not list((tmp_path / "__pycache__").glob("numbered.*"))
    dated = tmp_path / "dated.yaml"
    dated.write_text("example: 2024-01-01\n")  # a date: no JSON for it, no copy, the document as YAML gives it
    assert load_crd(dated) == {"example": datetime.date(2024, 1, 1)}
    assert not list((tmp_path / "__pycache__").glob("dated.*"))
    other = tmp_path / "other.yaml"
    other.write_text("a: 1\n")
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(PermissionError("read-only")))
    assert load_crd(other) == {"a": 1}  # a checkout it cannot write to still plans


def test_a_crd_copy_replaces_its_own_earlier_copies_only(tmp_path):
    (tmp_path / "job.yaml").write_text("kind: A\n")
    (tmp_path / "job.v2.yaml").write_text("kind: B\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    torn = cache / "job.0123456789abcdef.json.999.tmp"  # what a crash in the middle of writing left
    torn.write_text("{")
    assert load_crd(tmp_path / "job.yaml") == {"kind": "A"}
    assert load_crd(tmp_path / "job.v2.yaml") == {"kind": "B"}
    (tmp_path / "job.yaml").write_text("kind: C\n")
    assert load_crd(tmp_path / "job.yaml") == {"kind": "C"}
    names = sorted(p.name for p in cache.iterdir())
    assert len(list(cache.glob("job.v2.*.json"))) == 1  # a sibling's copy survives the other file's new version
    assert len(list(cache.glob("job.????????????????.json"))) == 1 and not torn.exists(), names
