"""AWS security basics: S3 locked down, EBS encrypted, IMDSv2, no open ingress, EKS endpoint and secrets."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from policies.rules.common import Report, config, get, label, resource_policy, schema, stack_policy, truthy

BUCKET = "aws:s3/bucket:Bucket"
BPA = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
POLICY_T = "aws:s3/bucketPolicy:BucketPolicy"
BPA_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
OPEN = ("0.0.0.0/0", "::/0")

NO_CONFIG = schema()

# ----------------------------------------------------------------------------- S3


def attached_to(bucket: PolicyResource, resources: Iterable[PolicyResource], type_token: str) -> list[PolicyResource]:
    """Resources of a type whose `bucket` input comes from this bucket."""
    found = []
    for res in resources:
        if res.resource_type != type_token:
            continue
        deps = (res.property_dependencies or {}).get("bucket", [])
        if any(d.urn == bucket.urn for d in deps) or get(res.props, "bucket") in (bucket.props.get("bucket"), bucket.props.get("id")):
            found.append(res)
    return found


def denies_insecure_transport(policy_doc: Any) -> bool:
    """True if a bucket policy has a Deny on aws:SecureTransport = false for every principal."""
    doc = json.loads(policy_doc) if isinstance(policy_doc, str) else policy_doc
    for stmt in (doc or {}).get("Statement", []) if isinstance(doc, Mapping) else []:
        cond = get(stmt, "Condition", "Bool", "aws:SecureTransport")
        if stmt.get("Effect") == "Deny" and str(cond).lower() == "false" and stmt.get("Principal") in ("*", {"AWS": "*"}):
            return True
    return False


def validate_buckets(args: StackValidationArgs, report: Report) -> None:
    """Each bucket: all four public-access blocks, default encryption, a TLS-only policy."""
    for bucket in (r for r in args.resources if r.resource_type == BUCKET):
        name = label(bucket)
        bpas = attached_to(bucket, args.resources, BPA)
        if not bpas:
            report(f"{name} has no public access block", bucket.urn)
        for bpa in bpas:
            off = [f for f in BPA_FLAGS if not truthy(get(bpa.props, f))]
            if off:
                report(f"{name}: public access block leaves {', '.join(off)} off", bucket.urn)
        sse = attached_to(bucket, args.resources, SSE)
        algos = [get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for s in sse for r in (get(s.props, "rules") or [])]
        if not any(a in ("aws:kms", "AES256", "aws:kms:dsse") for a in algos):
            report(f"{name} has no default encryption configuration", bucket.urn)
        policies = attached_to(bucket, args.resources, POLICY_T)
        if not any(denies_insecure_transport(get(p.props, "policy")) for p in policies):
            report(f"{name} has no bucket policy denying requests without TLS (aws:SecureTransport false)", bucket.urn)


S3 = stack_policy(
    "s3-bucket-hardening",
    "S3 buckets block all public access, encrypt by default and deny requests without TLS.",
    validate_buckets, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Create buckets through the cloudviper storage component, which sets all three.",
)

# ----------------------------------------------------------------------------- EBS and IMDS


def validate_ebs(args: ResourceValidationArgs, report: Report) -> None:
    """Volumes, launch-template and instance block devices must be encrypted."""
    t, p = args.resource_type, args.props
    if t == "aws:ebs/volume:Volume" and not truthy(get(p, "encrypted")):
        report(f"{label(args)} is not encrypted")
    elif t == "aws:ec2/launchTemplate:LaunchTemplate":
        mappings = [m for m in (get(p, "blockDeviceMappings") or []) if get(m, "ebs") is not None]
        if not mappings:
            report(f"{label(args)} sets no EBS block device, so the root volume's encryption is left to the AMI")
        for m in mappings:
            if not truthy(get(m, "ebs", "encrypted")):
                report(f"{label(args)}: volume {get(m, 'deviceName')} is not encrypted")
    elif t == "aws:ec2/instance:Instance":
        devices = [get(p, "rootBlockDevice") or {}, *(get(p, "ebsBlockDevices") or [])]
        if any(not truthy(get(d, "encrypted")) for d in devices):
            report(f"{label(args)} has an unencrypted volume")


EBS = resource_policy(
    "ebs-encryption",
    "EBS volumes, launch-template and instance block devices are encrypted.",
    validate_ebs, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Set encrypted: true on every EBS block device.",
)


def validate_imds(args: ResourceValidationArgs, report: Report) -> None:
    """Launch templates and instances must require IMDSv2 session tokens."""
    if args.resource_type not in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        return
    tokens = get(args.props, "metadataOptions", "httpTokens")
    if tokens != "required":
        report(f"{label(args)} does not require IMDSv2 (metadataOptions.httpTokens is {tokens or 'unset'})")


IMDS = resource_policy(
    "imdsv2-required",
    "Launch templates and instances require IMDSv2 (metadataOptions.httpTokens = required).",
    validate_imds, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Set metadataOptions.httpTokens to required (hop limit 2 for pods that need the metadata service).",
)

# ----------------------------------------------------------------------------- security groups

INGRESS_SCHEMA = schema(
    allowedPublicPorts={
        "type": "array", "items": {"type": "integer"}, "default": [],
        "description": "Ports that may be open to 0.0.0.0/0 or ::/0 (e.g. 443 for a public load balancer).",
    },
)


def _open_rules(t: str, p: Mapping[str, Any]) -> list[tuple[Any, Any, str]]:
    """(fromPort, toPort, cidr) of every ingress rule open to the world."""
    found: list[tuple[Any, Any, str]] = []
    if t == "aws:ec2/securityGroup:SecurityGroup":
        for rule in get(p, "ingress") or []:
            for cidr in list(get(rule, "cidrBlocks") or []) + list(get(rule, "ipv6CidrBlocks") or []):
                if cidr in OPEN:
                    found.append((get(rule, "fromPort"), get(rule, "toPort"), cidr))
    elif t == "aws:ec2/securityGroupRule:SecurityGroupRule" and get(p, "type") == "ingress":
        for cidr in list(get(p, "cidrBlocks") or []) + list(get(p, "ipv6CidrBlocks") or []):
            if cidr in OPEN:
                found.append((get(p, "fromPort"), get(p, "toPort"), cidr))
    elif t == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        for cidr in (get(p, "cidrIpv4"), get(p, "cidrIpv6")):
            if cidr in OPEN:
                found.append((get(p, "fromPort"), get(p, "toPort"), cidr))
    return found


def validate_ingress(args: ResourceValidationArgs, report: Report) -> None:
    """No ingress from anywhere, except single allowed ports."""
    allowed = {int(x) for x in config(args, INGRESS_SCHEMA)["allowedPublicPorts"]}
    for lo, hi, cidr in _open_rules(args.resource_type, args.props):
        if lo is not None and lo == hi and int(lo) in allowed:
            continue
        ports = "all ports" if lo in (None, -1, 0) and hi in (None, -1, 0, 65535) else f"ports {lo}-{hi}"
        report(f"{label(args)} allows ingress from {cidr} on {ports}; allowedPublicPorts: {sorted(allowed) or 'none'}")


INGRESS = resource_policy(
    "no-public-ingress",
    "Security groups allow no ingress from 0.0.0.0/0 or ::/0 except on allowedPublicPorts.",
    validate_ingress, EnforcementLevel.MANDATORY, Severity.HIGH, INGRESS_SCHEMA,
    "Restrict the rule to your institution's CIDRs, or allow the single port in the stack's policy config.",
)

# ----------------------------------------------------------------------------- EKS


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def validate_eks(args: ResourceValidationArgs, report: Report) -> None:
    """A public endpoint needs restricted CIDRs; Kubernetes Secrets need envelope encryption."""
    if args.resource_type != "aws:eks/cluster:Cluster":
        return
    vpc = get(args.props, "vpcConfig") or {}
    public = get(vpc, "endpointPublicAccess")
    if public is None or truthy(public):
        cidrs = list(get(vpc, "publicAccessCidrs") or [])
        if not cidrs or any(_is_world(c) for c in cidrs):
            report(f"{label(args)} has a public API endpoint open to the internet; set publicAccessCidrs "
                   "to your networks or turn the public endpoint off")
    enc = get(args.props, "encryptionConfig")
    resources = get(enc, "resources") if isinstance(enc, Mapping) else None
    if not resources or "secrets" not in resources:
        report(f"{label(args)} does not encrypt Kubernetes Secrets with a KMS key (encryptionConfig.resources)")


EKS = resource_policy(
    "eks-endpoint-and-secrets",
    "EKS clusters expose the public endpoint only to restricted CIDRs and encrypt Secrets with KMS.",
    validate_eks, EnforcementLevel.MANDATORY, Severity.HIGH, NO_CONFIG,
    "Set the cluster's publicAccessCidrs in config, and keep secrets encryption on.",
)

POLICIES = [S3, EBS, IMDS, INGRESS, EKS]
