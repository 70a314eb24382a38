"""The diff's reports: the PR comment keeps earlier pushes, fits GitHub's limit, and shows failures."""

from __future__ import annotations

import json

from infra.plan.diff import diff_stack, input_changes
from infra.plan.diff_report import COMMENT_LIMIT, render_markdown
from infra.plan.replacement import forces_replacement


def doc(*resources, cost=0.1, violations=()):
    return {"stack": "s", "resources": [{"custom": True, "component": "c (t)", "options": {}, "dependencies": [], **r}
                                        for r in resources],
            "sections": {"cost": {"perHour": {"idle": cost, "day_one": cost, "max": cost}},
                         "policy": {"violations": list(violations), "mandatory": 0}}}


def bucket(name="data", physical="b1", retain=True):
    return {"urn": f"urn:pulumi:s::p::aws:s3/bucket:Bucket::{name}", "type": "aws:s3/bucket:Bucket", "name": name,
            "inputs": {"bucket": physical}, "options": {"retainOnDelete": retain}}


def test_json_inside_strings_is_compared_as_json():
    old = json.dumps({"Statement": [{"Action": "s3:GetObject", "Resource": "a"}]})
    new = json.dumps({"Statement": [{"Action": "s3:GetObject", "Resource": "b"}]})
    (change,) = input_changes({"policy": old}, {"policy": new})
    assert (change.path, change.old, change.new) == ("policy.Statement[0].Resource", "a", "b")


def test_replace_on_changes_option_and_kubernetes_names_force_replacement():
    res = {"type": "kubernetes:apps/v1:Deployment", "options": {"replaceOnChanges": ["spec.template.*.image"]}}
    assert forces_replacement(res, ["spec.replicas", "metadata.name", "spec.selector.matchLabels.app"]) == [
        "metadata.name", "spec.selector.matchLabels.app"]
    assert forces_replacement(res, ["spec.template.spec.image"]) == ["spec.template.spec.image"]
    assert forces_replacement({"type": "aws:iam/role:Role"}, ["name"]) == []  # not in the table: an update


def test_removing_a_kept_bucket_warns_and_removing_a_destroyable_one_exits_4():
    kept = diff_stack("s", doc(bucket()), doc())
    assert kept.exit_code == 0 and "retained (retainOnDelete)" in kept.resources[0].data
    gone = diff_stack("s", doc(bucket(retain=False)), doc())
    assert gone.exit_code == 4 and "NOT retained, so its data is destroyed" in gone.resources[0].data


def test_the_comment_keeps_the_summaries_of_earlier_pushes():
    first = render_markdown([diff_stack("s", doc(), doc(bucket()))], "main (abc)", {}, head_label="1111111")
    second = render_markdown([diff_stack("s", doc(), doc(bucket(), bucket("more")))], "main (abc)", {},
                             head_label="2222222", previous=first)
    assert second.index("**2222222** against") < second.index("Earlier pushes") < second.index("**1111111** against")
    third = render_markdown([diff_stack("s", doc(), doc())], "main (abc)", {}, head_label="3333333", previous=second)
    assert third.count("**1111111** against") == 1 and third.count("**2222222** against") == 1


def test_a_comment_over_the_limit_drops_details_and_points_to_the_artifact():
    old = doc(*[bucket(f"b{i}", "x" * 100) for i in range(400)])
    new = doc(*[bucket(f"b{i}", "y" * 100) for i in range(400)])  # 400 replacements, each with its old -> new line
    text = render_markdown([diff_stack("s", old, new)], "main", {}, artifact_note="see the diff-report artifact")
    assert len(text) <= COMMENT_LIMIT
    assert "Details are too long for a comment: see the diff-report artifact" in text
    assert "| `s` | 0 | 0 | 0 | 400 |" in text  # the summary table stays


