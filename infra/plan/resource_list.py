"""Every resource of a plan as a comparable record: URN, type, name, parent, options and inputs.

Inputs are shown as the engine would store them, with two changes:
- secrets become "[secret]" (or, while `python -m infra diff` runs, "[secret:<keyed digest>]": the key is a
  random value the diff makes up for one run and never writes down, so two plans can tell a changed secret
  from an unchanged one and no one can recover the value);
- values the cloud invents only when it creates a resource (ids, ARNs, endpoints, generated names) become
  `${Type.name.output}`, like Terraform's "(known after apply)". The mock runtime makes such values up from
  a digest of the resource's type and name (infra/plan/mocks.py mock_digest), which is how they are found.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from typing import Any, Optional

from infra.plan.harness import Capture, CapturedResource
from infra.plan.mocks import mock_digest
from infra.plan.secret_values import is_secret_value, unwrap

SECRET_MASK = "[secret]"
SECRET_KEY_ENV = "CLOUDVIPER_SECRET_DIGEST_KEY"  # set by `infra diff` for its two plans, never stored
_HEX_RUN = re.compile(r"[0-9a-fA-F]{12,}")
_KEY = 12  # KMS key ids carry only the digest's first 12 digits


def component_label(capture: Capture, res: CapturedResource) -> str:
    """`name (type)` of the outermost component holding the resource; "providers" or "stack" outside any."""
    comp = capture.component_of(res)
    if comp is None:
        return "providers" if res.type.startswith("pulumi:providers:") else "stack"
    return f"{comp.name} ({comp.type})"


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def invented_values(capture: Capture) -> dict[str, list[tuple[str, str]]]:
    """Digest prefix -> (value, reference) for every output the mocks invented, longest value first."""
    index: dict[str, list[tuple[str, str]]] = {}
    for r in capture.resources:
        digest = mock_digest(r.type, r.name)[:_KEY]
        given = {s for _, s in _strings(unwrap(r.inputs), "")}
        short = r.type.rsplit(":", 1)[-1]
        found: dict[str, str] = {}  # value -> the one reference shown for it ("id" first, then by name)
        for path, s in sorted(_strings(unwrap(r.outputs), ""), key=lambda ps: (ps[0] != "id", ps[0])):
            if s not in given and digest in s.lower():
                found.setdefault(s, f"${{{short}.{r.name}.{path}}}")
        if found:
            index[digest] = sorted(found.items(), key=lambda f: (-len(f[0]), f[0]))
    return index


def _secret(value: Any) -> str:
    key = os.environ.get(SECRET_KEY_ENV)
    if not key:
        return SECRET_MASK
    mac = hmac.new(key.encode(), repr(unwrap(value)).encode(), hashlib.sha256).hexdigest()[:16]
    return f"[secret:{mac}]"


def _mark(text: str, index: dict[str, list[tuple[str, str]]]) -> str:
    hits: list[tuple[str, str]] = []
    for run in _HEX_RUN.findall(text):
        low = run.lower()
        for i in range(len(low) - _KEY + 1):
            hits += index.get(low[i:i + _KEY], [])
    for value, ref in sorted(set(hits), key=lambda h: (-len(h[0]), h[0])):
        text = text.replace(value, ref)
    return text


def shown(value: Any, index: dict[str, list[tuple[str, str]]]) -> Any:
    """A captured input as the report shows it: secrets masked, invented values as references."""
    if is_secret_value(value):
        return _secret(value)
    if isinstance(value, dict):
        return {k: shown(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v, index) for v in value]
    if isinstance(value, str):
        return _mark(value, index)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; 3.0 replicas read better as 3
    return value


def _options(r: CapturedResource) -> dict[str, Any]:
    opts: dict[str, Any] = {"protect": r.protect, "retainOnDelete": r.retain_on_delete,
                            "deleteBeforeReplace": r.delete_before_replace}
    if r.replace_on_changes:
        opts["replaceOnChanges"] = sorted(r.replace_on_changes)
    if r.ignore_changes:
        opts["ignoreChanges"] = sorted(r.ignore_changes)
    if r.alias_names or r.alias_parents:
        opts["aliases"] = sorted({*r.alias_names, *r.alias_parents})
    if r.import_id:
        opts["import"] = r.import_id
    return opts


def graph_entries(capture: Capture) -> list[dict[str, Any]]:
    """Records without inputs: enough for the stack diagram (infra/plan/diagram.py)."""
    return [{"urn": r.urn, "custom": r.custom, "component": component_label(capture, r),
             "dependencies": sorted({*r.dependencies, *(u for us in r.property_dependencies.values() for u in us)})}
            for r in by_urn(capture)]


def by_urn(capture: Capture) -> list[CapturedResource]:
    """The resources sorted by URN: registration order varies from run to run (the mock monitor registers from a
    thread pool), and a report must not."""
    return sorted(capture.resources, key=lambda r: r.urn)


def resource_entries(capture: Capture, index: Optional[dict[str, list[tuple[str, str]]]] = None) -> list[dict[str, Any]]:
    """One record per registered resource (components too), by URN."""
    index = invented_values(capture) if index is None else index
    entries = []
    for r in by_urn(capture):
        deps = sorted({*r.dependencies, *(u for us in r.property_dependencies.values() for u in us)})
        entries.append({
            "urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom,
            "component": component_label(capture, r), "provider": r.provider_urn, "dependencies": deps,
            "options": _options(r), "inputs": shown(r.inputs, index),
        })
    return entries
