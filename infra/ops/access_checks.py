"""Preflight checks that `pulumi up` can finish: the API is reachable by whoever runs it, the caller is
not given a second access entry, and no kept bucket is taken over by accident.

Pure verdict functions (tested without AWS) plus the one lookup AWS itself documents for finding
your public address: http://checkip.amazonaws.com/ ("Check IP", EC2 user guide,
authorizing-access-to-an-instance). CLOUDVIPER_CHECKIP_URL points it elsewhere (the tests use
a server on 127.0.0.1); `preflight --offline` skips it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from infra.config.cluster import same_principal
from infra.config.file_text import STATE_MAX_BYTES, read_text
from infra.config.stack import StackConfig

CHECKIP_URL = "http://checkip.amazonaws.com/"
# RFC 5737 (IPv4) and RFC 3849 (IPv6) documentation ranges: no real client has these addresses.
DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(n) for n in
                             ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
Verdict = tuple[str, str, str]  # (status, detail, fix)


def egress_address(url: Optional[str] = None, timeout: float = 5.0) -> str:
    """This machine's public IPv4 address as AWS sees it (raises OSError/ValueError when it cannot tell)."""
    target = url or os.environ.get("CLOUDVIPER_CHECKIP_URL") or CHECKIP_URL
    with urllib.request.urlopen(target, timeout=timeout) as response:
        text = response.read(64).decode().strip()
    return str(ipaddress.ip_address(text))


def documentation_ranges(cidrs: list[str]) -> list[str]:
    """The configured networks that lie in a documentation range (placeholders, not real clients)."""
    return [c for c in cidrs if any(ipaddress.ip_network(c).subnet_of(d)  # type: ignore[arg-type]
                                    for d in DOCUMENTATION_RANGES if d.version == ipaddress.ip_network(c).version)]


def api_access_verdict(cfg: StackConfig, lookup: Optional[Callable[[], str]]) -> Verdict:
    """Whether the machine running `pulumi up` can reach the cluster's API (lookup None: offline)."""
    cluster = cfg.cluster
    if cluster is None:
        return "pass", "no cluster", ""
    if not cluster.endpoint_public_access:
        return ("warn", "the API has a private endpoint only: run pulumi inside the VPC (or a network routed to it)",
                "README 'Deploying for real', reaching the API")
    placeholders = documentation_ranges(cluster.public_access_cidrs)
    if placeholders:
        return ("fail", f"publicAccessCidrs has documentation ranges ({', '.join(placeholders)}), placeholders no "
                "real client uses", "replace them with the networks you run pulumi and kubectl from "
                "(curl -s http://checkip.amazonaws.com gives this machine's address; add /32)")
    if lookup is None:
        return "warn", "offline: did not look up this machine's address", ""
    try:
        address = ipaddress.ip_address(lookup())
    except (OSError, ValueError) as exc:
        return "warn", f"could not look up this machine's public address ({exc.__class__.__name__})", ""
    if any(address in ipaddress.ip_network(c) for c in cluster.public_access_cidrs):
        return "pass", f"this machine ({address}) is inside publicAccessCidrs", ""
    return ("fail", f"this machine's address {address} is outside publicAccessCidrs "
            f"({', '.join(cluster.public_access_cidrs)}): pulumi up would create the cluster and then time out "
            "on every Kubernetes object", f"add {address}/32 to cloudviper:cluster.publicAccessCidrs, or deploy from "
            "a listed network")


def role_of(caller_arn: str) -> str:
    """The IAM principal behind a caller: an assumed-role session becomes its role (path unknown)."""
    parts = caller_arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) >= 6 else ("aws", "")
    if ":assumed-role/" in caller_arn:
        role = caller_arn.split(":assumed-role/", 1)[1].split("/")[0]
        return f"arn:{partition}:iam::{account}:role/{role}"
    if ":user/" in caller_arn:
        return f"arn:{partition}:iam::{account}:user/{caller_arn.split(':user/', 1)[1]}"
    return caller_arn


def creator_verdict(cfg: StackConfig, caller_arn: str) -> Verdict:
    """EKS refuses a second access entry for the creator (ResourceInUseException) when it is bootstrapped as admin."""
    cluster = cfg.cluster
    if cluster is None or not cluster.creator_is_admin:
        return "pass", "no automatic admin entry", ""
    me = role_of(caller_arn)
    listed = [a for a in [*cluster.admins, *(e.principal_arn for e in cluster.access_entries)] if same_principal(a, me)]
    if listed:
        # Judged against whoever runs preflight: right before the first `pulumi up`, which creates the cluster.
        return ("fail", f"the caller ({me}) is also in admins/accessEntries ({', '.join(listed)}) while "
                "creatorIsAdmin is true: EKS would refuse the second access entry",
                "remove it from admins/accessEntries (it is admin already), or set creatorIsAdmin: false")
    return "pass", f"{me} becomes cluster admin (creatorIsAdmin)", ""


def read_state_file(state_file: str) -> Any:
    """The decoded `pulumi stack export` file, or ValueError naming it (a FIFO or a folder: an error, not a hang)."""
    try:
        return json.loads(read_text(Path(state_file), STATE_MAX_BYTES) or "{}")
    except (OSError, ValueError) as exc:
        raise ValueError(f"--pulumi-state {state_file}: not a `pulumi stack export` file ({exc})") from None


def managed_buckets(state_file: Optional[str]) -> Optional[set[str]]:
    """Bucket names in a `pulumi stack export` file (None: no file given, so unknown)."""
    if state_file is None:
        return None
    doc = read_state_file(state_file)
    resources = (doc.get("deployment") or {}).get("resources") or [] if isinstance(doc, dict) else []
    return {str(r.get("id")) for r in resources if isinstance(r, dict) and r.get("type") == "aws:s3/bucket:Bucket"}


def bucket_verdict(name: str, state: str, importing: bool, managed: Optional[set[str]]) -> Verdict:
    """A bucket's name against what S3 says (missing, ours or denied) and what the stack manages (None: unknown)."""
    if state == "denied":
        return ("fail", f"bucket {name} exists but this account cannot read it (another account's, or no "
                "s3:ListBucket)", "set another bucketName, or grant s3:ListBucket")
    if state == "missing":
        if importing:
            return "fail", f"importExisting is set but bucket {name} does not exist", "unset importExisting"
        return "pass", f"{name}: free", ""
    if importing or (managed is not None and name in managed):
        return "pass", f"{name}: {'adopted' if importing else 'managed by this stack'}", ""
    kept = (f"bucket {name} already exists in this account but not in this stack (kept by an earlier pulumi destroy?); "
            "creating it again would adopt it silently in us-east-1, with a new key")
    fix = "set importExisting: true (and kmsKeyId) for it: README 'Bringing kept data back'"
    if managed is None:
        return "warn", f"bucket {name} already exists: fine if this stack manages it; pass --pulumi-state to tell", fix
    return "fail", kept, fix
