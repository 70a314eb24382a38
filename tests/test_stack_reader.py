"""Stack and project files are read as Pulumi reads them (gopkg.in/yaml.v3), and a malformed one is exit 2 with its
path and line from every subcommand that reads it: never a traceback, never a hang.

Pulumi's reader: pulumi/pulumi sdk/go/common/encoding/marshal.go (yaml.Unmarshal of gopkg.in/yaml.v3),
sdk/go/common/workspace/loaders.go (readFileStripUTF8BOM, LoadProjectStackBytes), sdk/go/common/resource/config/
key.go (ParseKey) and object.go (isSecureValue). yaml.v3's rules: go-yaml/yaml v3.0.1 resolve.go (scalars) and
decode.go (duplicate keys, merge keys, allowedAliasRatio).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.config.file_text import MAX_BYTES
from infra.config.stackfile import load_stack_file
from infra.config.yaml_reader import MAX_DEPTH, allowed_alias_ratio, parse_yaml
from infra.config.yaml_scalars import resolve_plain
from tests.conftest import copy_test_project
from tests.fuzz_inputs import LAUGHS, write_special
from tests.fuzz_runner import OFFLINE_AWS, deadline, run

BASE = "config:\n  aws:region: us-east-1\n  cloudviper:tags:\n    owner: a\n    costCenter: b\n"  # lines 1-5


@pytest.fixture
def project(tmp_path, monkeypatch):
    for name, value in OFFLINE_AWS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    folder = copy_test_project(tmp_path / "p", ("dev",))
    (tmp_path / "data.txt").write_text("x")
    return folder


def commands(project: Path) -> list[list[str]]:
    """Every subcommand that reads Pulumi.bad.yaml (stacks reads every stack file of the folder)."""
    p = str(project)
    return [["plan", "--stack", "bad", "--project-dir", p], ["plan", "--stack", "bad", "--json", "--project-dir", p],
            ["preflight", "--stack", "bad", "--offline", "--project-dir", p], ["stacks", "--project-dir", p],
            ["image-push-policy", "--stack", "bad", "--account", "123456789012", "--project-dir", p],
            ["data", "upload", str(project.parent / "data.txt"), "--bucket", "data", "--stack", "bad",
             "--project-dir", p]]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr and, for --json, the problems the report lists)."""
    with deadline(30):  # a FIFO opened for reading blocks until a writer comes: Hang instead
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    out, err = capsys.readouterr()
    if "--json" in argv and out.strip():
        err += "\n".join((json.loads(out).get("error") or {}).get("problems", []))
    return code, out, err


MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("duplicate key", (BASE + "  cloudviper:tags: {owner: x, costCenter: y}\n").encode(), 6,
     'duplicate key "cloudviper:tags" (first at line 3)'),
    ("two spellings of a key", (BASE + "  tags: {owner: x, costCenter: y}\n").encode(), 6,
     "config key 'tags' is cloudviper:tags, already set as 'cloudviper:tags' (line 3)"),
    ("unquoted date", (BASE + "  cloudviper:budget:\n    since: 2024-01-01\n").encode(), 7, "a date or time"),
    ("!!binary", (BASE + "  cloudviper:x: !!binary aGk=\n").encode(), 6, "the tag !!binary is not supported"),
    ("!!set", (BASE + "  cloudviper:x: !!set {a, b}\n").encode(), 6, "the tag !!set is not supported"),
    ("!!timestamp", (BASE + "  cloudviper:x: !!timestamp 2001-12-14\n").encode(), 6, "a date or time"),
    ("local tag", (BASE + "  cloudviper:x: !Ref thing\n").encode(), 6, "the tag !Ref is not supported"),
    ("number key", (BASE + "  1: x\n").encode(), 6, "the key 1 is not text; put it in quotes"),
    ("list key", (BASE + "  ? [a, b]\n  : x\n").encode(), 6, "a list is used as a key"),
    ("top-level list", b"- a\n- b\n", 1, "the file must be a map of key: value at the top"),
    ("top-level text", b"\n\njust text\n", 3, "the file must be a map of key: value at the top"),
    ("config a list", b"# c\nconfig: [a, b]\n", 2, "`config` must be a map of key: value"),
    ("bad UTF-8", BASE.encode() + b"  cloudviper:x: caf\xe9\n", 6, "is not UTF-8 text (byte 0xe9 at column 20)"),
    ("control character", (BASE + "  cloudviper:x: a\x07b\n").encode(), 6, "unacceptable character #x0007"),
    ("deep nesting", (BASE + "  cloudviper:x: " + "[" * 5000 + "]" * 5000 + "\n").encode(), 6,
     f"nests more than {MAX_DEPTH} levels deep"),
    ("billion laughs", LAUGHS + BASE.encode(), 4, "document contains excessive aliasing"),
    ("self alias", (BASE + "  cloudviper:x: &a [*a]\n").encode(), 6, "anchor 'a' value contains itself"),
    ("unknown alias", (BASE + "  cloudviper:x: *nope\n").encode(), 6, "unknown anchor 'nope' referenced"),
    ("bad !!int", (BASE + "  cloudviper:x: !!int ten\n").encode(), 6, "a value tagged !!int is not one"),
    ("two documents", (BASE + "---\nconfig: {}\n").encode(), 6, "a second YAML document starts here"),
    ("bad key form", (BASE + "  a:b:c: 1\n").encode(), 6, "config key 'a:b:c' is not a config key"),
    ("secure with a number", (BASE + "  cloudviper:x:\n    secure: 5\n").encode(), 7,
     "cloudviper:x: `secure:` must be the only key of its map"),
    ("secure next to a key", (BASE + "  cloudviper:x: {secure: v1:abc, other: 1}\n").encode(), 6,
     "cloudviper:x: `secure:` must be the only key of its map"),
    ("tab indentation", (BASE + "\tcloudviper:x: 1\n").encode(), 6, "not valid YAML: "),  # libyaml's words or PyYAML's
    ("unclosed flow", (BASE + "  cloudviper:x: [a,\n").encode(), 7, "not valid YAML: "),
]


