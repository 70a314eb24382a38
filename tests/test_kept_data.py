"""Kept data stays readable and findable: a renamed or removed kept bucket is caught before `pulumi up` (preflight,
against the stack's state) and in the offline diff, and kept EBS volumes carry the stack's cost tags.

State files follow `pulumi stack export` (pulumi/pulumi sdk/go/common/apitype/core.go: UntypedDeployment
{version, deployment}, DeploymentV3 {manifest, resources}, ResourceV3 {urn, custom, delete, id, type, inputs,
outputs, parent, provider, retainOnDelete}); URNs are `urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from infra.config.loader import parse_stack_config
from infra.config.stackfile import load_stack_file
from infra.documents.naming import stack_tags
from infra.ops.kept_buckets import load_state, read_state, state_problems, state_verdicts
from infra.plan.diff import diff_stack
from infra.plan.diff_report import status
from infra.plan.resource_list import resource_entries
from tests.conftest import BASE_CONFIG, capture_in, every_stack, run_config

ACCOUNT = "111122223333"
STACK_URN = "urn:pulumi:test::cloudviper::pulumi:pulumi:Stack::cloudviper-test"
COMPONENT_URN = "urn:pulumi:test::cloudviper::cloudviper:storage:DataBuckets::data"
PROVIDER = "urn:pulumi:test::cloudviper::pulumi:providers:aws::aws::04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def state_resource(name: str, type_token: str, physical: str, kept: bool, **extra: Any) -> dict[str, Any]:
    """A resource of the DataBuckets component as `pulumi stack export` writes it."""
    return {"urn": f"urn:pulumi:test::cloudviper::cloudviper:storage:DataBuckets${type_token}::data-{name}",
            "custom": True, "id": physical, "type": type_token, "inputs": {"bucket": physical},
            "outputs": {"bucket": physical, "arn": f"arn:aws:s3:::{physical}"}, "parent": COMPONENT_URN,
            "provider": PROVIDER, **({"retainOnDelete": True} if kept else {}), **extra}


def export(*resources: dict[str, Any]) -> dict[str, Any]:
    """A version-3 checkpoint: the stack, the provider, the component and these resources."""
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "x", "version": "v3.259.0"},
        "resources": [
            {"urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack"},
            {"urn": PROVIDER.rsplit("::", 1)[0], "custom": True, "id": PROVIDER.rsplit("::", 1)[1],
             "type": "pulumi:providers:aws", "parent": STACK_URN},
            {"urn": COMPONENT_URN, "custom": False, "type": "cloudviper:storage:DataBuckets", "parent": STACK_URN},
            *resources]}}


def raw_bucket(kept: bool = True, **extra: Any) -> dict[str, Any]:
    return state_resource("raw", "aws:s3/bucket:Bucket", f"cloudviper-test-raw-{ACCOUNT}", kept, **extra)


def config(buckets: list[dict[str, Any]]) -> Any:
    return parse_stack_config("cloudviper", "test", {**copy.deepcopy(BASE_CONFIG), "cloudviper:buckets": buckets})


def problems(buckets: list[dict[str, Any]], *resources: dict[str, Any]) -> list[tuple[str, str, str]]:
    return state_problems(config(buckets), read_state(export(*resources)), ACCOUNT)


def test_a_renamed_kept_bucket_fails_and_says_how_to_keep_its_data():
    (verdict,) = problems([{"name": "datasets"}], raw_bucket())
    status_, detail, fix = verdict
    assert status_ == "fail"
    assert f"kept bucket raw (S3 cloudviper-test-raw-{ACCOUNT}) is in the stack's state" in detail
    assert "renamed to cloudviper:buckets[0] (datasets)?" in detail
    assert f"set on cloudviper:buckets[0] (datasets) `renamedFrom: raw` and `bucketName: cloudviper-test-raw-{ACCOUNT}`" in fix
    assert "`retired: true`" in fix
    (other,) = problems([{"name": "old", "retired": True}, {"name": "datasets"}], raw_bucket())
    assert other[0] == "fail"  # retiring another bucket says nothing about this one


@pytest.mark.parametrize("buckets", [
    [{"name": "raw"}],
    [{"name": "datasets", "renamedFrom": "raw", "bucketName": f"cloudviper-test-raw-{ACCOUNT}"}],
    [{"name": "raw", "retired": True}, {"name": "datasets"}],
    [{"name": "raw", "bucketName": f"cloudviper-test-raw-{ACCOUNT}"}],
], ids=["same name", "renamedFrom", "retired", "bucketName spelled out"])
def test_a_kept_bucket_still_accounted_for_passes(buckets):
    assert problems(buckets, raw_bucket()) == []


def test_a_new_bucket_name_on_a_kept_bucket_fails():
    (verdict,) = problems([{"name": "raw", "bucketName": "lab-raw-v2"}], raw_bucket())
    assert verdict[0] == "fail" and "now names S3 bucket lab-raw-v2" in verdict[1]
    assert f"set bucketName: cloudviper-test-raw-{ACCOUNT}" in verdict[2]
    (wrong,) = problems([{"name": "datasets", "renamedFrom": "raw", "bucketName": "lab-raw-v2"}], raw_bucket())
    assert wrong[0] == "fail" and "cloudviper:buckets[0] (datasets) now names S3 bucket lab-raw-v2" in wrong[1]


def test_destroyable_pending_and_foreign_buckets_are_not_kept_data():
    foreign = {"urn": "urn:pulumi:test::cloudviper::aws:s3/bucket:Bucket::logs", "custom": True, "id": "logs",
               "type": "aws:s3/bucket:Bucket", "parent": STACK_URN, "retainOnDelete": True}
    resources = (raw_bucket(kept=False), raw_bucket(delete=True), foreign,
                 state_resource("v2", "aws:s3/bucketV2:BucketV2", "lab-v2", True))
    assert [s.name for s in read_state(export(*resources))] == ["raw", "v2"]  # BucketV2 counts too
    (verdict,) = problems([{"name": "other"}], *resources)
    assert "kept bucket v2 (S3 lab-v2)" in verdict[1]


def test_a_kept_key_leaving_the_program_is_a_warning():
    key = state_resource("key", "aws:kms/key:Key", "1234abcd-12ab-34cd-56ef-1234567890ab", True)
    assert problems([{"name": "raw"}], raw_bucket(), key) == []
    (verdict,) = problems([{"name": "tmp", "encryption": "s3", "allowDestroy": True}], key)
    assert verdict[0] == "warn" and "lose kms:Decrypt" in verdict[1]


def test_the_state_file_is_read_or_refused(tmp_path):
    assert load_state(None) is None
    empty = tmp_path / "state.json"
    empty.write_text("{}")  # what the deploy workflow writes for a stack never deployed
    assert load_state(str(empty)) == []
    assert state_verdicts(config([{"name": "raw"}]), [], ACCOUNT) == []
    empty.write_text("not json")
    with pytest.raises(ValueError, match="not a `pulumi stack export` file"):
        load_state(str(empty))
    empty.write_text(json.dumps(export(raw_bucket())))
    assert state_verdicts(config([{"name": "raw"}]), load_state(str(empty)), ACCOUNT) == [
        ("pass", "the state's 1 kept bucket(s) are still the stack's", "")]


@pytest.mark.parametrize(("buckets", "message"), [
    ([{"name": "datasets", "renamedFrom": "raw", "bucketName": "lab-raw"}, {"name": "raw"}],
     'cloudviper:buckets[0].renamedFrom: "raw" names the entry cloudviper:buckets[1], which is still declared'),
    ([{"name": "a", "renamedFrom": "raw", "bucketName": "lab-raw"}, {"name": "b", "renamedFrom": "raw", "bucketName": "lab-raw"}],
     'cloudviper:buckets[1].renamedFrom: "raw" is also the renamedFrom of cloudviper:buckets[0]'),
    ([{"name": "a", "renamedFrom": "raw"}], "renamedFrom needs bucketName: the S3 name of the bucket it was"),
    ([{"name": "a", "retired": True, "allowDestroy": True}], "retired leaves a kept bucket in AWS"),
    ([{"name": "a", "renamedFrom": "a", "bucketName": "lab-a"}], "renamedFrom names the bucket itself"),
])
def test_renames_and_retirements_that_cannot_work_are_config_errors(buckets, message):
    from infra.config.errors import ConfigError
    from infra.config.network import BucketConfig, rename_problems

    try:
        found = rename_problems("cloudviper", [BucketConfig.model_validate(b) for b in buckets])
    except ValueError as exc:  # a single entry's own check (pydantic's ValidationError is a ValueError)
        found = [str(exc)]
        with pytest.raises(ConfigError, match="cloudviper:buckets"):
            config(buckets)
    assert any(message in p for p in found), found


@pytest.fixture
def moto_env(monkeypatch):
    from tests.aws_emulator import start_moto

    server, url = start_moto()
    for key, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield
    server.stop()


def test_preflight_fails_on_a_renamed_kept_bucket_and_skips_a_retired_one(moto_env, repo_root):
    from infra.ops.preflight import FAIL, PASS, Preflight

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="cloudviper-test-raw-123456789012")  # moto's account: the stack's kept bucket
    state = read_state(export(state_resource("raw", "aws:s3/bucket:Bucket", "cloudviper-test-raw-123456789012", True)))
    renamed = Preflight(config([{"name": "datasets"}]), repo_root / "policies" / "config",
                        managed_buckets={"cloudviper-test-raw-123456789012"})
    renamed.previous_state = state
    check = renamed.kept_buckets()
    assert check.status == FAIL and "kept bucket raw (S3 cloudviper-test-raw-123456789012)" in check.detail
    assert "renamedFrom: raw" in check.fix
    # retired: the bucket exists and is no longer the stack's, which is no reason to fail
    retired = Preflight(config([{"name": "raw", "retired": True}]), repo_root / "policies" / "config",
                        managed_buckets=set())
    retired.previous_state = state
    assert retired.kept_buckets().status == PASS


def plan(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resources": resource_entries(run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:buckets": buckets}))}


@pytest.fixture(scope="module")
def base_plan() -> dict[str, Any]:
    return plan([{"name": "raw"}])


def test_the_diff_flags_a_kept_bucket_renamed_without_saying_so(base_plan):
    d = diff_stack("test", base_plan, plan([{"name": "datasets"}]))
    (gone,) = [r for r in d.resources if r.action == "remove" and r.type == "aws:s3/bucket:Bucket"]
    assert gone.orphans_data and not gone.destroys_data and "the config does not say so" in gone.data
    assert d.exit_code == 4 and status(d) == "LEAVES KEPT DATA BEHIND"
    replaced = diff_stack("test", base_plan, plan([{"name": "raw", "bucketName": "lab-raw-v2"}]))
    assert replaced.exit_code == 4 and [r.action for r in replaced.resources if r.orphans_data] == ["replace"]


def test_the_diff_accepts_a_rename_or_a_retirement_the_config_declares(base_plan):
    moved = diff_stack("test", base_plan, plan([{"name": "datasets", "renamedFrom": "raw",
                                                 "bucketName": "cloudviper-test-raw-123456789012"}]))
    assert [(r.action, r.name, [c.path for c in r.changes]) for r in moved.resources] == [
        ("update", "data-datasets", ["tags.Name"])] and moved.exit_code == 0  # same bucket: only its Name tag moves
    retired = diff_stack("test", base_plan, plan([{"name": "raw", "retired": True}, {"name": "new"}]))
    assert retired.exit_code == 0 and not any(r.orphans_data for r in retired.resources)
    assert any(r.action == "remove" and r.name == "data-raw" and "retained" in r.data for r in retired.resources)


CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


def claim_specs(value: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every PersistentVolumeClaim spec in a resource's inputs: a claim's spec, a StatefulSet's volumeClaimTemplates,
    a Helm value's volumeClaimTemplate (recognised by its shape: accessModes and a storage request)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(value, dict):
        if "accessModes" in value and "storage" in ((value.get("resources") or {}).get("requests") or {}):
            found.append((path, value))
        for key, item in value.items():
            found += claim_specs(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += claim_specs(item, f"{path}[{i}]")
    return found


def enabled_persistence(value: Any) -> list[dict[str, Any]]:
    """Helm `persistence: {enabled: true}` blocks (a chart makes their claims itself)."""
    if isinstance(value, dict):
        own = [value["persistence"]] if isinstance(value.get("persistence"), dict) and value["persistence"].get("enabled") else []
        return own + [p for v in value.values() for p in enabled_persistence(v)]
    return [p for v in value for p in enabled_persistence(v)] if isinstance(value, list) else []


def check_claims(cap: Any, tags: dict[str, str]) -> list[str]:
    """The claims of a capture (as `resource:path`) after asserting each uses gp3-encrypted with the stack's tags."""
    claims = [(f"{r.name}:{p}", spec) for r in cap.resources for p, spec in claim_specs(r.props)]
    assert not [p for r in cap.resources for p in enabled_persistence(r.props)]  # no chart-made claim goes unchecked
    for where, spec in claims:
        assert spec.get("storageClassName") == "gp3-encrypted", where
    if claims:
        sc = cap.one(CLASS).props
        assert sc["metadata"]["name"] == "gp3-encrypted" and sc["reclaimPolicy"] == "Retain"
        params = sc["parameters"]
        assert params["type"] == "gp3" and params["encrypted"] == "true"
        # aws-ebs-csi-driver v1.64.0 pkg/util/template/template.go Evaluate: each tagSpecification_* value is split
        # at its first "=" (strings.SplitN(s, "=", 2)) into key and value; docs/tagging.md, docs/parameters.md.
        got = dict(v.split("=", 1) for k, v in params.items() if k.startswith("tagSpecification"))
        assert got == tags and {"project", "stack", "owner", "cost-center"} <= set(got), where
    return [w for w, _ in claims]


