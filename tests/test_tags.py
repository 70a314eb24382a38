"""Every taggable AWS resource carries the stack's cost tags and a Name tag."""

from __future__ import annotations

import json

from policies.taggable_types import taggable_types

REQUIRED = {"project": "cloudviper", "stack": "test", "owner": "tests", "cost-center": "cc-1"}


def taggable(type_token: str) -> bool:
    """Whether a type takes tags: the policy pack's list, pinned to the SDK by test_policy_pack."""
    return type_token in taggable_types()


def test_taggable_detection_is_real():
    assert taggable("aws:ec2/vpc:Vpc") and taggable("aws:autoscaling/group:Group")
    assert not taggable("aws:ec2/route:Route") and not taggable("aws:ec2/routeTableAssociation:RouteTableAssociation")


def test_all_aws_resources_use_the_stack_provider_with_default_tags(run_stack):
    cap = run_stack(network={"azs": ["us-east-1a", "us-east-1b"], "flowLogs": True},
                    tags={"owner": "tests", "costCenter": "cc-1", "extra": {"grant": "NSF-123"}})
    provider = cap.one("pulumi:providers:aws")
    raw = provider.props["defaultTags"]
    # Provider config reaches the engine JSON-encoded, as it does under the real CLI.
    defaults = (json.loads(raw) if isinstance(raw, str) else raw)["tags"]
    assert {**REQUIRED, "grant": "NSF-123"}.items() <= defaults.items()
    assert provider.props["region"] == "us-east-1"
    aws_resources = [r for r in cap.resources if r.type.startswith("aws:")]
    assert aws_resources
    for res in aws_resources:
        assert res.provider_urn == provider.urn, res.urn


def test_every_taggable_resource_has_a_name_tag(run_stack):
    cap = run_stack(network={"azs": ["us-east-1a", "us-east-1b"], "flowLogs": True, "natStrategy": "per-az"})
    checked = 0
    for res in cap.resources:
        if res.type.startswith("aws:") and taggable(res.type):
            assert res.props.get("tags", {}).get("Name", "").startswith("cloudviper-test"), res.urn
            checked += 1
    assert checked >= 15