@pytest.mark.parametrize(("name", "data", "line", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_stack_file_is_exit_2_with_path_and_line(project, capsys, name, data, line, message):
    (project / "Pulumi.bad.yaml").write_bytes(data)
    for argv in commands(project):
        start = time.perf_counter()
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, out, err)
        assert f"Pulumi.bad.yaml:{line}: " in err + out and message in err + out, (argv, err, out)
        assert "Traceback" not in out + err, argv
        assert time.perf_counter() - start < 10, argv


def special(path: Path, kind: str) -> None:
    if kind == "huge":
        path.write_bytes(BASE.encode() + b"#" * (MAX_BYTES + 1) + b"\n")
    else:
        write_special(path, {"folder": "dir", "FIFO": "fifo"}.get(kind, kind))


@pytest.mark.parametrize(("kind", "message"), [
    ("folder", "is a folder, not a file"), ("FIFO", "is a named pipe (FIFO), not a file"),
    ("device", "is a character device, not a file"), ("loop", "cannot be read: Too many levels of symbolic links"),
    ("huge", f"is {MAX_BYTES + len(BASE) + 2:,} bytes; at most {MAX_BYTES:,} are read"),
])
def test_a_stack_path_that_is_not_a_small_regular_file_is_refused_before_it_is_read(project, capsys, kind, message):
    special(project / "Pulumi.bad.yaml", kind)
    for argv in commands(project):
        code, out, err = run_cli(argv, capsys)
        assert code == 2 and f"Pulumi.bad.yaml: {message}" in err + out, (argv, out, err)
        assert "Traceback" not in out + err


def test_an_unreadable_stack_file_is_exit_2(project, capsys, monkeypatch):
    # Tests run as root here, so chmod 000 would not stop a read: the open() fails as it would for another user.
    real = os.open

    def denied(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("Pulumi.bad.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    (project / "Pulumi.bad.yaml").write_text(BASE)
    monkeypatch.setattr(os, "open", denied)
    code, _out, err = run_cli(commands(project)[0], capsys)
    assert code == 2 and "Pulumi.bad.yaml: cannot be read: permission denied" in err, err


def test_a_project_file_without_a_name_is_exit_2_with_its_line(project, capsys):
    (project / "Pulumi.yaml").write_text("# project\nruntime: python\nname: [x]\n")
    code, _out, err = run_cli(["plan", "--stack", "dev", "--project-dir", str(project)], capsys)
    assert code == 2 and "Pulumi.yaml:3: `name` (the project name) must be set to text" in err, err


# YAML 1.1 (PyYAML's yaml.safe_load) read these as True, False, 90, {True: False}; yaml.v3 (resolve.go) and so
# Pulumi read text. Base-60 is "purposefully unsupported" there; only true/True/TRUE/false/False/FALSE are booleans.
@pytest.mark.parametrize(("text", "value"), [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("1:30", "1:30"), ("12:30:00", "12:30:00"),
    ("true", True), ("False", False), ("TRUE", True), ("~", None), ("", None), ("Null", None), ("1_000", 1000),
    ("0x1F", 31), ("0o17", 15), ("0b101", 5), ("0777", 511), ("08", 8.0), ("1.30", 1.3), ("1e3", 1000.0),
    ("1e999", "1e999"), (".5", 0.5), ("+5", 5), ("-0x10", -16), ("2024-13-01", "2024-13-01"), ("1.2.3", "1.2.3"),
    ("18446744073709551615", 2**64 - 1), ("99999999999999999999", 1e20),
    # past ParseFloat's range too: text (and not Python's "Exceeds the limit (4300 digits)" ValueError)
    ("1" * 5000, "1" * 5000), ("-" + "9" * 4400, "-" + "9" * 4400), ("0x" + "f" * 5000, "0x" + "f" * 5000),
])
def test_plain_scalars_resolve_as_yaml_v3_resolves_them(text, value):
    assert resolve_plain(text)[1] == value and type(resolve_plain(text)[1]) is type(value)


def test_yaml_1_1_booleans_and_sexagesimals_reach_the_config_as_text(project):
    (project / "Pulumi.bad.yaml").write_text(BASE.replace("costCenter: b", "costCenter: b\n    extra: {on: off, "
                                                                               "yes: no, at: 1:30}"))
    stack = load_stack_file(project, "bad")
    assert stack.values["cloudviper:tags"]["extra"] == {"on": "off", "yes": "no", "at": "1:30"}


def test_a_bom_and_crlf_lines_are_read_as_pulumi_reads_them(project):
    # loaders.go readFileStripUTF8BOM drops a leading UTF-8 byte-order mark.
    (project / "Pulumi.bad.yaml").write_bytes(b"\xef\xbb\xbf" + BASE.replace("\n", "\r\n").encode())
    assert load_stack_file(project, "bad").values["cloudviper:tags"] == {"owner": "a", "costCenter": "b"}


def test_merge_keys_fill_what_the_map_does_not_set_first_source_first():
    # decode.go: explicit keys win over merged ones; of several merged maps, the earlier one wins.
    doc = parse_yaml("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nm:\n  <<: [*a, *b]\n  x: 0\n").value
    assert doc["m"] == {"x": 0, "y": 1, "z": 2}
    with pytest.raises(ValueError, match=r'line 3: duplicate key "<<" \(first at line 2\)'):
        parse_yaml("m:\n  <<: {a: 1}\n  <<: {b: 1}\n")


def test_the_alias_limit_is_yaml_v3s():
    # decode.go allowedAliasRatio: 99% up to 400,000 decodes, 10% from 4,000,000, linear between.
    assert allowed_alias_ratio(1000) == allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(4_000_000) == pytest.approx(0.10)
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    ordinary = "base: &b {cpu: 1, memory: 2Gi, spot: true}\n" + "".join(f"g{i}: *b\n" for i in range(300))
    assert parse_yaml(ordinary).value["g299"] == {"cpu": 1, "memory": "2Gi", "spot": True}
    start = time.perf_counter()
    with pytest.raises(ValueError, match="document contains excessive aliasing"):
        parse_yaml(LAUGHS.decode())
    assert time.perf_counter() - start < 1


def test_a_short_fuzz_run_ends_without_a_traceback_or_a_hang():
    figures = run(inputs=300, seed=2020, timeout=20, max_plans=2, cli_share=0.5)
    assert figures.inputs == 300
    assert figures.tracebacks == [] and figures.hangs == [], figures.report()
    codes = {key.rsplit(" ", 1)[1] for key in figures.codes}
    assert {"0", "2"} <= codes, figures.report()  # some inputs still plan, most are refused
