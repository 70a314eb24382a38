"""Network and storage config: the VPC and the S3 data buckets."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, check_tag_text

BUCKET_LOGICAL_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$|^[a-z0-9]$")
BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_AZS = 6
# The private address ranges a VPC should use (RFC 1918 and the RFC 6598 shared range).
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


NatStrategy = Literal["none", "single", "per-az"]


class NetworkConfig(Model):
    """The VPC: address range, availability zones, NAT gateways, flow logs."""

    cidr: str = Field("10.0.0.0/16", description="VPC IPv4 range, a private network from /16 to /22.")
    az_count: Optional[int] = Field(
        None, ge=1, le=MAX_AZS, description="Use the first N available zones of the region (1-6)."
    )
    azs: Optional[list[str]] = Field(
        None, min_length=1, max_length=MAX_AZS, description="Or name the zones, e.g. [us-east-1a, us-east-1b]."
    )
    nat_strategy: NatStrategy = Field(
        "single", description="NAT gateways: none, single (cheapest) or per-az (survives an AZ outage)."
    )
    flow_logs: bool = Field(False, description="Send VPC flow logs to CloudWatch Logs.")
    flow_logs_retention_days: int = Field(30, ge=1, le=3653, description="How long flow logs are kept.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v, strict=True)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError) as exc:
            if "has host bits set" in str(exc):
                raise ValueError("has host bits set; use the network address, e.g. 10.0.0.0/16") from None
            raise ValueError("is not a valid IPv4 network; expected e.g. 10.0.0.0/16") from None
        if not 16 <= net.prefixlen <= 22:
            raise ValueError("must have a prefix from /16 to /22 (AWS allows /16 at most; /22 is the smallest that fits the subnet layout)")
        if not any(net.subnet_of(r) for r in PRIVATE_RANGES):
            raise ValueError("is not a private range; use 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")
        return v

    @field_validator("azs")
    @classmethod
    def _azs(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("names a zone twice")
        return v

    @model_validator(mode="after")
    def _one_zone_choice(self) -> NetworkConfig:
        if self.az_count is not None and self.azs is not None:
            raise ValueError("set either azCount or azs, not both")
        return self

    @property
    def zone_count(self) -> int:
        """How many availability zones the VPC spans."""
        if self.azs is not None:
            return len(self.azs)
        return self.az_count if self.az_count is not None else 2


class LifecycleConfig(Model):
    """When objects move to cheaper storage or expire."""

    glacier_ir_after_days: Optional[int] = Field(
        None, ge=1, le=36500, description="Move objects to Glacier Instant Retrieval after N days."
    )
    expire_after_days: Optional[int] = Field(
        None, ge=1, le=36500, description="Delete objects N days after creation (a delete marker if versioned)."
    )
    noncurrent_expire_after_days: Optional[int] = Field(
        None, ge=1, le=36500, description="Delete old object versions N days after they stop being current."
    )
    abort_incomplete_uploads_after_days: int = Field(
        7, ge=1, le=365, description="Remove unfinished multipart uploads after N days (they cost money, hold no data)."
    )

    @model_validator(mode="after")
    def _order(self) -> LifecycleConfig:
        g, e = self.glacier_ir_after_days, self.expire_after_days
        if g is not None and e is not None and e <= g:
            raise ValueError(
                f"expireAfterDays ({e}) must be later than glacierIrAfterDays ({g}); "
                "otherwise objects expire before they move"
            )
        return self


class BucketConfig(Model):
    """One S3 data bucket: private, encrypted, TLS-only, kept on `pulumi destroy` by default."""

    name: str = Field(description="Short logical name (lowercase, digits, hyphens), e.g. `raw`.")
    purpose: str = Field("data", min_length=1, max_length=256, description="What the bucket holds; its `purpose` tag.")
    bucket_name: Optional[str] = Field(
        None, description="Exact S3 bucket name; default `<project>-<stack>-<name>-<account id>`."
    )
    versioning: bool = Field(True, description="Keep old versions of overwritten and deleted objects.")
    encryption: Literal["kms", "s3"] = Field(
        "kms", description="kms: SSE-KMS with a stack key and bucket keys; s3: SSE-S3 (AES256)."
    )
    lifecycle: LifecycleConfig = Field(default_factory=lambda: LifecycleConfig.model_validate({}), description="Storage class and expiry rules.")
    allow_destroy: bool = Field(
        False, description="Let `pulumi destroy` delete the bucket and every object in it. Default: keep it."
    )
    import_existing: bool = Field(
        False, description="Adopt the bucket a `pulumi destroy` kept, instead of creating it (needs bucketName; "
                           "README: 'Bringing kept data back')."
    )
    kms_key_id: Optional[str] = Field(
        None, description="With importExisting: the id of the kept KMS key the bucket's objects are encrypted with; "
                          "the stack adopts it as its data key."
    )
    renamed_from: Optional[str] = Field(
        None, description="The `name` this bucket had before: the stack keeps the same S3 bucket, with its data, under "
                          "the new name (needs bucketName: its S3 name; README 'Renaming or retiring a kept bucket')."
    )
    retired: bool = Field(
        False, description="The stack stops using this kept bucket and leaves it, with its data and the KMS key, in "
                           "AWS (README 'Renaming or retiring a kept bucket')."
    )

    @model_validator(mode="after")
    def _import(self) -> BucketConfig:
        if self.import_existing and not self.bucket_name:
            raise ValueError("importExisting needs bucketName: the exact name of the kept bucket (`aws s3 ls`)")
        if self.kms_key_id and not (self.import_existing and self.encryption == "kms"):
            raise ValueError("kmsKeyId adopts a kept key for an imported kms bucket; set importExisting: true "
                             "(and encryption: kms)")
        return self

    @model_validator(mode="after")
    def _rename_or_retire(self) -> BucketConfig:
        if self.renamed_from is not None:
            if self.renamed_from == self.name:
                raise ValueError("renamedFrom names the bucket itself; set it to the name the bucket had before")
            if not self.bucket_name:
                raise ValueError("renamedFrom needs bucketName: the S3 name of the bucket it was (S3 buckets cannot be "
                                 "renamed; `pulumi stack output dataBuckets` shows it)")
            if self.import_existing or self.retired:
                raise ValueError("renamedFrom keeps a bucket the stack manages; it cannot be combined with "
                                 "importExisting or retired")
        if self.retired and (self.allow_destroy or self.import_existing):
            raise ValueError("retired leaves a kept bucket in AWS; it cannot be combined with allowDestroy (remove the "
                             "entry to delete such a bucket) or importExisting")
        return self

    @field_validator("name", "renamed_from")
    @classmethod
    def _name(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not BUCKET_LOGICAL_RE.match(v):
            raise ValueError("must be 1-32 lowercase letters, digits or hyphens, not starting or ending with a hyphen")
        return v

    @field_validator("bucket_name")
    @classmethod
    def _bucket_name(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        if not BUCKET_NAME_RE.match(v) or ".." in v or v.startswith("xn--") or v.endswith("-s3alias"):
            raise ValueError("is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens")
        return v

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, v: str) -> str:
        return check_tag_text(v, "value", 256)


def rename_problems(project: str, buckets: list[BucketConfig]) -> list[str]:
    """A renamedFrom names a bucket that is gone, and only one entry takes it over (for the loader, next to
    duplicate_names; the Pulumi engine refuses both too, at preview: GetDuplicateResourceAliasError)."""
    problems: list[str] = []
    names = {b.name: i for i, b in enumerate(buckets)}
    claimed: dict[str, int] = {}
    for i, b in enumerate(buckets):
        old = b.renamed_from
        where = f"{project}:buckets[{i}].renamedFrom: \"{old}\""
        if old is None:
            continue
        if old in names:
            problems.append(f"{where} names the entry {project}:buckets[{names[old]}], which is still declared: a "
                            "renamed bucket's old entry must go")
        elif old in claimed:
            problems.append(f"{where} is also the renamedFrom of {project}:buckets[{claimed[old]}]; only one entry "
                            "can take that bucket over")
        else:
            claimed[old] = i
    return problems


Buckets = Annotated[list[BucketConfig], Field(max_length=50)]
