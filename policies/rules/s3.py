"""S3 locked down, judged on what the settings mean: public access blocked, encrypted, TLS-only, nothing public.

- One bucket policy per bucket: PutBucketPolicy replaces the policy a bucket has ("If the bucket already has a policy,
  the one in this request completely replaces it", AWS SDK for .NET PutBucketPolicyRequest; pulumi/pulumi-aws#1750:
  "AWS does require that you define a single policy per bucket"), so with two the last write wins. A bucket's inline
  `policy` counts as one.
- The TLS deny must cover every request made without TLS: Effect Deny, Principal `*` (or {"AWS": "*"}), Action `s3:*`,
  Resource the bucket ARN and `ARN/*`, and only the condition Bool aws:SecureTransport "false" (the policy of AWS Config
  rule s3-bucket-ssl-requests-only, AWS Security Hub control S3.5; AWS re:Post knowledge-center
  "s3-bucket-policy-for-config-rule"). An s3:TlsVersion condition does not qualify: a plain-HTTP request has no TLS
  version, so NumericLessThan never matches it.
- No statement may Allow a principal with `*` in it (`*`, {"AWS": "arn:aws:iam::*:root"}, {"Federated": "*"}: S3
  counts only fixed principals as non-public) unless a condition fixes who calls: a positive operator (POSITIVE_OPS;
  never Not..., ...IfExists, Null or set operators, which also match callers without the key or with other values) on a
  NON_PUBLIC_KEYS key with fixed values (no `*`, `?` or `${...}` policy variable; aws:SourceIp only with IpAddress and
  ranges no wider than infra/config/cidrs.py allows). aws:SecureTransport true is no such condition. No ACL may grant
  AllUsers or AuthenticatedUsers.
- Bucket policies, ACLs and public access blocks are judged on their own too when their bucket is not one of the stack
  (a public policy on someone else's bucket is still ours to refuse).
- Preview: a bucket's `arn` is unknown until apply, so it is built from the name; a bucket or setting whose deciding
  values are unknown is skipped, the others are judged, and the rule then raises the first UnknownValueError so the
  engine still says it could not judge everything (pulumi/pulumi-policy sdk/python/lib/pulumi_policy/policy.py
  AnalyzeStack: UnknownValueError -> advisory "can't run policy ... during preview"; violations already reported stay).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyResource, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from infra.config.cidrs import too_open
from policies.rules.aws_common import read
from policies.rules.common import Report, get, is_list, label, schema, stack_policy, truthy

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKETS = (BUCKET, BUCKET_V2)
BPA = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
       "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
POLICY_T = "aws:s3/bucketPolicy:BucketPolicy"
ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
ACCESS_POINT = "aws:s3/accessPoint:AccessPoint"
BPA_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                 "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
PUBLIC_CANNED = ("public-read", "public-read-write", "authenticated-read")
ALGORITHMS = ("aws:kms", "AES256", "aws:kms:dsse")
# Keys whose fixed values make a grant to everyone non-public (AWS SDK for .NET v3, S3 PublicAccessBlockConfiguration:
# "Amazon S3 considers a bucket policy public unless ... aws:SourceIp ... a fixed aws:SourceArn, aws:SourceVpc,
# aws:SourceVpce, aws:SourceOwner, aws:SourceAccount, s3:x-amz-server-side-encryption-aws-kms-key-id, aws:userid").
NON_PUBLIC_KEYS = ("aws:sourceip", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner",
                   "aws:sourceaccount", "s3:x-amz-server-side-encryption-aws-kms-key-id", "aws:userid")
# Operators that match only the listed values ("fixed values ... don't contain a wildcard (*) or an AWS Identity and
# Access Management Policy variable", S3 User Guide, access-control-block-public-access.html "The meaning of public");
# negated, ...IfExists and Null operators also match requests from anyone else (IAM User Guide,
# reference_policies_elements_condition_operators.html).
POSITIVE_OPS = ("stringequals", "stringlike", "arnequals", "arnlike", "ipaddress")
SETTINGS = (BPA, POLICY_T, *ACLS)


def attached_to(bucket: PolicyResource, resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    """Resources of the given types whose `bucket` input comes from this bucket (dependency, name or ARN)."""
    wanted, keys = set(types), {read(bucket.props, k) for k in ("bucket", "id", "arn")} - {None}
    found = []
    for res in resources:
        if res.resource_type not in wanted:
            continue
        deps = (res.property_dependencies or {}).get("bucket", [])
        if any(d.urn == bucket.urn for d in deps) or read(res.props, "bucket") in keys:
            found.append(res)
    return found


def statements(doc: Any) -> list[Mapping[str, Any]]:
    """A policy document's statements (a JSON string or a map; Statement may be a single map)."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return []
    found = get(doc, "Statement") if isinstance(doc, Mapping) else None
    items: Any = [found] if isinstance(found, Mapping) else found
    return [s for s in items if isinstance(s, Mapping)] if is_list(items) else []


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if is_list(value) else ([] if value is None else [str(value)])


