"""Custom resources checked against the CRDs we install (infra/documents/crds/<project>/), as the API server would.

The CRDs' schemas are structural, so the API server silently prunes any field they do not name
(and the Dask operator's CRDs embed the Kubernetes 1.21 PodSpec, so newer pod fields vanish):
validation therefore refuses unknown fields too, inside lists as well as maps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_ROOT = Path(__file__).resolve().parent / "crds"


class CustomResourceError(ValueError):
    """An object the CRD would reject or silently prune."""


# libyaml's safe loader when PyYAML was built with it (the wheels are: yaml.__with_libyaml__), the pure-Python one
# otherwise; same documents (tests/test_crd_loading.py), but parsing the 1.7 MB of CRDs in Python was most of a
# plan's own CPU.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # CSafeLoader is no SafeLoader subclass (cyaml.py)


def load_crd(path: Path) -> dict[str, Any]:
    """One CRD file, through a JSON copy kept beside it in __pycache__ (ignored by git, as compiled modules are) and
    named by the file's digest: PyYAML builds the objects in Python even with libyaml, some 0.4 s for the 1.7 MB of
    CRDs a plan reads, json in C in a few hundredths. Written also under PYTHONDONTWRITEBYTECODE, which is about
    compiled modules (and set in many images, this machine's included). Where no copy can be written (a read-only
    checkout), the YAML is read each time."""
    text = path.read_bytes()
    copy = path.parent / "__pycache__" / f"{path.stem}.{hashlib.sha256(text).hexdigest()[:16]}.json"
    try:
        doc: dict[str, Any] = json.loads(copy.read_bytes())
        return doc
    except (OSError, ValueError):
        pass
    doc = yaml.load(text, Loader=YAML_LOADER)
    _keep_copy(doc, copy, path.stem)
    return doc


def _keep_copy(doc: Any, copy: Path, stem: str) -> None:
    """Write the JSON copy, only if JSON gives back the very same document (not with a date, bytes or a set, which
    JSON cannot hold, nor an int key, which it would turn into a string), and remove this file's earlier copies."""
    try:
        encoded = json.dumps(doc)
    except (TypeError, ValueError):
        return
    if json.loads(encoded) != doc:
        return
    mine = re.compile(re.escape(stem) + r"\.[0-9a-f]{16}\.json(\.[0-9]+\.tmp)?")  # not those of `<stem>.v2.yaml`
    try:
        copy.parent.mkdir(exist_ok=True)
        for old in copy.parent.iterdir():  # copies of earlier versions of the file, partial ones a crash left
            if mine.fullmatch(old.name):
                old.unlink(missing_ok=True)
        partial = copy.with_name(f"{copy.name}.{os.getpid()}.tmp")
        partial.write_text(encoded)
        partial.replace(copy)  # whole or not at all, also with several processes at once
    except OSError:
        pass


@cache
def crd_documents(project: str) -> dict[str, dict[str, Any]]:
    """The CRDs of one project folder (admiralty, dask), by kind."""
    docs = {}
    for path in sorted((CRD_ROOT / project).glob("*.yaml")):
        doc = load_crd(path)
        docs[doc["spec"]["names"]["kind"]] = doc
    return docs


@cache
def _crds_by_kind() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for folder in sorted(p for p in CRD_ROOT.iterdir() if p.is_dir()):
        for kind, doc in crd_documents(folder.name).items():
            for version in doc["spec"]["versions"]:
                found[(f"{doc['spec']['group']}/{version['name']}", kind)] = doc
    return found


def crd_for(api_version: str, kind: str) -> dict[str, Any]:
    """The CRD that defines this apiVersion and kind."""
    try:
        return _crds_by_kind()[(api_version, kind)]
    except KeyError:
        raise CustomResourceError(f"{api_version}/{kind} is not a kind we ship a CRD for") from None


def schema_of(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of a kind at a version."""
    doc = crd_for(api_version, kind)
    (version,) = [v for v in doc["spec"]["versions"] if v["name"] == api_version.rsplit("/", 1)[1]]
    return dict(version["schema"]["openAPIV3Schema"])


@cache
def _validator(api_version: str, kind: str) -> Any:
    """A validator of the kind's schema. Not checked against the metaschema here, as jsonschema.validate would on
    every call (jsonschema 4.26.0 validators.py `validate`; 0.5-0.7 s of a plan for the Dask CRDs): the CRDs are
    files of this repository, each schema checked once by tests/test_crd_loading.py."""
    schema = schema_of(api_version, kind)
    return jsonschema.validators.validator_for(schema)(schema)


def unknown_fields(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Paths of the fields a structural schema does not name (the API server would drop them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [f for i, item in enumerate(value) for f in unknown_fields(item, schema["items"], f"{path}[{i}]")]
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):  # a map (MPIJob replica specs)
        return [f for key, item in value.items()
                for f in unknown_fields(item, schema["additionalProperties"], f"{path}.{key}")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    found = []
    for key, child in value.items():
        if key not in schema["properties"]:
            found.append(f"{path}.{key}")
        else:
            found += unknown_fields(child, schema["properties"][key], f"{path}.{key}")
    return found


def validate_custom_resource(obj: dict[str, Any]) -> None:
    """Raise CustomResourceError unless the object fits its CRD (valid, no pruned fields, right scope)."""
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind", ""))
    crd, schema = crd_for(api_version, kind), schema_of(api_version, kind)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    # what jsonschema.validate raises: the best match among the errors (jsonschema 4.26.0 validators.py `validate`)
    exc = jsonschema.exceptions.best_match(_validator(api_version, kind).iter_errors(body))
    if exc is not None:
        raise CustomResourceError(f"{kind} {obj.get('metadata', {}).get('name')}: {exc.message} at "
                                  f"{'/'.join(map(str, exc.absolute_path))}") from None
    unknown = unknown_fields(body, schema, kind)
    if unknown:
        raise CustomResourceError(f"{kind}: {', '.join(unknown)} not in the CRD schema (the API server would drop it)")
    scope = crd["spec"]["scope"]
    if ("namespace" in obj.get("metadata", {})) != (scope == "Namespaced"):
        raise CustomResourceError(f"{kind} is {scope}-scoped; metadata.namespace "
                                  f"{'must' if scope == 'Namespaced' else 'must not'} be set")
