"""No public ingress, judged per security group and port on the address space its rules open together.

Every way to add ingress counts: inline `ingress` of a SecurityGroup or DefaultSecurityGroup, SecurityGroupRule (type
ingress) and vpc SecurityGroupIngressRule, and the entries of a ManagedPrefixList a rule names. Protocol `-1` (or any
protocol but tcp, udp, icmp and icmpv6) opens all ports whatever fromPort/toPort say (EC2 API IpPermission.IpProtocol,
botocore ec2 2016-11-15 service-2.json: "specifying -1 or a protocol number other than tcp, udp, icmp, or icmpv6 allows
traffic on all ports, regardless of any port range you specify"). The ranges a group opens on a port are judged
together (infra/config/cidrs.py): 0.0.0.0/1 + 128.0.0.0/1, or many /8s, open the internet as surely as 0.0.0.0/0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Optional

from pulumi_policy import EnforcementLevel, PolicyResource, Severity, StackValidationArgs

from infra.config.cidrs import MAX_OPEN_V4_PREFIX, MAX_OPEN_V6_PREFIX, too_open
from policies.rules.aws_common import read
from policies.rules.common import Report, config, is_list, label, schema, stack_policy

SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
FAMILIES = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "icmpv6": "icmp",
            "58": "icmp"}
ALL_PORTS = (0, 65535)

SCHEMA = schema(
    allowedPublicPorts={
        "type": "array", "items": {"type": "integer"}, "default": [],
        "description": f"TCP/UDP ports a security group may open to more than a /{MAX_OPEN_V4_PREFIX} (IPv4) or "
                       f"/{MAX_OPEN_V6_PREFIX} (IPv6) of public addresses (e.g. 443 for a public load balancer).",
    },
)


@dataclass(frozen=True)
class Opening:
    """One ingress rule: which group, protocol family (tcp, udp, icmp or all), ports and CIDR ranges, and its source."""

    group: str
    family: str
    lo: int
    hi: int
    cidrs: tuple[str, ...]
    source: str


def _list(value: Any) -> list[Any]:
    return list(value) if is_list(value) else ([] if value is None else [value])


def _ports(family: str, lo: Any, hi: Any) -> tuple[int, int]:
    if family not in ("tcp", "udp") or lo is None or hi is None:
        return ALL_PORTS
    lo_, hi_ = int(lo), int(hi)
    return ALL_PORTS if lo_ < 0 or hi_ < 0 else (min(lo_, hi_), max(lo_, hi_))


class Graph:
    """The stack's security groups and prefix lists, to key rules by group and expand prefix lists."""

    def __init__(self, resources: list[PolicyResource]) -> None:
        self.groups = {str(read(r.props, "id")): r.urn for r in resources
                       if r.resource_type in (SG, DEFAULT_SG) and read(r.props, "id") is not None}
        self.lists = [r for r in resources if r.resource_type == PREFIX_LIST]

    def group_of(self, rule: PolicyResource) -> str:
        """The security group a standalone rule adds to (its URN when known, else the id it names)."""
        for dep in (rule.property_dependencies or {}).get("securityGroupId", []):
            if dep.resource_type in (SG, DEFAULT_SG):
                return dep.urn
        value = read(rule.props, "securityGroupId")
        return self.groups.get(str(value), str(value)) if value is not None else f"unknown group of {rule.urn}"

    def prefix_cidrs(self, res: PolicyResource, ids: list[Any]) -> Optional[list[str]]:
        """Entries of the prefix lists a rule names: matched by id, the rest by the resource's dependencies on the
        stack's lists (all of those, to err wide); None when some list is not in the stack."""
        wanted = {str(i) for i in ids}
        named = [p for p in self.lists if str(read(p.props, "id")) in wanted]
        unmatched = wanted - {str(read(p.props, "id")) for p in named}
        deps = [d for v in (res.property_dependencies or {}).values() for d in v if d.resource_type == PREFIX_LIST]
        if len(unmatched) > len({d.urn for d in deps}):
            return None
        chosen = named + (deps if unmatched else [])
        return [str(read(e, "cidr")) for p in chosen for e in _list(read(p.props, "entries"))]


