"""Inputs for the fuzz run (tests/fuzz_runner.py): mutated stack files and random command lines for every subcommand.

Seeds are the repo's own stack files (Pulumi.*.yaml, top level and tests/stacks). Mutations are byte-level (flips,
truncation, inserted bytes, bad UTF-8), line-level (a duplicated key, a value replaced by a list, map, number, date,
alias, tag, huge or odd-unicode string), whole-file (billion laughs, deep nesting, a top-level list) and file kinds
(a folder, a FIFO, a device, a symlink loop, 2 MB).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(rb"^(\s*(?:- )?)([^:#\n][^:\n]*):[ \t]+(\S.*)$")

ODD = ["\u202e", "\u200b", "\u00a0", "e\u0301", "\U0001f600", "\ufeff", "\u2028", "\ud7ff", "\ufffd", "Ω", "𝔘"]
VALUES = [
    "yes", "no", "on", "off", "y", "1:30", "2024-01-01", "2024-01-01T10:00:00Z", "0x1F", "0777", "1_000", "1e999",
    ".inf", "-.nan", "~", "null", "", "true", "[]", "{}", "[1, [2, [3]]]", "{a: {b: {c: d}}}", "{1: x}", "{? [a]: b}",
    "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [{a: 1}]", "!!timestamp 2001-12-14", "!!int abc", "!!python/tuple [1]",
    "!foo bar", "*nowhere", "&a [*a]", "&x 1", "<<: 1", "{secure: 5}", "{secure: v1:abc, other: x}", "{secure: [1]}",
    '"\\u0000"', "'unterminated", '"\\q"', "|\n  block\n   text", ">-\n  folded", "- a\n- b", "\t", "-1", "9" * 40,
    "'" + "x" * 5000 + "'", "%", "@x", "`x", "? a", "a: b: c", "[unclosed", "{unclosed",
]
LAUGHS = b"".join(b"l%d: &l%d [%s]\n" % (i, i, b", ".join([b"*l%d" % (i - 1) if i else b'"lol"'] * 9))
                  for i in range(10))
KINDS = ("dir", "fifo", "device", "loop", "dangling", "empty", "huge")


@dataclass
class StackInput:
    """What to put at Pulumi.fuzz.yaml: bytes, or a special file kind; `project` also mutates Pulumi.yaml."""

    data: bytes = b""
    kind: str = "file"
    project: Optional[bytes] = None
    policy: Optional[bytes] = None
    label: str = ""


def seeds() -> list[bytes]:
    """The repo's stack files (example stacks and test stacks)."""
    files = sorted(ROOT.glob("Pulumi.*.yaml")) + sorted((ROOT / "tests" / "stacks").glob("Pulumi.*.yaml"))
    return [p.read_bytes() for p in files]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = rng.choice([b"\x00", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\r", b"\t", b"\x1b[31m", b"\x85",
                       bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))), rng.choice(ODD).encode()])
    return data[:at] + junk + data[at:]


def _key_line(rng: random.Random, lines: list[bytes]) -> Optional[int]:
    """The index of a random `key: value` line, or None when there is none."""
    spots = [i for i, line in enumerate(lines) if LINE.match(line)]
    return rng.choice(spots) if spots else None


