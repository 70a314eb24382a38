"""Compare two plans of one stack (the JSON of `python -m infra plan --json`): pure, no git, no Pulumi.

Resources are matched by URN (and by the old names a resource lists as aliases); inputs are compared
as the plan shows them (secrets masked, values known only after apply as `${Type.name.output}`).
An update becomes a replacement when a changed input is one the provider cannot change in place
(infra/plan/replacement.py); deleting or replacing a data-bearing resource is flagged, and when the
resource is not retained (retainOnDelete) the data goes with it: exit EXIT_DATA_LOSS. So does a kept data bucket
that the head's config leaves behind without saying so (renamed or removed, not `retired`): its data stays in AWS
but the stack's workloads get a new, empty bucket (components/storage.py).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from components.storage import COMPONENT_TYPE, RETIRED_KEY
from infra.plan.replacement import DATA_BEARING, forces_replacement
from infra.plan.resource_list import SECRET_MASK

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_POLICY, EXIT_DATA_LOSS = 0, 1, 2, 3, 4
SHOW_CHARS = 160
SECRET_DIGEST = re.compile(r"\[secret:[0-9a-f]{16}\]")  # infra/plan/resource_list.py _secret


@dataclass
class Change:
    """One changed input: its path, old and new value (None: absent)."""

    path: str
    old: Any
    new: Any


@dataclass
class ResourceChange:
    """What happens to one resource: add, remove, update or replace."""

    action: str
    urn: str
    type: str
    name: str
    component: str
    changes: list[Change] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)  # the inputs that force replacement
    data: str = ""  # for data-bearing resources that are removed or replaced: what happens to the data
    destroys_data: bool = False
    orphans_data: bool = False  # a kept data bucket is left behind without the config saying so


@dataclass
class StackDiff:
    """The difference between the base and the head plan of one stack."""

    stack: str
    base_error: Optional[dict[str, Any]] = None
    head_error: Optional[dict[str, Any]] = None
    resources: list[ResourceChange] = field(default_factory=list)
    cost: dict[str, tuple[float, float]] = field(default_factory=dict)  # scale -> (base, head) $/hour
    policy_new: list[dict[str, Any]] = field(default_factory=list)
    policy_gone: list[dict[str, Any]] = field(default_factory=list)
    head_cost: dict[str, float] = field(default_factory=dict)  # the head's own $/hour per scale
    head_mandatory: int = 0
    base_missing: bool = False  # the stack has no file in the base revision
    head_missing: bool = False  # ... or in the working tree

    def count(self, action: str) -> int:
        """How many resources get this action."""
        return sum(1 for r in self.resources if r.action == action)

    @property
    def exit_code(self) -> int:
        """4 destroys data, 2/1 the head does not plan, 3 a mandatory violation in the head, else 0."""
        if any(r.destroys_data or r.orphans_data for r in self.resources):
            return EXIT_DATA_LOSS
        return self.exit_code_ignoring_data_loss

    @property
    def exit_code_ignoring_data_loss(self) -> int:
        """The exit code when destroying data is accepted (the `allow-data-loss` label)."""
        if self.head_error:
            return int(self.head_error.get("exitCode", EXIT_CONFIG)) or EXIT_CONFIG
        return EXIT_POLICY if self.head_mandatory else EXIT_OK


def compact(value: Any) -> str:
    """A value on one short line."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= SHOW_CHARS else f"{text[:SHOW_CHARS - 20]}... ({len(text)} chars)"


def _as_json(text: str) -> Any:
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return None
    return None


