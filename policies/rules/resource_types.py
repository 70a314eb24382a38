"""Understood or known-inert, else refused: every resource type the pack cannot judge is refused by default.

A rule can only judge what it sees. An EC2 Fleet, a spot request, an EKS managed node group or an RDS instance
launches compute or holds data through a path none of the rules inspect, and a Helm release's pods are rendered by
the cluster, not by Pulumi, so the pack never sees them. The lists below name the AWS types the rules understand and
those known neither to launch compute nor to hold data (taken from what the program creates: components/*.py and the
example stacks' plans); a stack's policy config may allow more with `allowedResourceTypes` (globs) and more charts with
`allowedHelmCharts`. tests/test_bypass_aws.py pins that every listed type exists in the pinned pulumi_aws.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity

from policies.rules.aws_common import read
from policies.rules.common import Report, config, glob_any, label, resource_policy, schema

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# Judged by the pack's rules (instance types, spot, budget, EBS, IMDS, S3, ingress, EKS, tags, regions).
UNDERSTOOD = frozenset({
    "aws:autoscaling/group:Group", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance",
    "aws:eks/cluster:Cluster", "aws:ebs/volume:Volume",
    "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketAcl:BucketAcl",
    "aws:s3/bucketAclV2:BucketAclV2",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ec2/managedPrefixList:ManagedPrefixList",
    "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:kms/key:Key",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
})
# Launch no compute and hold no data of their own (networking, IAM, key aliases, bucket sub-settings, budgets,
# events and logs, EKS add-ons and access entries; the image repository's images are the program's own).
INERT = frozenset({
    "aws:autoscaling/lifecycleHook:LifecycleHook", "aws:budgets/budget:Budget",
    "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget", "aws:cloudwatch/logGroup:LogGroup",
    "aws:ec2/flowLog:FlowLog", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/placementGroup:PlacementGroup",
    "aws:ec2/route:Route", "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/subnet:Subnet", "aws:ec2/vpc:Vpc", "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "aws:ec2transitgateway/transitGateway:TransitGateway",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/addon:Addon",
    "aws:iam/instanceProfile:InstanceProfile", "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias", "aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketVersioning:BucketVersioning",
    "aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy",
})
KNOWN_AWS = UNDERSTOOD | INERT
# Packages whose every type is judged elsewhere (kubernetes: the Kubernetes rules) or creates nothing in a cloud.
OTHER_PACKAGES = ("kubernetes", "random", "tls", "pulumi")
PROVIDERS = ("aws", "kubernetes", "random", "tls")
# The charts the program installs (components/monitoring.py, components/federation.py), as `<repository>/<chart>`.
PROGRAM_CHARTS = [
    "https://prometheus-community.github.io/helm-charts/kube-prometheus-stack",
    "https://opencost.github.io/opencost-helm-chart/opencost",
    "https://charts.jetstack.io/cert-manager",
    "oci://public.ecr.aws/admiralty/admiralty",
]

SCHEMA = schema(
    allowedResourceTypes={
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Glob patterns of further resource types to allow (e.g. aws:rds/*); the pack's rules may not "
                       "understand them, so a stack that allows one vouches for what it launches and stores.",
    },
    allowedHelmCharts={
        "type": "array", "items": {"type": "string"}, "default": PROGRAM_CHARTS,
        "description": "Glob patterns of Helm charts (`<repository URL>/<chart>`, or the chart's own oci:// or "
                       "https:// reference) a kubernetes:helm.sh/v3:Release may install: its pods are hidden from "
                       "the pack. Default: the charts the program installs.",
    },
)


def chart_of(props: object) -> str:
    """A release's chart as `<repository>/<chart>` (an oci:// or https:// chart reference as it is)."""
    chart = str(read(props, "chart") or "")
    repo = read(props, "repositoryOpts", "repo")
    if "://" in chart or not repo:
        return chart
    return f"{str(repo).rstrip('/')}/{chart}"


def type_verdict(resource_type: str, allowed: list[str]) -> str | None:
    """None when the pack may let the type through, else why not."""
    package = resource_type.split(":", 1)[0]
    if resource_type in KNOWN_AWS or glob_any(resource_type, allowed):
        return None
    if resource_type.startswith("pulumi:providers:"):
        provider = resource_type.rsplit(":", 1)[1]
        return None if provider in PROVIDERS else f"is a provider ({provider}) whose resources the pack cannot judge"
    if package in OTHER_PACKAGES:
        return None
    what = "an AWS type" if package == "aws" else f"a type of package {package!r}"
    return f"is {what} the pack neither judges nor knows to be inert (it may launch compute or hold data)"


def validate(args: ResourceValidationArgs, report: Report) -> None:
    """Refuse types the pack cannot judge and Helm charts outside the allow-list."""
    cfg = config(args, SCHEMA)
    why = type_verdict(args.resource_type, list(cfg["allowedResourceTypes"]))
    if why:
        report(f"{label(args)} {why}; allow it with allowedResourceTypes in policies/config/<stack>.json only if "
               "you vouch for it")
    if args.resource_type == HELM_RELEASE:
        chart, charts = chart_of(args.props), list(cfg["allowedHelmCharts"])
        if not glob_any(chart, charts):
            report(f"{label(args)} installs chart {chart!r}, which is not in allowedHelmCharts ({', '.join(charts)}); "
                   "a release's pods are rendered in the cluster, where the pack cannot see them")


POLICY = resource_policy(
    "allowed-resource-types",
    "Every resource type is one the pack understands or knows to launch no compute and hold no data, or is allowed "
    "by allowedResourceTypes; Helm releases install only allowedHelmCharts.",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, SCHEMA,
    "Use the program's components (Auto Scaling node groups, the storage component), or allow the type or chart in "
    "the stack's policy config after checking what it launches and stores.",
)
