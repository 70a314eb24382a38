"""AWS security basics: EBS encrypted, IMDSv2, launch templates in sight, EKS endpoint and secrets; with S3
(policies/rules/s3.py) and ingress (policies/rules/ingress.py) they are the pack's AWS security rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity, StackValidationArgs

from infra.config.cidrs import too_open
from infra.pricing.compute import INSTANCE, LAUNCH_TEMPLATE, NODE_GROUP, SPOT_FLEET, SPOT_REQUEST
from policies.rules.aws_common import LAUNCHERS, Templates, unseen_templates
from policies.rules.common import Report, get, is_list, label, resource_policy, schema, stack_policy, truthy
from policies.rules.ingress import INGRESS
from policies.rules.s3 import BPA, BPA_FLAGS, BUCKET, POLICY_T, S3, SSE

NO_CONFIG = schema()

# ----------------------------------------------------------------------------- EBS and IMDS


def _devices(props: Any) -> list[Any]:
    """An instance's or spot request's root device and EBS devices."""
    return [get(props, "rootBlockDevice") or {}, *(get(props, "ebsBlockDevices") or [])]


def validate_ebs(args: ResourceValidationArgs, report: Report) -> None:
    """Volumes and every block device a template, instance, spot request or spot fleet creates must be encrypted."""
    t, p = args.resource_type, args.props
    if t == "aws:ebs/volume:Volume" and not truthy(get(p, "encrypted")):
        report(f"{label(args)} is not encrypted")
    elif t == LAUNCH_TEMPLATE:
        mappings = [m for m in (get(p, "blockDeviceMappings") or []) if get(m, "ebs") is not None]
        if not mappings:
            report(f"{label(args)} sets no EBS block device, so the root volume's encryption is left to the AMI")
        for m in mappings:
            if not truthy(get(m, "ebs", "encrypted")):
                report(f"{label(args)}: volume {get(m, 'deviceName')} is not encrypted")
    elif t in (INSTANCE, SPOT_REQUEST):
        if any(not truthy(get(d, "encrypted")) for d in _devices(p)):
            report(f"{label(args)} has an unencrypted volume")
    elif t == SPOT_FLEET:
        for i, spec in enumerate(get(p, "launchSpecifications") or []):
            devices = [*(get(spec, "rootBlockDevices") or [{}]), *(get(spec, "ebsBlockDevices") or [])]
            if any(not truthy(get(d, "encrypted")) for d in devices):
                report(f"{label(args)}: launch specification {i} has an unencrypted volume")
    elif t == NODE_GROUP and get(p, "launchTemplate") is None:
        report(f"{label(args)} has no launch template, so its volumes' encryption is left to the account default")


EBS = resource_policy(
    "ebs-encryption",
    "EBS volumes and the block devices of launch templates, instances, spot requests and spot fleets are encrypted; "
    "EKS managed node groups use a launch template.",
    validate_ebs, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Set encrypted: true on every EBS block device.",
)


def validate_imds(args: ResourceValidationArgs, report: Report) -> None:
    """Everything that launches instances must require IMDSv2 session tokens (or launch from a template that does)."""
    t, p = args.resource_type, args.props
    if t in (LAUNCH_TEMPLATE, INSTANCE, SPOT_REQUEST):
        tokens = get(p, "metadataOptions", "httpTokens")
        if tokens != "required":
            report(f"{label(args)} does not require IMDSv2 (metadataOptions.httpTokens is {tokens or 'unset'})")
    elif t == SPOT_FLEET and get(p, "launchSpecifications"):
        report(f"{label(args)} uses launch specifications, which cannot require IMDSv2; use launchTemplateConfigs")
    elif t == NODE_GROUP and get(p, "launchTemplate") is None:
        report(f"{label(args)} has no launch template, so the pack cannot see whether its nodes require IMDSv2")


IMDS = resource_policy(
    "imdsv2-required",
    "Launch templates, instances and spot requests require IMDSv2 (metadataOptions.httpTokens = required); spot "
    "fleets and EKS managed node groups launch from launch templates.",
    validate_imds, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Set metadataOptions.httpTokens to required (hop limit 2 for pods that need the metadata service).",
)


def validate_templates(args: StackValidationArgs, report: Report) -> None:
    """Every launch template a group, instance, node group, spot request or fleet names is in the stack."""
    templates = Templates(args.resources)
    for res in args.resources:
        if res.resource_type in LAUNCHERS:
            why = unseen_templates(res, templates)
            if why:
                report(f"{label(res)} {why}: the pack cannot judge the instance type, IMDS and volumes of a template "
                       "it does not see", res.urn)


LAUNCH_TEMPLATES = stack_policy(
    "launch-templates-in-stack",
    "Groups, instances, node groups, spot requests and fleets launch only from launch templates of this stack (the "
    "rules judge those; one made elsewhere could launch anything).",
    validate_templates, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Create the launch template in the stack (the cloudviper node-group component does).",
)

# ----------------------------------------------------------------------------- EKS


def validate_eks(args: ResourceValidationArgs, report: Report) -> None:
    """A public endpoint needs restricted CIDRs; Kubernetes Secrets need envelope encryption."""
    if args.resource_type != "aws:eks/cluster:Cluster":
        return
    vpc = get(args.props, "vpcConfig") or {}
    public = get(vpc, "endpointPublicAccess")
    if public is None or truthy(public):  # EKS's default is a public endpoint, open to 0.0.0.0/0
        raw = get(vpc, "publicAccessCidrs")
        cidrs = [str(c) for c in raw] if is_list(raw) else []
        why = too_open(cidrs) if cidrs else "default to 0.0.0.0/0 (none set)"
        if why:
            report(f"{label(args)} has a public API endpoint open to the internet: its publicAccessCidrs {why}; set "
                   "publicAccessCidrs to your networks or turn the public endpoint off")
    enc = get(args.props, "encryptionConfig")
    resources = get(enc, "resources") if isinstance(enc, Mapping) else None
    if not resources or "secrets" not in resources:
        report(f"{label(args)} does not encrypt Kubernetes Secrets with a KMS key (encryptionConfig.resources)")


EKS = resource_policy(
    "eks-endpoint-and-secrets",
    "EKS clusters expose the public endpoint only to restricted CIDRs (judged on the addresses they cover together) "
    "and encrypt Secrets with KMS.",
    validate_eks, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Set the cluster's publicAccessCidrs in config, and keep secrets encryption on.",
)

POLICIES = [S3, EBS, IMDS, LAUNCH_TEMPLATES, INGRESS, EKS]
__all__ = ["BPA", "BPA_FLAGS", "BUCKET", "EBS", "EKS", "IMDS", "INGRESS", "LAUNCH_TEMPLATES", "POLICIES", "POLICY_T",
           "S3", "SSE"]
