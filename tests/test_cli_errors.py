"""Every subcommand given bad arguments: exit 2 (usage, config or AWS credentials), one message, no traceback.

Run in-process through infra.cli.main, so any exception that escapes fails the test (a subprocess would only show it
as text). AWS is made unreachable without credentials: nothing leaves the machine.
"""

from __future__ import annotations

import pytest

from infra.cli import main
from tests.conftest import copy_test_project


@pytest.fixture
def offline_aws(tmp_path, monkeypatch):
    """No AWS credentials anywhere botocore looks, and no metadata service."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # a closed port, should anything still try


@pytest.fixture
def project(tmp_path):
    return copy_test_project(tmp_path / "p", ("dev",))


def bad_invocations(project, tmp_path) -> list[tuple[list[str], int, str]]:
    p, missing = str(project), str(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    return [
        (["plan", "--stack", "nope", "--project-dir", p], 2, "Pulumi.nope.yaml: no such file; stacks here: dev"),
        (["plan", "--project-dir", missing], 2, "no such folder"),
        (["plan", "--project-dir", str(tmp_path)], 2, "has no Pulumi.yaml and __main__.py"),
        (["plan", "--stack", "other", "--all"], 2, "not allowed with argument"),
        (["plan", "--bogus"], 2, "unrecognized arguments: --bogus"),
        (["diff"], 2, "the following arguments are required: --base"),
        (["diff", "--base", "no-such-ref-xyz"], 2, "no-such-ref-xyz"),
        (["init"], 2, "the following arguments are required: NAME, --region"),
        (["init", "Bad_Name", "--region", "mars-1", "--project-dir", p], 2, 'NAME: "Bad_Name" is not allowed'),
        (["init", "lab", "--region", "us-east-1", "--budget", "lots", "--project-dir", p], 2, "invalid float value"),
        (["init", "lab", "--region", "us-east-1", "--project-dir", missing], 2, "no such folder"),
        (["stacks", "--project-dir", missing], 2, "no such folder"),
        (["preflight", "--stack", "nope", "--project-dir", p], 2, "Pulumi.nope.yaml: no such file"),
        (["preflight", "--project-dir", missing], 2, "no such folder"),
        (["preflight", "--stack", "dev", "--project-dir", p, "--pulumi-state", missing], 2, ""),
        (["preflight", "--stack", "dev", "--project-dir", p, "--offline"], 2, "no AWS credentials found"),
        (["prices"], 2, "required"),
        (["prices", "refresh", "--region", "mars-1"], 2, "mars-1"),
        (["prices", "refresh"], 2, "NoCredentialsError"),
        (["data", "upload"], 2, "the following arguments are required: path, --bucket"),
        (["data", "upload", missing, "--bucket", "b"], 2, ""),
        (["data", "upload", str(tmp_path / "file.txt"), "--bucket", "b", "--jobs", "0"], 2, "--jobs"),
        (["data", "upload", str(tmp_path / "file.txt"), "--bucket", "nope", "--stack", "dev", "--project-dir", p], 2,
         "nope"),
        (["data", "upload", str(tmp_path / "file.txt"), "--bucket", "b"], 2, "no AWS credentials found"),
        (["image-push-policy", "--account", "12"], 2, "not a 12-digit AWS account id"),
        (["image-push-policy", "--account", "123456789012", "--stack", "dev", "--project-dir", p], 2,
         "imageRepository"),
        (["image-push-policy", "--account", "123456789012", "--project-dir", missing], 2, "no such folder"),
        (["nonsense"], 2, "invalid choice"),
        ([], 2, "required"),
    ]


def test_every_subcommand_fails_cleanly(project, tmp_path, offline_aws, capsys):
    for argv, code, message in bad_invocations(project, tmp_path):
        try:
            got = main(argv)
        except SystemExit as exc:  # argparse's usage errors exit 2 after printing the usage
            got = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert got == code, (argv, got, out, err)
        assert message in out + err, (argv, out, err)
        assert "Traceback" not in out + err, argv
        assert err.strip() or argv[0] == "preflight", argv  # preflight's verdicts are its table on stdout


def test_the_table_covers_every_subcommand(project, tmp_path):
    from infra.cli import _parser

    (sub,) = [a for a in _parser()._actions if a.dest == "command"]
    commands = set(sub.choices or ())
    covered = {argv[0] for argv, _, _ in bad_invocations(project, tmp_path) if argv}
    assert len(commands) >= 8 and commands <= covered, commands - covered
