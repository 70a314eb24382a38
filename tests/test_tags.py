"""Every taggable AWS resource carries the stack's cost tags and a Name tag."""

from __future__ import annotations

import importlib
import inspect
import json
from functools import cache

import pulumi_aws

REQUIRED = {"project": "cloudviper", "stack": "test", "owner": "tests", "cost-center": "cc-1"}


@cache
def taggable(type_token: str) -> bool:
    """Whether the pulumi_aws resource class for a type token accepts `tags`."""
    _, module_path, cls_name = type_token.split(":")
    module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    cls = getattr(module, cls_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_taggable_detection_is_real():
    assert taggable("aws:ec2/vpc:Vpc") and not taggable("aws:ec2/route:Route")
    assert pulumi_aws.Provider is not None


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
