"""Required tags: every taggable AWS resource carries the cost-allocation tags."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity

from policies.rules.common import Report, config, label, provider_default_tags, resource_policy, schema, tags_of
from policies.taggable_types import taggable_types

# AWS provider default tags do not reach Auto Scaling groups: they need their own tags.
NO_DEFAULT_TAGS = {"aws:autoscaling/group:Group"}

SCHEMA = schema(
    requiredTags={
        "type": "array", "items": {"type": "string"}, "default": ["project", "stack", "owner", "cost-center"],
        "description": "Tag keys every taggable AWS resource must carry with a value that is not empty or blank.",
    },
)


def validate(args: ResourceValidationArgs, report: Report) -> None:
    """Own tags plus the provider's default tags must include every required key."""
    if args.resource_type not in taggable_types():
        return
    tags = tags_of(args.props)
    if args.resource_type not in NO_DEFAULT_TAGS:
        tags = {**provider_default_tags(args.provider), **tags}
    missing = [k for k in config(args, SCHEMA)["requiredTags"] if not str(tags.get(k) or "").strip()]
    if missing:
        report(f"{label(args)} is missing required tags: {', '.join(missing)}")


POLICY = resource_policy(
    "required-tags",
    "Every taggable AWS resource carries the cost tags (own tags or the provider's default tags).",
    validate, EnforcementLevel.MANDATORY, Severity.MEDIUM, SCHEMA,
    "Set cloudviper:tags (owner, costCenter); they reach every resource through the provider's default tags.",
)