def input_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """Leaf-level differences between two input trees (JSON documents inside strings are compared as JSON)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Change] = []
        for key in sorted(set(old) | set(new), key=str):
            found += input_changes(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in input_changes(a, b, f"{path}[{i}]")]
    if isinstance(old, str) and isinstance(new, str):
        a, b = _as_json(old), _as_json(new)
        if a is not None and b is not None:
            return input_changes(a, b, path)
    return [Change(path or ".", _masked(old), _masked(new))]


def _masked(value: Any) -> Any:
    """The value as reports show it: a secret's keyed digest (only there to tell changed from unchanged) is
    `[secret]` again, so no digest leaves the comparison."""
    if isinstance(value, str):
        return SECRET_MASK if SECRET_DIGEST.fullmatch(value) else value
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def text_delta(old: str, new: str, lines: int = 12) -> list[str]:
    """The changed lines of a multi-line value (+/-), at most `lines`."""
    out = [ln for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
           if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return out[:lines] + ([f"... {len(out) - lines} more changed lines"] if len(out) > lines else [])


def _by_urn(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in doc.get("resources", []) if r.get("custom")}


def _alias_urns(res: dict[str, Any]) -> list[str]:
    """URNs the resource had before, from its aliases: old names (same parent), old parents (given as their URNs:
    the old URN is the old parent's type chain, then this type), or both."""
    aliases = res.get("options", {}).get("aliases", [])
    head, _, name = res["urn"].rpartition("::")
    prefix, typ = "::".join(head.split("::")[:2]), head.rsplit("$", 1)[-1].rsplit("::", 1)[-1]
    names = [name, *[a for a in aliases if not a.startswith("urn:")]]
    found = [f"{head}::{n}" for n in names[1:]]
    for parent in (a for a in aliases if a.startswith("urn:")):
        chain = parent.split("::")[2] if parent.count("::") >= 3 else ""
        found += [f"{prefix}::{chain}${typ}::{n}" if chain else f"{prefix}::{typ}::{n}" for n in names]
    return found


def _ignored(path: str, ignore: list[str]) -> bool:
    """Whether a changed path is under one of the resource's ignoreChanges paths (the engine drops those)."""
    return any(path == p or path.startswith((p + ".", p + "[")) for p in ignore)


PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def retained_classes(doc: dict[str, Any]) -> set[str]:
    """StorageClasses with reclaimPolicy Retain: deleting a claim of theirs keeps the volume."""
    return {str((r.get("inputs", {}).get("metadata") or {}).get("name")) for r in doc.get("resources", [])
            if r.get("type") == "kubernetes:storage.k8s.io/v1:StorageClass" and r.get("inputs", {}).get("reclaimPolicy") == "Retain"}


def _data_fate(res: dict[str, Any], action: str, retained: set[str]) -> tuple[str, bool]:
    """What a delete or replacement does to a data-bearing resource's data, and whether it is destroyed."""
    what = DATA_BEARING.get(res["type"])
    if what is None:
        return "", False
    verb = "replaced (a new, empty one is created)" if action == "replace" else "deleted"
    if res.get("options", {}).get("retainOnDelete"):
        return (f"{what}: {verb}; the old one is retained (retainOnDelete): it stays in AWS with its data, "
                "but this stack no longer manages or uses it"), False
    if res["type"] == PVC and ((res.get("inputs") or {}).get("spec") or {}).get("storageClassName") in retained:
        return (f"{what}: {verb}; its StorageClass has reclaimPolicy Retain, so the EBS volume and its data stay in "
                "AWS, released and no longer mounted"), False
    return f"{what}: {verb}; NOT retained, so its data is destroyed", True


BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ORPHANED = ("; and the config does not say so: keep the bucket's name and bucketName, take it over with renamedFrom "
            "(same S3 bucket, new name) or leave it with `retired: true` (README 'Renaming or retiring a kept bucket')")


def retired_buckets(doc: dict[str, Any]) -> set[str]:
    """Resource names of the data buckets the plan's config retires (the DataBuckets component's RETIRED_KEY)."""
    return {f"{r.get('name')}-{n}" for r in doc.get("resources", []) if r.get("type") == COMPONENT_TYPE
            for n in (r.get("inputs") or {}).get(RETIRED_KEY) or []}


def _orphans(res: dict[str, Any], action: str, retired: frozenset[str]) -> bool:
    """A kept data bucket replaced, or removed without being retired: its data stays, the stack moves off it."""
    return (res["type"] in BUCKETS and f"{COMPONENT_TYPE}$" in res["urn"]
            and bool(res.get("options", {}).get("retainOnDelete"))
            and (action == "replace" or (action == "remove" and res["name"] not in retired)))


def _resource_change(action: str, res: dict[str, Any], changes: Optional[list[Change]] = None,
                     because: Optional[list[str]] = None, retained: frozenset[str] = frozenset(),
                     retired: frozenset[str] = frozenset()) -> ResourceChange:
    fate, destroys = _data_fate(res, action, set(retained)) if action in ("remove", "replace") else ("", False)
    orphans = _orphans(res, action, retired)
    return ResourceChange(action=action, urn=res["urn"], type=res["type"], name=res["name"],
                          component=res.get("component", ""), changes=changes or [], replace_because=because or [],
                          data=fate + (ORPHANED if orphans else ""), destroys_data=destroys, orphans_data=orphans)


def resource_changes(base: dict[str, Any], head: dict[str, Any]) -> list[ResourceChange]:
    """Added, removed, updated and replaced custom resources."""
    old, new = _by_urn(base), _by_urn(head)
    retained, retired = frozenset(retained_classes(base)), frozenset(retired_buckets(head))
    out: list[ResourceChange] = []
    matched: set[str] = set()
    for urn, res in new.items():
        prior = old.get(urn) or next((old[a] for a in _alias_urns(res) if a in old), None)
        if prior is None:
            out.append(_resource_change("add", res))
            continue
        matched.add(prior["urn"])
        ignore = list(res.get("options", {}).get("ignoreChanges", []))
        changes = [c for c in input_changes(prior.get("inputs"), res.get("inputs")) if not _ignored(c.path, ignore)]
        if not changes:
            continue
        because = forces_replacement(res, [c.path for c in changes], prior.get("inputs"))
        out.append(_resource_change("replace" if because else "update", prior if because else res, changes, because,
                                    retained))
    out += [_resource_change("remove", res, retained=retained, retired=retired) for urn, res in old.items()
            if urn not in matched]
    return out


def _per_hour(doc: dict[str, Any]) -> dict[str, float]:
    return dict(doc.get("sections", {}).get("cost", {}).get("perHour") or {})


def _violations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc.get("sections", {}).get("policy", {}).get("violations") or [])


