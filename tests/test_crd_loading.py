"""The CRDs we ship are parsed with libyaml's safe loader (infra/documents/crd.py YAML_LOADER): the same documents
as PyYAML's pure-Python safe loader gives, several times faster. Their schemas are valid JSON schemas (the plan's
validator no longer checks them on every use, as jsonschema.validate did)."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from infra.documents.crd import CRD_ROOT, YAML_LOADER, CustomResourceError, crd_documents, validate_custom_resource

FILES = sorted(CRD_ROOT.glob("*/*.yaml"))


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


@pytest.mark.parametrize("project", sorted(p.name for p in CRD_ROOT.iterdir() if p.is_dir()))
def test_every_crd_schema_is_a_valid_json_schema(project):
    for doc in crd_documents(project).values():
        for version in doc["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            jsonschema.validators.validator_for(schema).check_schema(schema)  # raises SchemaError otherwise
