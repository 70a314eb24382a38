"""AWS region names, and "did you mean" for a name that is not one (standard library only: the pack imports it).

aws-regions.txt is every region of every partition the pinned botocore knows: `botocore/data/endpoints.json` and
`botocore/data/partitions.json` (`partitions[].regions`, without the `*-global` pseudo-regions; partitions.json, which
endpoint resolution uses, has regions endpoints.json lacks, e.g. me-west-1 and sa-west-1 in 1.44.5).
tests/test_config_messages.py keeps it equal to those files. A region AWS opens later
is added by updating boto3 in requirements.txt and regenerating the list (README "Troubleshooting").
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

from infra.config.errors import did_you_mean

REGIONS_FILE = Path(__file__).with_name("aws-regions.txt")
BOTOCORE = "1.44.5"  # requirements.txt pins it (boto3 alone would take any 1.44.x); tests pin the list to it


@functools.cache
def known_regions() -> tuple[str, ...]:
    """Every AWS region name botocore knows, sorted."""
    return tuple(line.strip() for line in REGIONS_FILE.read_text().splitlines() if line.strip())


def region_problem(value: object) -> Optional[str]:
    """Why `value` is not an AWS region name (with the closest one), or None when it is one."""
    if isinstance(value, str) and value in known_regions():
        return None
    if not isinstance(value, str):
        return "is not an AWS region name (a string such as us-east-1)"
    hint = did_you_mean(value, known_regions()) or "expected e.g. us-east-1"
    return (f"is not an AWS region; {hint} (the regions botocore {BOTOCORE} knows: infra/config/{REGIONS_FILE.name}; "
            "a region AWS opened later needs a newer boto3)")
