"""Preflight checks that `pulumi up` can finish: the API is reachable by whoever runs it, the caller is
not given a second access entry, and no kept bucket is taken over by accident.

Pure verdict functions (tested without AWS) plus the one lookup AWS itself documents for finding
your public address: http://checkip.amazonaws.com/ ("Check IP", EC2 user guide,
authorizing-access-to-an-instance). CLOUDVIPER_CHECKIP_URL points it elsewhere (the tests use
a server on 127.0.0.1); `preflight --offline` skips it.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.request
from collections.abc import Callable
from typing import Optional

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
    account = caller_arn.split(":")[4] if caller_arn.count(":") >= 5 else ""
    if ":assumed-role/" in caller_arn:
        role = caller_arn.split(":assumed-role/", 1)[1].split("/")[0]
        return f"arn:aws:iam::{account}:role/{role}"
    if ":user/" in caller_arn:
        return f"arn:aws:iam::{account}:user/{caller_arn.split(':user/', 1)[1]}"
    return caller_arn


def creator_verdict(cfg: StackConfig, caller_arn: str) -> Verdict:
    """EKS refuses a second access entry for the creator (ResourceInUseException) when it is bootstrapped as admin."""
    cluster = cfg.cluster
    if cluster is None or not cluster.creator_is_admin:
        return "pass", "no automatic admin entry", ""
    me = role_of(caller_arn)
    name = me.rsplit("/", 1)[-1]
    listed = [a for a in [*cluster.admins, *(e.principal_arn for e in cluster.access_entries)]
              if a == me or (":role/" in me and a.startswith(me.split(":role/")[0]) and a.endswith("/" + name))]
    if listed:
        return ("fail", f"the caller ({me}) is also in admins/accessEntries ({', '.join(listed)}) while "
                "creatorIsAdmin is true: EKS would refuse the second access entry",
                "remove it from admins/accessEntries (it is admin already), or set creatorIsAdmin: false")
    return "pass", f"{me} becomes cluster admin (creatorIsAdmin)", ""


def bucket_verdict(name: str, state: str, importing: bool) -> Verdict:
    """A bucket's name against what S3 says: state is missing, ours or theirs."""
    if state == "theirs":
        return "fail", f"bucket name {name} belongs to another account", "set another bucketName"
    if state == "ours" and not importing:
        return ("fail", f"bucket {name} already exists in this account (kept by an earlier pulumi destroy?); creating "
                "it again would adopt it silently in us-east-1", "set importExisting: true (and kmsKeyId) for it: "
                "README 'Bringing kept data back'")
    if state == "missing" and importing:
        return "fail", f"importExisting is set but bucket {name} does not exist", "unset importExisting"
    return "pass", f"{name}: {'adopted' if importing else 'free'}", ""
