"""Fail unless the installed packages are exactly the versions a requirements file pins (==).

Run inside the built image (and by tests/test_dask_image.py against .venv-dask): a Client built from
requirements-dask.txt must match the image's dask and distributed, or computations fail to deserialize.
Standard library only: the image's Python has nothing of ours.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version

PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def pins(path: str) -> dict[str, str]:
    """name -> version of every `name==version` line."""
    found = {}
    with open(path) as handle:
        for line in handle:
            match = PIN.match(line)
            if match:
                found[match.group(1)] = match.group(2)
    return found


def mismatches(expected: dict[str, str]) -> list[str]:
    """Packages whose installed version differs from the pin (or that are missing)."""
    problems = []
    for name, want in sorted(expected.items()):
        try:
            have = version(name)
        except PackageNotFoundError:
            problems.append(f"{name}: not installed, {want} expected")
            continue
        if have != want:
            problems.append(f"{name}: {have} installed, {want} expected")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: check_versions.py REQUIREMENTS", file=sys.stderr)
        return 2
    problems = mismatches(pins(argv[1]))
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"all {len(pins(argv[1]))} pinned packages match {argv[1]}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
