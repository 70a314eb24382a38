"""Preflight: what would make `pulumi up` fail after twenty minutes, checked in seconds with boto3.

Uses the standard AWS credential chain; honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>)
so it can be pointed at an emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import boto3
import botocore.exceptions

from infra.config.errors import ConfigError
from infra.config.placement import pool_zones
from infra.config.policy_file import load_policy_config
from infra.config.stack import StackConfig
from infra.ops import access_checks
from infra.ops.aws_errors import AWS_ERRORS, credentials_problem, describe_failure, one_line
from infra.ops.buckets import physical_name
from infra.ops.prices_refresh import fetch_spot
from infra.ops.vcpu_quotas import QUOTAS, max_vcpus
from infra.pricing.tables import load_prices

PASS, WARN, FAIL = "pass", "warn", "fail"
STOPPED = "preflight: stopped after the identity check: every other check needs working AWS credentials"


@dataclass
class Check:
    """One check's verdict."""

    name: str
    status: str
    detail: str
    fix: str = ""


def allowed_regions(stack: str, config_dir: Path) -> list[str]:
    """allowedRegions from the stack's policy config (policies/config/<stack>.json, validated), else the rule's default."""
    from policies.pack import pack_specs

    config = load_policy_config(stack, config_dir, pack_specs())
    return list(config.rules["allowed-regions"][1]["allowedRegions"])