def everyone(principal: Any) -> bool:
    """Principal `*` or {"AWS": "*"} (also as a one-item list)."""
    aws = get(principal, "AWS") if isinstance(principal, Mapping) else None
    return principal == "*" or "*" in _strings(aws)


def wildcard_principal(principal: Any) -> bool:
    """A principal that is not fixed: `*` anywhere in it (any key: AWS, Federated, CanonicalUser, Service)."""
    values = [v for vs in principal.values() for v in _strings(vs)] if isinstance(principal, Mapping) else \
        _strings(principal)
    return any("*" in v for v in values)


def covers(patterns: list[str], *targets: str) -> bool:
    """True if the patterns (IAM wildcards `*` and `?`) together match every target."""
    return all(any(fnmatch.fnmatchcase(t, p) for p in patterns) for t in targets)


def _insecure_transport_only(condition: Any) -> bool:
    if not isinstance(condition, Mapping) or len(condition) != 1:
        return False
    op, keys = next(iter(condition.items()))
    if op not in ("Bool", "BoolIfExists") or not isinstance(keys, Mapping) or len(keys) != 1:
        return False
    key, value = next(iter(keys.items()))
    return str(key).lower() == "aws:securetransport" and [v.lower() for v in _strings(value)] == ["false"]


def denies_insecure_transport(stmt: Mapping[str, Any], arn: str) -> bool:
    """A Deny of every S3 action on the bucket and all its objects to everyone, when the request is not TLS."""
    if stmt.get("Effect") != "Deny" or any(k in stmt for k in ("NotAction", "NotResource", "NotPrincipal")):
        return False
    return (everyone(stmt.get("Principal")) and covers(_strings(stmt.get("Action")), "s3:*")
            and covers(_strings(stmt.get("Resource")), arn, f"{arn}/*", f"{arn}/any/key.bin")
            and _insecure_transport_only(stmt.get("Condition")))


def _fixed(values: list[str]) -> bool:
    return bool(values) and not any("*" in v or "?" in v or "${" in v for v in values)


def _fixes_who(condition: Any) -> bool:
    """True if a condition pins the caller, with a positive operator, to fixed values of a key that makes a grant
    non-public (aws:SourceIp only with IpAddress and ranges no wider than infra/config/cidrs.py allows)."""
    for op, keys in (condition.items() if isinstance(condition, Mapping) else []):
        if str(op).lower() not in POSITIVE_OPS:
            continue
        for key, value in (keys.items() if isinstance(keys, Mapping) else []):
            values, name = _strings(value), str(key).lower()
            if name not in NON_PUBLIC_KEYS or not _fixed(values) or (name == "aws:sourceip") != (str(op).lower() == "ipaddress"):
                continue
            if name != "aws:sourceip" or too_open(values) is None:
                return True
    return False


def public_allows(doc: Any) -> list[str]:
    """Sids (or indexes) of statements that Allow everyone unless a condition fixes who may call."""
    return [str(s.get("Sid") or f"#{i}") for i, s in enumerate(statements(doc))
            if s.get("Effect") == "Allow" and (wildcard_principal(s.get("Principal")) or "NotPrincipal" in s)
            and not _fixes_who(s.get("Condition"))]


def public_grants(acl: str | None, grants: Iterable[Any]) -> list[str]:
    """Public groups or canned ACLs an ACL grants to."""
    found = [acl] if acl in PUBLIC_CANNED else []
    return found + [str(get(g, "uri") or get(g, "grantee", "uri")) for g in grants
                    if str(get(g, "uri") or get(g, "grantee", "uri")) in PUBLIC_GROUPS]