def openings(res: PolicyResource, graph: Graph) -> tuple[list[Opening], list[str]]:
    """(CIDR openings, problems) of one resource's ingress rules."""
    found: list[Opening] = []
    problems: list[str] = []
    if res.resource_type in (SG, DEFAULT_SG):
        rules = [(res.urn, r, "protocol", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds")
                 for r in _list(read(res.props, "ingress")) if isinstance(r, Mapping)]
    elif res.resource_type == SG_RULE and read(res.props, "type") == "ingress":
        rules = [(graph.group_of(res), res.props, "protocol", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds")]
    elif res.resource_type == INGRESS_RULE:
        rules = [(graph.group_of(res), res.props, "ipProtocol", "cidrIpv4", "cidrIpv6", "prefixListId")]
    else:
        return [], []
    for group, rule, proto_key, v4, v6, pl in rules:
        family = FAMILIES.get(str(read(rule, proto_key)).lower(), "all")
        lo, hi = _ports(family, read(rule, "fromPort"), read(rule, "toPort"))
        from_lists = graph.prefix_cidrs(res, _list(read(rule, pl)))
        if from_lists is None:
            problems.append(f"{label(res)} allows ingress from prefix list(s) {_list(read(rule, pl))} that are not in "
                            "this stack, so the pack cannot tell whom they let in")
            from_lists = []
        cidrs = [str(c) for c in _list(read(rule, v4)) + _list(read(rule, v6)) + from_lists]
        if cidrs:
            found.append(Opening(group, family, lo, hi, tuple(cidrs), label(res)))
    return found, problems


def exposures(found: list[Opening], allowed: set[int]) -> dict[tuple[str, str, tuple[str, ...]], list[str]]:
    """{(family, why, sources): [port ranges]} where a group's rules together open more than the limit."""
    out: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for group in sorted({o.group for o in found}):
        for family in ("tcp", "udp", "icmp"):
            mine = [o for o in found if o.group == group and o.family in (family, "all")]
            cuts = sorted({o.lo for o in mine} | {o.hi + 1 for o in mine})
            for a, b in pairwise(cuts):
                here = [o for o in mine if o.lo <= a and b - 1 <= o.hi]
                why = too_open([c for o in here for c in o.cidrs])
                if not why or (family != "icmp" and all(p in allowed for p in range(a, b))):
                    continue
                key = (family, why, tuple(dict.fromkeys(o.source for o in here)))
                out.setdefault(key, []).append("all" if (a, b - 1) == ALL_PORTS else
                                               (f"{a}" if a == b - 1 else f"{a}-{b - 1}"))
    return out


def validate(args: StackValidationArgs, report: Report) -> None:
    """Report every port a security group opens too widely, naming the rules that open it."""
    allowed = {int(p) for p in config(args, SCHEMA)["allowedPublicPorts"]}
    resources = list(args.resources)
    graph, found, urns = Graph(resources), [], {label(r): r.urn for r in resources}
    for res in resources:
        opened, problems = openings(res, graph)
        found += opened
        for problem in problems:
            report(problem, res.urn)
    for (family, why, sources), ports in exposures(found, allowed).items():
        what = "ICMP" if family == "icmp" else (f"all {family} ports" if ports == ["all"] else
                                                 f"{family} ports {', '.join(ports)}")
        verb = "together allow" if len(sources) > 1 else "allows"
        report(f"{' and '.join(sources)} {verb} ingress on {what} from ranges that {why}; allowedPublicPorts: "
               f"{sorted(allowed) or 'none'}", urns[sources[0]])


INGRESS = stack_policy(
    "no-public-ingress",
    f"Security groups open no port to more than a /{MAX_OPEN_V4_PREFIX} (IPv4) or /{MAX_OPEN_V6_PREFIX} (IPv6) of "
    "public addresses, counting every rule and prefix list of the group together and protocol -1 as all ports, "
    "except allowedPublicPorts.",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, SCHEMA,
    "Restrict the rules to your institution's CIDRs, or allow the single port in the stack's policy config.",
)