class Preflight:
    """Runs every check for one stack; each check catches its own AWS errors.

    The identity check runs first: when it fails (no credentials, an expired SSO login, a profile that does not
    exist) every other check would fail the same way, so preflight stops there with one hint (`stopped`).
    """

    def __init__(self, cfg: StackConfig, policy_config_dir: Path, session: Optional[boto3.session.Session] = None,
                 offline: bool = False, managed_buckets: Optional[set[str]] = None) -> None:
        self.cfg = cfg
        self.policy_config_dir = policy_config_dir
        self._session = session  # made on first use: boto3 raises ProfileNotFound there, inside the identity check
        self.prices = load_prices(cfg.region)
        self.offline = offline
        self.managed_buckets = managed_buckets  # from `pulumi stack export`; None: unknown
        self._zones: Optional[list[str]] = None
        self._caller: Optional[dict[str, str]] = None
        self.stopped = False
        self.credentials_failed = False  # the identity check failed on the credentials (not on the network)

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            self._session = boto3.session.Session(region_name=self.cfg.region)
        return self._session

    def client(self, service: str) -> Any:
        from infra.ops.aws_clients import client as aws_client  # timeouts and retries, set in one place

        return aws_client(self.session, service, region_name=self.cfg.region)

    def run(self) -> list[Check]:
        """The identity check, then (if it passed) every other check, in order."""
        try:
            results = [self.identity()]
        except AWS_ERRORS as exc:
            self.stopped = True
            self.credentials_failed = credentials_problem(exc)
            return [Check("identity", FAIL, *describe_failure(exc, "sts", "GetCallerIdentity"))]
        checks: list[Callable[[], Check]] = [self.region, self.offerings, self.spot_prices, self.quotas,
                                             self.eks_version, self.api_access, self.access_entries, self.kept_buckets]
        for check in checks:
            name = check.__name__.replace("_", " ")
            try:
                results.append(check())
            except AWS_ERRORS as exc:
                detail, fix = describe_failure(exc, "AWS", "")
                results.append(Check(name, FAIL, detail, fix))
            except ConfigError as exc:
                results.append(Check(name, FAIL, str(exc), "fix the file and run preflight again"))
        return results

    def caller(self) -> dict[str, str]:
        """STS GetCallerIdentity, once."""
        if self._caller is None:
            self._caller = self.client("sts").get_caller_identity()
        return self._caller

    def identity(self) -> Check:
        who = self.caller()
        return Check("identity", PASS, f"account {who['Account']} as {who['Arn']}")

    def api_access(self) -> Check:
        return Check("API access", *access_checks.api_access_verdict(
            self.cfg, None if self.offline else access_checks.egress_address))

    def access_entries(self) -> Check:
        return Check("access entries", *access_checks.creator_verdict(self.cfg, self.caller()["Arn"]))

    # The stack's data buckets and key from `pulumi stack export` (list of infra.ops.kept_buckets.StateResource,
    # from kept_buckets.load_state); None: no state given.
    previous_state: Optional[list[Any]] = None

    def kept_buckets(self) -> Check:
        """No bucket name is taken, by another account or by a bucket an earlier destroy kept; no kept bucket of the
        stack's state is orphaned by the config (renamed or removed: infra/ops/kept_buckets.py)."""
        from infra.ops import kept_buckets

        s3, account = self.client("s3"), self.caller()["Account"]
        verdicts = []
        for b in self.cfg.buckets:
            if b.retired:  # left in AWS on purpose: no longer the stack's bucket
                continue
            name = physical_name(self.cfg, b, account)
            try:
                s3.head_bucket(Bucket=name, ExpectedBucketOwner=account)
                state = "ours"
            except botocore.exceptions.ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                state = "missing" if code in ("404", "NoSuchBucket", "NotFound") else "denied"
            verdicts.append(access_checks.bucket_verdict(name, state, b.import_existing, self.managed_buckets))
        verdicts += kept_buckets.state_verdicts(self.cfg, self.previous_state, account)
        for status in (FAIL, WARN):
            worst = [v for v in verdicts if v[0] == status]
            if worst:
                return Check("buckets", status, "; ".join(v[1] for v in worst), worst[0][2])
        return Check("buckets", PASS, "; ".join(v[1] for v in verdicts) or "no buckets")

    def region(self) -> Check:
        allowed = allowed_regions(self.cfg.stack, self.policy_config_dir)
        region = self.cfg.region
        if region not in allowed:
            return Check("region", FAIL, f"{region} is not in allowedRegions ({', '.join(allowed)})",
                         f"set aws:region to one of {', '.join(allowed)}, or extend policies/config/{self.cfg.stack}.json")
        regions = {r["RegionName"]: r.get("OptInStatus") for r in self.client("ec2").describe_regions(AllRegions=True)["Regions"]}
        if regions.get(region) == "not-opted-in":
            return Check("region", FAIL, f"{region} is not enabled for this account",
                         f"enable it: aws account enable-region --region-name {region}")
        if region not in regions:
            return Check("region", FAIL, f"{region} is not a region this account can see", "check aws:region")
        return Check("region", PASS, f"{region} is allowed and enabled")

    def zones(self) -> list[str]:
        if self._zones is None:
            net = self.cfg.network
            if net.azs:
                self._zones = list(net.azs)
            else:
                found = self.client("ec2").describe_availability_zones(
                    Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required"]},
                             {"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
                self._zones = sorted(z["ZoneName"] for z in found)[: net.zone_count]
        return self._zones

    def offerings(self) -> Check:
        types = sorted({t for g in self.cfg.node_groups for t in g.instance_types})
        if not types:
            return Check("instance types", PASS, "no node groups")
        zones = self.zones()
        offered: dict[str, set[str]] = {t: set() for t in types}
        paginator = self.client("ec2").get_paginator("describe_instance_type_offerings")
        for page in paginator.paginate(LocationType="availability-zone",
                                       Filters=[{"Name": "instance-type", "Values": types},
                                                {"Name": "location", "Values": zones}]):
            for o in page["InstanceTypeOfferings"]:
                offered.setdefault(o["InstanceType"], set()).add(o["Location"])
        group_zones = {g.name: [zones[i] for i in pool_zones(g, self.cfg.network) if i < len(zones)]
                       for g in self.cfg.node_groups}
        unplaceable = [f"group {g.name}: none of {', '.join(g.instance_types)} is offered in "
                       f"{', '.join(group_zones[g.name])}" for g in self.cfg.node_groups
                       if all(not offered[t] & set(group_zones[g.name]) for t in g.instance_types)]
        if unplaceable:
            return Check("instance types", FAIL, "; ".join(unplaceable), "pick types offered in these zones or other zones")
        missing = {(g.name, t): sorted(set(group_zones[g.name]) - offered[t]) for g in self.cfg.node_groups
                   for t in g.instance_types if set(group_zones[g.name]) - offered[t]}
        if missing:
            parts = [f"{t} not in {', '.join(z)}" for (_, t), z in missing.items()]
            singles = [g.name for g in self.cfg.node_groups if len(g.instance_types) == 1 and (g.name, g.instance_types[0]) in missing]
            status = FAIL if singles else WARN
            fix = (f"groups {', '.join(singles)} have a single type missing in a zone: add types of the same shape or "
                   "change cloudviper:network.azs") if singles else ""
            return Check("instance types", status, "; ".join(parts), fix)
        return Check("instance types", PASS, f"{len(types)} types offered in {', '.join(zones)}")

    def spot_prices(self) -> Check:
        types = sorted({t for g in self.cfg.node_groups if g.spot for t in g.instance_types})
        if not types:
            return Check("spot prices", PASS, "no spot groups")
        current = fetch_spot(self.cfg.region, types, self.session, zones=self.zones())
        above = {t: p for t, p in current.items() if p > self.prices.spot_price(t) * 1.25}
        missing = [t for t in types if t not in current]
        if above:
            shown = ", ".join(f"{t} ${p:.4f}/h vs estimate ${self.prices.spot_price(t):.4f}/h" for t, p in sorted(above.items()))
            return Check("spot prices", WARN, f"above the cost model's estimate: {shown}",
                         "run `python -m infra prices refresh` so budgets use current spot prices")
        detail = f"{len(current)} types at or below the estimate (on-demand x {self.prices.spot_ratio})"
        if missing:
            return Check("spot prices", WARN, detail + f"; no recent price for {', '.join(missing)}")
        return Check("spot prices", PASS, detail)

    def quotas(self) -> Check:
        need = max_vcpus(self.cfg, self.prices)
        if not need:
            return Check("vCPU quotas", PASS, "no node groups")
        sq = self.client("service-quotas")
        short: list[str] = []
        ok: list[str] = []
        unchecked: list[str] = []
        for (family, market), vcpus in sorted(need.items()):
            if vcpus == 0:
                continue
            if family not in QUOTAS:
                unchecked.append(f"{family} {market} {vcpus}")
                continue
            code = QUOTAS[family][0 if market == "on-demand" else 1]
            try:
                value = sq.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
            except AWS_ERRORS as exc:
                unchecked.append(f"{family} {market} ({code}: {one_line('service-quotas', 'GetServiceQuota', exc)})")
                continue
            (short if vcpus > value else ok).append(f"{family} {market}: {vcpus} vCPU needed, quota {value:g} ({code})")
        if short:
            return Check("vCPU quotas", FAIL, "; ".join(short),
                         "request an increase in the Service Quotas console (EC2), or lower maxSize")
        detail = "; ".join(ok) or "nothing to check"
        if unchecked:
            return Check("vCPU quotas", WARN, f"{detail}; not checked: {', '.join(unchecked)}")
        return Check("vCPU quotas", PASS, detail)

    def eks_version(self) -> Check:
        if self.cfg.cluster is None:
            return Check("EKS version", PASS, "no cluster")
        version = self.cfg.cluster.version
        try:
            found = self.client("eks").describe_cluster_versions(clusterVersions=[version])["clusterVersions"]
        except AWS_ERRORS as exc:
            return Check("EKS version", WARN, f"could not verify {version}: {exc.__class__.__name__}")
        return eks_version_verdict(version, found)


def eks_version_verdict(version: str, found: list[dict[str, Any]]) -> Check:
    """Pass in standard support, warn in extended support (6x the price), fail otherwise."""
    status = next((str(v.get("versionStatus") or v.get("status") or "") for v in found
                   if v.get("clusterVersion") == version), "")
    if not status:
        return Check("EKS version", FAIL, f"Kubernetes {version} is not offered by EKS in this region",
                     "set cloudviper:cluster.version to a supported version")
    if status.upper() in ("STANDARD_SUPPORT", "ACTIVE"):
        return Check("EKS version", PASS, f"{version} in standard support")
    if "EXTENDED" in status.upper():
        return Check("EKS version", WARN, f"{version} is in extended support ($0.60/hour instead of $0.10)",
                     "upgrade cloudviper:cluster.version")
    return Check("EKS version", FAIL, f"{version} is {status}", "set cloudviper:cluster.version to a supported version")


def render(checks: list[Check], stopped: bool = False) -> str:
    """The pass/warn/fail table with a fix line under each failure or warning that has one."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  status  detail"]
    for c in checks:
        lines.append(f"{c.name:<{width}}  {c.status:<6}  {c.detail}")
        if c.fix and c.status != PASS:
            lines.append(f"{'':<{width}}  {'':<6}  fix: {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    lines.append(STOPPED if stopped else
                 f"preflight: {len(checks) - failed - warned} checks passed, {warned} warnings, {failed} failed")
    return "\n".join(lines)