def bucket_problems(bucket: PolicyResource, resources: list[PolicyResource]) -> list[str]:
    """Everything wrong with one bucket."""
    # get, not read: an unknown name or policy (preview) makes this bucket undecidable rather than refusing a good one;
    # the arn is unknown for every new bucket, and is the name's (S3 User Guide, s3-arn-format.html)
    name, arn = str(get(bucket.props, "bucket") or bucket.name), read(bucket.props, "arn")
    arn = str(arn) if arn else f"arn:aws:s3:::{name}"
    problems = []
    bpas = attached_to(bucket, resources, [BPA])
    if not bpas:
        problems.append("has no public access block")
    for bpa in bpas:
        off = [f for f in BPA_FLAGS if not truthy(read(bpa.props, f))]
        if off:
            problems.append(f"public access block {bpa.name!r} leaves {', '.join(off)} off")
    inline_sse = read(bucket.props, "serverSideEncryptionConfiguration", "rule", "applyServerSideEncryptionByDefault",
                      "sseAlgorithm")
    algos = [read(r, "applyServerSideEncryptionByDefault", "sseAlgorithm")
             for s in attached_to(bucket, resources, SSE) for r in (read(s.props, "rules") or [])]
    if inline_sse not in ALGORITHMS and not any(a in ALGORITHMS for a in algos):
        problems.append("has no default encryption configuration")
    docs = [(f"bucket policy {p.name!r}", get(p.props, "policy")) for p in attached_to(bucket, resources, [POLICY_T])]
    if get(bucket.props, "policy"):
        docs.append(("the bucket's inline policy", get(bucket.props, "policy")))
    if len(docs) > 1:
        problems.append(f"has {len(docs)} bucket policies ({', '.join(d[0] for d in docs)}); S3 keeps one policy per "
                        "bucket and the last write replaces the others, so merge them into one")
    elif not docs or not any(denies_insecure_transport(s, arn) for s in statements(docs[0][1])):
        problems.append(f"has no bucket policy denying every request without TLS (a Deny of s3:* on {arn} and {arn}/* "
                        "to Principal * with only the condition Bool aws:SecureTransport false)")
    for what, doc in docs:
        open_ = public_allows(doc)
        if open_:
            problems.append(f"{what} allows everyone (statements {', '.join(open_)}) without a condition that fixes "
                            "who may call")
    acl_grants = public_grants(read(bucket.props, "acl"), read(bucket.props, "grants") or [])
    for acl in attached_to(bucket, resources, ACLS):
        acl_grants += public_grants(read(acl.props, "acl"), read(acl.props, "accessControlPolicy", "grants") or [])
    if acl_grants:
        problems.append(f"has ACLs granting public access ({', '.join(acl_grants)})")
    return problems


def access_point_problems(point: PolicyResource) -> list[str]:
    """An access point may not turn its public access block off nor allow everyone."""
    block = read(point.props, "publicAccessBlockConfiguration") or {}
    off = [f for f in BPA_FLAGS if read(block, f) is not None and not truthy(read(block, f))]
    problems = [f"turns {', '.join(off)} off"] if off else []
    open_ = public_allows(read(point.props, "policy"))
    return problems + ([f"has a policy allowing everyone ({', '.join(open_)})"] if open_ else [])


def setting_problems(res: PolicyResource) -> list[str]:
    """A bucket policy, ACL or public access block judged on its own (its bucket is not one of the stack)."""
    if res.resource_type == BPA:
        off = [f for f in BPA_FLAGS if not truthy(get(res.props, f))]
        return [f"leaves {', '.join(off)} off"] if off else []
    if res.resource_type == POLICY_T:
        open_ = public_allows(get(res.props, "policy"))
        return [f"allows everyone (statements {', '.join(open_)}) without a condition that fixes who may call"] \
            if open_ else []
    grants = public_grants(get(res.props, "acl"), get(res.props, "accessControlPolicy", "grants") or [])
    return [f"grants public access ({', '.join(grants)})"] if grants else []


def validate(args: StackValidationArgs, report: Report) -> None:
    """Each bucket, access point and setting of a bucket outside the stack, reported on the resource."""
    resources = list(args.resources)
    attached = {s.urn for b in resources if b.resource_type in BUCKETS for s in attached_to(b, resources, SETTINGS)}
    unknown: UnknownValueError | None = None
    for res in resources:
        try:
            if res.resource_type in BUCKETS:
                problems = bucket_problems(res, resources)
            elif res.resource_type == ACCESS_POINT:
                problems = access_point_problems(res)
            elif res.resource_type in SETTINGS and res.urn not in attached:
                problems = [p + f" on bucket {read(res.props, 'bucket')!r}, which is not a bucket of this stack"
                            for p in setting_problems(res)]
            else:
                continue
        except UnknownValueError as err:
            unknown = unknown or err
            continue
        for problem in problems:
            report(f"{label(res)} {problem}", res.urn)
    if unknown is not None:
        raise unknown


S3 = stack_policy(
    "s3-bucket-hardening",
    "S3 buckets block all public access, encrypt by default, have one bucket policy that denies every request without "
    "TLS, and grant nothing to everyone (policies, ACLs, access points).",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, schema(),
    "Create buckets through the cloudviper storage component, which sets all of them; keep one policy per bucket.",
)
