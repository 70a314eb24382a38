"""What every config model shares: the base class and the value checks several areas use."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# AWS tag keys/values: letters, digits, spaces and _ . : / = + - @ (EC2 is the strictest service).
TAG_CHARS_RE = re.compile(r"^[\w .:/=+\-@]*$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY_RE = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$")


class Model(BaseModel):
    """Base for config models: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


def check_tag_text(value: str, what: str, limit: int) -> str:
    """The value, if AWS accepts it as a tag key or value (`what`) of at most `limit` characters."""
    if len(value) > limit:
        raise ValueError(f"is longer than {limit} characters, the AWS limit for a tag {what}")
    if not TAG_CHARS_RE.match(value):
        raise ValueError(
            f"has characters AWS does not accept in a tag {what}; "
            "allowed: letters, digits, spaces and _ . : / = + - @"
        )
    return value


def dns_label(v: str) -> str:
    """The value, if it is a DNS label (Kubernetes names of namespaces, service accounts, secrets)."""
    if not DNS_LABEL_RE.match(v):
        raise ValueError("must be a DNS label: 1-63 lowercase letters, digits or hyphens")
    return v


def quantity(v: str) -> str:
    """The value, if it is a Kubernetes quantity such as 500m, 2 or 4Gi."""
    if not QUANTITY_RE.match(v):
        raise ValueError("is not a Kubernetes quantity, e.g. 500m, 2, 4Gi")
    return v


BYTES_RE = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)$")
BYTE_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
              "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def byte_size(v: str, minimum: str = "0Ki") -> str:
    """The value, if it is an amount of bytes with a unit (4Gi, 500M) of at least `minimum`.

    A bare number is bytes to Kubernetes, so `memory: 8` would give a pod 8 bytes: refused."""
    m = BYTES_RE.match(v)
    if not m:
        raise ValueError("needs a unit, e.g. 4Gi or 500Mi (a bare number is bytes to Kubernetes)")
    if bytes_of(v) < bytes_of(minimum):
        raise ValueError(f"is less than {minimum}")
    return v


def bytes_of(v: str) -> int:
    """An amount validated by byte_size, in bytes."""
    m = BYTES_RE.match(v)
    if not m:
        raise ValueError(f"{v} is not an amount of bytes with a unit")
    return int(float(v[: m.start(2)]) * BYTE_UNITS[m.group(2)])


# The reference grammar of distribution/reference (regexp.go): tag `[\w][\w.-]{0,127}`, a sha256 digest is 64 hex
# digits (Kubernetes pulls by what the runtime resolves; an image without a tag means :latest).
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)  # Go's \w is ASCII; used with fullmatch (no trailing newline)
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def pinned_image(v: str) -> str:
    """The image reference, if it names a fixed version: a tag other than latest, or a sha256 digest."""
    name, at, digest = v.partition("@")
    if at:
        if not DIGEST_RE.fullmatch(digest):
            raise ValueError("has a malformed digest: expected @sha256: and 64 hex digits")
        return v
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag or tag == "latest":
        raise ValueError("is not pinned: name a version tag (not latest) or a digest, e.g. repo/image:2026.1.1")
    if not TAG_RE.fullmatch(tag):
        raise ValueError(f"has an invalid tag {tag!r}: letters, digits, _ . - (at most 128, not starting with . or -)")
    return v