def test_a_stack_that_fails_to_plan_shows_its_error():
    broken = {"stack": "s", "exitCode": 2, "error": {"kind": "config", "message": "config error: x",
                                                     "problems": ["cloudviper:network.cidr: bad"]}}
    d = diff_stack("s", doc(), broken)
    text = render_markdown([d], "main", {})
    assert d.exit_code == 2 and "fails to plan (config error)" in text and "cloudviper:network.cidr: bad" in text


def test_allowing_data_loss_never_hides_a_stack_that_fails_to_plan():
    from infra.plan.diff import overall_exit

    loses = diff_stack("a", doc(bucket(retain=False)), doc())
    broken = diff_stack("b", doc(), {"stack": "b", "exitCode": 2, "error": {"kind": "config", "problems": ["x"]}})
    assert overall_exit([loses, broken]) == 4
    assert overall_exit([loses, broken], allow_data_loss=True) == 2 and overall_exit([loses], allow_data_loss=True) == 0


def test_a_base_that_does_not_plan_still_reports_the_heads_mandatory_violations():
    head = doc()
    head["sections"]["policy"].update(mandatory=1, violations=[{"policy": "p", "level": "mandatory", "urn": "u",
                                                                  "message": "m"}])
    d = diff_stack("s", {"stack": "s", "error": {"kind": "internal", "problems": ["old"]}}, head)
    assert d.exit_code == 3 and [v["policy"] for v in d.policy_new] == ["p"]


def test_aliases_to_an_old_parent_match_the_moved_resource_and_ignore_changes_are_dropped():
    old = bucket()
    old["urn"] = "urn:pulumi:s::p::cloudviper:storage:Old$aws:s3/bucket:Bucket::data"
    moved = {**bucket(), "urn": "urn:pulumi:s::p::cloudviper:storage:New$aws:s3/bucket:Bucket::data",
             "inputs": {"bucket": "b1", "forceDestroy": True},
             "options": {"retainOnDelete": True, "ignoreChanges": ["forceDestroy"],
                         "aliases": ["urn:pulumi:s::p::cloudviper:storage:Old::storage"]}}
    d = diff_stack("s", doc(old), doc(moved))
    assert d.resources == [] and d.exit_code == 0  # same bucket, moved; the ignored input is no change


def test_vpc_tenancy_dedicated_to_default_is_in_place():
    vpc = {"urn": "urn:pulumi:s::p::aws:ec2/vpc:Vpc::v", "type": "aws:ec2/vpc:Vpc", "name": "v"}
    d = diff_stack("s", doc({**vpc, "inputs": {"instanceTenancy": "dedicated"}}),
                   doc({**vpc, "inputs": {"instanceTenancy": "default"}}))
    assert [r.action for r in d.resources] == ["update"]
    d = diff_stack("s", doc({**vpc, "inputs": {"instanceTenancy": "default"}}),
                   doc({**vpc, "inputs": {"instanceTenancy": "dedicated"}}))
    assert [r.action for r in d.resources] == ["replace"] and d.exit_code == 4  # the VPC is not retained


def test_a_re_run_for_the_same_commit_does_not_repeat_its_summary():
    first = render_markdown([diff_stack("s", doc(), doc())], "main", {}, head_label="1111111")
    again = render_markdown([diff_stack("s", doc(), doc())], "main", {}, head_label="1111111", previous=first)
    again = render_markdown([diff_stack("s", doc(), doc())], "main", {}, head_label="1111111", previous=again)
    assert again.count("**1111111** against") == 1 and "Earlier pushes" not in again


def test_a_changed_secret_is_reported_without_its_digest():
    (change,) = input_changes({"data": {"token": "[secret:0123456789abcdef]"}},
                              {"data": {"token": "[secret:fedcba9876543210]"}})
    assert (change.path, change.old, change.new) == ("data.token", "[secret]", "[secret]")
    assert input_changes({"t": "[secret:0123456789abcdef]"}, {"t": "[secret:0123456789abcdef]"}) == []