@pytest.mark.parametrize(("project", "stack"), every_stack())
def test_every_claim_of_every_stack_is_a_kept_encrypted_volume_with_the_cost_tags(project, stack):
    found = load_stack_file(project, stack)
    cfg = parse_stack_config(found.project, stack, found.values, set(found.secret_keys), found.plain_secrets)
    claims = check_claims(capture_in(project, stack), stack_tags(cfg))
    assert bool(claims) == cfg.needs_ebs_csi  # the driver is installed exactly when something claims a volume


def test_the_claims_checked_cover_arkouda_jupyterlab_and_prometheus(stacks_dir):
    from tests.test_secrets import full_values, run_with_secret_keys

    cfg = parse_stack_config("cloudviper", "test", full_values(), {"cloudviper:secretValues"})
    seen = check_claims(run_with_secret_keys(), stack_tags(cfg))
    seen += check_claims(capture_in(stacks_dir, "arkouda"), stack_tags(parse_stack_config(
        "cloudviper", "arkouda", load_stack_file(stacks_dir, "arkouda").values)))
    seen += check_claims(capture_in(stacks_dir, "reference"), stack_tags(parse_stack_config(
        "cloudviper", "reference", load_stack_file(stacks_dir, "reference").values)))
    kinds = {w.split(":")[0] for w in seen}
    assert {"dask-jupyter-home", "arkouda-server-files", "arkouda-locales", "monitoring-kps"} <= kinds, seen
