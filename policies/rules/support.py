"""EKS version support: no cluster on a version out of standard support (or leaving it soon) unless it opted in.

Past standard support a cluster either costs the extended-support price ($0.60/h instead of
$0.10/h; upgrade policy EXTENDED, the API default) or is upgraded by EKS on a date it chooses
(STANDARD). Both surprise a research group; the first must be a decision, the second planned.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity

from infra.pricing import eks_support
from infra.pricing.cost import EKS_CLUSTER
from policies.rules.common import Report, config, get, label, resource_policy, schema

SCHEMA = schema(
    minDaysOfStandardSupport={
        "type": "integer", "default": 30,
        "description": "Days of standard support a cluster's version must have left (unless it opted in to extended support).",
    },
)


def validate(args: ResourceValidationArgs, report: Report) -> None:
    """Judge the cluster's version against the support calendar on today's date."""
    if args.resource_type != EKS_CLUSTER:
        return
    version = get(args.props, "version")
    window = eks_support.calendar().get(str(version))
    if window is None:
        report(f"{label(args)}: Kubernetes {version} is not in the EKS support calendar "
               "(infra/pricing/eks-versions.csv); pick one of " + ", ".join(eks_support.calendar()))
        return
    today = eks_support.today()
    opted_in = get(args.props, "upgradePolicy", "supportType") == eks_support.EXTENDED
    if window.tier(today) == "unsupported":
        report(f"{label(args)}: EKS ended all support for {version} on {window.end_of_extended.isoformat()}; "
               "it creates no new clusters on it and upgrades existing ones")
        return
    days_left = (window.end_of_standard - today).days
    if days_left < int(config(args, SCHEMA)["minDaysOfStandardSupport"]) and not opted_in:
        when = "ended" if days_left <= 0 else "ends"
        report(f"{label(args)}: standard support for Kubernetes {version} {when} on "
               f"{window.end_of_standard.isoformat()}; use a newer version, or opt in to extended support "
               "(cluster.extendedSupport: true, $0.60/h instead of $0.10/h)")


POLICY = resource_policy(
    "eks-version-support",
    "The cluster's Kubernetes version must have minDaysOfStandardSupport days of standard support left, "
    "unless the stack opted in to extended support.",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, SCHEMA,
    "Set cluster.version to a version in standard support, or cluster.extendedSupport: true to pay for extended support.",
)