def _verdict_key(v: dict[str, Any]) -> tuple[str, str]:
    """A verdict is the same one when the rule and the resource are (the budget rule's figures change)."""
    return (str(v.get("policy")), str(v.get("urn")))


def diff_stack(stack: str, base: Optional[dict[str, Any]], head: Optional[dict[str, Any]]) -> StackDiff:
    """Compare the base and head plan documents of one stack (None: no such stack on that side)."""
    result = StackDiff(stack=stack, base_missing=base is None, head_missing=head is None)
    base, head = base or {}, head or {}
    result.base_error, result.head_error = base.get("error"), head.get("error")
    if result.head_error:
        result.head_error = {**result.head_error, "exitCode": head.get("exitCode", EXIT_CONFIG)}
        return result
    if result.head_missing:  # the stack file is gone; its resources stay until someone runs `pulumi destroy`
        return result
    result.head_mandatory = int(head.get("sections", {}).get("policy", {}).get("mandatory") or 0)
    if result.base_error:  # nothing to compare with: the report shows the error and the head's own figures
        result.head_cost = _per_hour(head)
        result.policy_new = _violations(head)
        return result
    result.resources = resource_changes(base, head)
    b, h = _per_hour(base), _per_hour(head)
    result.head_cost = h
    result.cost = {scale: (float(b.get(scale, 0.0)), float(h[scale])) for scale in h}
    old_v, new_v = {_verdict_key(v): v for v in _violations(base)}, {_verdict_key(v): v for v in _violations(head)}
    result.policy_new = [v for k, v in new_v.items() if k not in old_v]
    result.policy_gone = [v for k, v in old_v.items() if k not in new_v]
    return result


def overall_exit(diffs: list[StackDiff], allow_data_loss: bool = False) -> int:
    """One exit code for several stacks: data loss first (unless allowed), then a failed head plan, then a mandatory
    violation. Allowing data loss never hides the other failures of any stack."""
    codes = [d.exit_code for d in diffs]
    if allow_data_loss:
        codes = [d.exit_code_ignoring_data_loss for d in diffs]
    for code in (EXIT_DATA_LOSS, EXIT_CONFIG, EXIT_FAILED, EXIT_POLICY):
        if code in codes:
            return code
    return EXIT_OK
