"""Which pulumi_aws resource types accept `tags`: shipped as data, regenerated from the SDK source.

Regenerate after bumping pulumi-aws:  .venv/bin/python -m policies.taggable_types --write
(a test fails while the shipped list differs from the installed SDK).
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "aws-taggable-types.txt"
_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'(aws:[^']+)'")


def scan(sdk_dir: Path) -> list[str]:
    """Type tokens of every pulumi_aws resource whose constructor takes `tags`."""
    found = set()
    for path in sdk_dir.rglob("*.py"):
        text = path.read_text(errors="replace")
        if '__props__.__dict__["tags"] = tags' not in text:
            continue
        found.update(_TOKEN.findall(text))
    return sorted(found)


def all_types(sdk_dir: Path) -> list[str]:
    """Type tokens of every pulumi_aws resource (the policy pack's type lists are checked against these)."""
    found = set()
    for path in sdk_dir.rglob("*.py"):
        found.update(_TOKEN.findall(path.read_text(errors="replace")))
    return sorted(found)


@cache
def taggable_types() -> frozenset[str]:
    """The shipped list."""
    return frozenset(line.strip() for line in DATA.read_text().splitlines() if line.strip())


def main(argv: list[str]) -> int:
    """Print (or --write) the list scanned from the installed pulumi_aws."""
    import pulumi_aws

    types = scan(Path(pulumi_aws.__file__).parent)
    text = "\n".join(types) + "\n"
    if "--write" in argv:
        DATA.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
