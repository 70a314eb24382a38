"""Kept data the next `pulumi up` would leave behind: the stack's state against its config.

A kept bucket (retainOnDelete) that the config no longer declares is not deleted by `pulumi up`: Pulumi drops
it from the state and leaves it in AWS (pulumi/pulumi pkg/resource/deploy/step.go, DeleteStep.Apply: "else if
s.old.RetainOnDelete" skips the provider's Delete). Its data stays, but the stack no longer uses it: a renamed
bucket becomes a new, empty one and the workloads' IAM policy points there. So a kept bucket of the state must
still be declared under its name, taken over by a `renamedFrom` entry, or left on purpose (`retired: true`).

The state is `pulumi stack export` output: {"version": 3, "deployment": {"resources": [...]}}, each resource
with urn, type, custom, delete, id, parent, retainOnDelete, outputs (pulumi/pulumi
sdk/go/common/apitype/core.go: UntypedDeployment, DeploymentV3, ResourceV3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from components.storage import COMPONENT_TYPE, key_needed
from infra.config.network import BucketConfig
from infra.config.stack import StackConfig
from infra.ops.access_checks import read_state_file
from infra.ops.buckets import physical_name

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
KEY_TYPE = "aws:kms/key:Key"
Verdict = tuple[str, str, str]  # (status, detail, fix), as infra/ops/access_checks.py


@dataclass(frozen=True)
class StateResource:
    """A data bucket or the data key as the stack's state holds it."""

    type: str
    name: str  # the config name it was declared under (cloudviper:buckets[].name); "" for the key
    physical: str  # the S3 bucket name (the resource id), or the key id
    kept: bool  # retainOnDelete


def _urn_name(urn: str) -> str:
    """The resource name: what follows the type in `urn:pulumi:<stack>::<project>::<type chain>::<name>`."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else ""


def _data_resource(res: dict[str, Any]) -> Optional[StateResource]:
    """The record of one state resource, if it is a data bucket or the data key of cloudviper:storage:DataBuckets."""
    urn, parent = str(res.get("urn") or ""), str(res.get("parent") or "")
    kind = str(res.get("type") or "")
    if not res.get("custom") or res.get("delete") or f"{COMPONENT_TYPE}$" not in urn:
        return None
    if kind not in (*BUCKET_TYPES, KEY_TYPE):
        return None
    component = _urn_name(parent)
    name = _urn_name(urn)
    logical = name[len(component) + 1:] if component and name.startswith(component + "-") else name
    outputs = res.get("outputs") if isinstance(res.get("outputs"), dict) else {}
    physical = str(res.get("id") or (outputs or {}).get("bucket") or "")
    return StateResource(kind, "" if kind == KEY_TYPE else logical, physical, bool(res.get("retainOnDelete")))


def read_state(doc: Any) -> list[StateResource]:
    """The data buckets and data key of a decoded `pulumi stack export` document ({} for a stack never deployed)."""
    deployment = doc.get("deployment") if isinstance(doc, dict) else None
    resources = deployment.get("resources") if isinstance(deployment, dict) else None
    found = [_data_resource(r) for r in resources or [] if isinstance(r, dict)]
    return [r for r in found if r is not None]


def load_state(state_file: Optional[str]) -> Optional[list[StateResource]]:
    """The data resources of a `pulumi stack export` file (None: no file given, so unknown)."""
    if state_file is None:
        return None
    return read_state(read_state_file(state_file))


def _entry(cfg: StackConfig, b: BucketConfig) -> str:
    index = next(i for i, c in enumerate(cfg.buckets) if c is b)
    return f"{cfg.project}:buckets[{index}] ({b.name})"


def _gone(cfg: StackConfig, s: StateResource, new: list[BucketConfig]) -> tuple[str, str]:
    """A kept bucket no entry declares: what happens and the three ways out."""
    likely = f"; renamed to {' or '.join(_entry(cfg, b) for b in new)}?" if new else ""
    detail = (f"kept bucket {s.name} (S3 {s.physical}) is in the stack's state but no longer in {cfg.project}:buckets"
              f"{likely}: `pulumi up` would drop it from the stack (it stays in AWS with its data) and the workloads "
              "would lose it")
    target = _entry(cfg, new[0]) if len(new) == 1 else "the entry that replaces it"
    fix = (f"keep its entry (name: {s.name}); or, if it lives on under a new name, set on {target} `renamedFrom: "
           f"{s.name}` and `bucketName: {s.physical}`; or, to stop using it, keep its entry with `retired: true` "
           "(README 'Renaming or retiring a kept bucket')")
    return detail, fix


def _problem(cfg: StackConfig, s: StateResource, account: str, new: list[BucketConfig]) -> Optional[tuple[str, str]]:
    """What is wrong with one kept bucket of the state under the config (None: it stays the stack's bucket)."""
    for b in cfg.buckets:
        if b.name == s.name and b.retired:
            return None
        if b.name == s.name or b.renamed_from == s.name:
            now = physical_name(cfg, b, account)
            if now == s.physical:
                return None
            return (f"{_entry(cfg, b)} now names S3 bucket {now}, but the stack's kept bucket {s.name} is {s.physical}: "
                    f"`pulumi up` would create an empty {now}, point the workloads at it and leave {s.physical} with "
                    "the data",
                    f"set bucketName: {s.physical} on it; to move the data to a new bucket, add that as a new entry, "
                    f"copy (`aws s3 sync s3://{s.physical} s3://NEW`) and retire this one (`retired: true`)")
    return _gone(cfg, s, new)


def state_problems(cfg: StackConfig, state: list[StateResource], account: str) -> list[Verdict]:
    """Each kept bucket of the state that the config would orphan (fail), and a kept data key it would drop (warn)."""
    buckets = [s for s in state if s.type in BUCKET_TYPES]
    known = {s.name for s in buckets}
    new = [b for b in cfg.buckets if not b.retired and not b.renamed_from and b.name not in known]
    verdicts: list[Verdict] = []
    for s in buckets:
        problem = _problem(cfg, s, account, new) if s.kept else None
        if problem is not None:
            verdicts.append(("fail", *problem))
    if any(s.type == KEY_TYPE and s.kept for s in state) and not key_needed(list(cfg.buckets)):
        verdicts.append(("warn", "the stack's data key leaves the program (no bucket is kept or uses kms any more): "
                         "it stays in AWS, but the workloads lose kms:Decrypt on it, so objects written under it "
                         "before cannot be read through the stack",
                         "keep a bucket that needs it, or delete the key when no object uses it (README 'Bringing "
                         "kept data back')"))
    return verdicts


def state_verdicts(cfg: StackConfig, state: Optional[list[StateResource]], account: str) -> list[Verdict]:
    """state_problems, or one pass line when the state has kept buckets (nothing without a state)."""
    if state is None:
        return []
    problems = state_problems(cfg, state, account)
    kept = sum(1 for s in state if s.type in BUCKET_TYPES and s.kept)
    if problems or not kept:
        return problems
    return [("pass", f"the state's {kept} kept bucket(s) are still the stack's", "")]