def _replace_value(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = _key_line(rng, lines)
    if i is None:
        return data
    m = LINE.match(lines[i])
    assert m is not None
    value = rng.choice([*VALUES, rng.choice(ODD) * rng.randint(1, 50), "x" * rng.choice([100, 70000, 1100000])])
    indent = b" " * (len(m.group(1)) + 2)
    lines[i] = m.group(1) + m.group(2) + b": " + value.replace("\n", "\n" + indent.decode()).encode("utf-8", "replace")
    return b"\n".join(lines)


def _duplicate_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = _key_line(rng, lines)
    if i is None:
        return data
    return b"\n".join([*lines[:i + 1], lines[i], *lines[i + 1:]])


def _rename_key(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = _key_line(rng, lines)
    if i is None:
        return data
    m = LINE.match(lines[i])
    assert m is not None
    key = rng.choice([b"1", b"true", b"null", b"[a]", b"a:b:c", b":x", b"tags", b"cloudviper:config:tags", b"<<",
                      b"cloudviper:tags", b"secure", b"config", rng.choice(ODD).encode(), b"k" * 2000])
    lines[i] = m.group(1) + key + b": " + m.group(3)
    return b"\n".join(lines)


def _whole(rng: random.Random, data: bytes) -> bytes:
    choice = rng.randrange(9)
    if choice == 0:
        return LAUGHS + data
    if choice == 1:
        depth = rng.choice([50, 101, 5000, 200_000])
        return data + b"\nx: " + b"[" * depth + b"]" * depth + b"\n"
    if choice == 2:
        return b"- " + data.replace(b"\n", b"\n  ")
    if choice == 3:
        return b"config: [a, b]\n"
    if choice == 4:
        return b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    if choice == 5:
        return data + b"\n---\nconfig: {}\n"
    if choice == 6:
        return data.replace(b"  ", b"\t", 1)
    if choice == 7:
        return rng.choice([b"", b"~", b"42", b"'text'", b"config:", b"config: ~", b"%YAML 1.1\n---\n" + data])
    return b"base: &b {aws:region: us-east-1}\n" + data.replace(b"config:\n", b"config:\n  <<: *b\n", 1)


MUTATORS = (_flip, _insert, _replace_value, _replace_value, _replace_value, _duplicate_line, _rename_key, _whole,
            lambda rng, d: d[:rng.randrange(len(d) + 1)])


def stack_input(rng: random.Random, pool: list[bytes]) -> StackInput:
    """One mutated stack file (1-3 mutations of a seed), now and then a special file or a mutated Pulumi.yaml."""
    if rng.random() < 0.04:
        return StackInput(kind=rng.choice(KINDS), label="kind")
    data = rng.choice(pool)
    names = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutate = rng.choice(MUTATORS)
        data = mutate(rng, data)
        names.append(getattr(mutate, "__name__", "truncate").strip("_"))
    found = StackInput(data=data, label="+".join(names))
    if rng.random() < 0.08:
        project = (ROOT / "Pulumi.yaml").read_bytes()
        found.project = rng.choice(MUTATORS)(rng, project)
    if rng.random() < 0.05:
        found.policy = rng.choice([b"{", b"[]", b"[" * 100_000, b"\xff", b'{"all": "x"}', b"", b'{"a": 1e999}'])
    return found


def write_special(path: Path, kind: str) -> None:
    """Put a special file of `kind` at `path` (the fuzzer removes it afterwards)."""
    import os

    if kind == "dir":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere" / "x.yaml")
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"config:\n  aws:region: us-east-1\n" + b"#" * 2_100_000 + b"\n")


STACK_NAMES = ["fuzz"] * 6 + ["dev", "nope", "", "a/b", "../fuzz", "x" * 300, "-", "FUZZ", "ü", "org/proj/fuzz"]
TEXT = ["", "x", "a b", "--json", "-", "ü" * 3, "\u202e", "x" * 500, "%s", "{0}", "$(id)", "../../etc/passwd"]
NUMBERS = ["0", "1", "-1", "4", "64", "65", "1.5", "nan", "inf", "1e999", "x", "", "0x10", "2" * 30]


def _paths(rng: random.Random, paths: dict[str, str]) -> str:
    return rng.choice(list(paths.values()))


def command_line(rng: random.Random, paths: dict[str, str]) -> list[str]:
    """A random command line for one subcommand: its options, some valid, some not, in any order; now and then junk."""
    project = paths["project"] if rng.random() < 0.85 else _paths(rng, paths)

    def stack() -> str:
        return rng.choice(STACK_NAMES)

    specs: dict[str, tuple[list[str], list[tuple[str, object]]]] = {
        "plan": ([], [("--stack", stack), ("--all", None), ("--render-k8s", lambda: _paths(rng, paths)),
                      ("--json", None), ("--markdown", None)]),
        "diff": ([], [("--base", lambda: rng.choice(["HEAD", "nope", "", "HEAD~99", "origin/main", "a..b", "@{-1}"])),
                      ("--stack", stack), ("--all", None), ("--json", None), ("--markdown", None),
                      ("--artifact-note", lambda: rng.choice(TEXT)), ("--output-dir", lambda: _paths(rng, paths)),
                      ("--previous-comment", lambda: _paths(rng, paths)), ("--head-label", lambda: rng.choice(TEXT)),
                      ("--allow-data-loss", None)]),
        "init": ([rng.choice(["lab", "fuzz2", "Bad_Name", "", "x" * 100, "dev", "a-b", "-"])],
                 [("--region", lambda: rng.choice(["us-east-1", "eu-central-1", "mars-1", ""])),
                  ("--owner", lambda: rng.choice(TEXT)), ("--cost-center", lambda: rng.choice(TEXT)),
                  ("--budget", lambda: rng.choice(NUMBERS))]),
        "stacks": ([], [("--json", None)]),
        "preflight": ([], [("--stack", stack), ("--offline", None), ("--pulumi-state", lambda: _paths(rng, paths))]),
        "prices": (["refresh"], [("--region", lambda: rng.choice(["us-east-1", "mars-1", ""])),
                                 ("--output-dir", lambda: _paths(rng, paths))]),
        "data": (["upload", _paths(rng, paths)],
                 [("--bucket", lambda: rng.choice(["data", "raw", "nope", "", "UPPER", "b" * 80])), ("--stack", stack),
                  ("--prefix", lambda: rng.choice(TEXT)), ("--jobs", lambda: rng.choice(NUMBERS)),
                  ("--part-size", lambda: rng.choice(NUMBERS)), ("--include-hidden", None)]),
        "image-push-policy": ([], [("--stack", stack), ("--account", lambda: rng.choice(["123456789012", "12", "x"]))]),
    }
    command = rng.choice(list(specs))
    positional, options = specs[command]
    if command not in ("prices",):
        options = [*options, ("--project-dir", lambda: project), ("--project-dir", lambda: project)]
    args = [command, *positional]
    for flag, value in rng.sample(options, len(options)):
        if rng.random() < 0.5:
            args.append(flag)
            if callable(value):
                args.append(str(value()))
    if rng.random() < 0.1:
        args.insert(rng.randrange(len(args) + 1), rng.choice([*TEXT, "--bogus", "-q", "--"]))
    if rng.random() < 0.03:
        args = args[1:]
    return args
