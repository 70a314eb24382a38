"""`data upload` when things go wrong: moto on 127.0.0.1 behind tests/fault_proxy.py (errors, stalls, resets),
files that change mid-upload, Ctrl-C, SIGTERM and SIGKILL, paths that must not be uploaded, hidden files and links.

Multipart rules pinned here: parts of 5 MiB at least except the last (S3 multipart upload limits,
docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html; moto enforces it too: moto/s3/models.py,
FakeMultipart.complete, S3_UPLOAD_PART_MIN_SIZE), so the files here are 12 MiB in 5 MiB parts.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from infra import ROOT
from infra.cli import main
from infra.ops import aws_clients
from infra.ops.multipart import b64, composite
from tests import test_aws_tools
from tests.fault_proxy import FaultProxy, Rule, is_put_object, part_number, s3_error

aws = test_aws_tools.aws  # one moto server for the module
MIB = 1024 * 1024
BIG = 12 * MIB + 123  # three parts of 5 MiB


def s3() -> Any:
    """A client straight to moto (the fixture's AWS_ENDPOINT_URL), not through the proxy."""
    return s3_at(os.environ["AWS_ENDPOINT_URL"])


@functools.cache
def s3_at(endpoint: str) -> Any:
    """One client per endpoint: making one took ~10 ms of CPU, and the tests asked for ~90."""
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)


def bucket(name: str) -> str:
    s3().create_bucket(Bucket=name)
    return name


def open_uploads(name: str) -> list[dict]:
    return list(s3().list_multipart_uploads(Bucket=name).get("Uploads", []))


def keys(name: str) -> set[str]:
    return {o["Key"] for o in s3().list_objects_v2(Bucket=name).get("Contents", [])}


def upload_in_process(monkeypatch, capsys, proxy: FaultProxy, *args: str) -> tuple[int, str, str]:
    """`python -m infra data upload ARGS` in this process, through the proxy: (exit code, stdout, stderr)."""
    with monkeypatch.context() as patched:
        patched.setenv("AWS_ENDPOINT_URL", proxy.url)
        code = main(["data", "upload", *args])
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(stderr: str) -> list[str]:
    """stderr without the progress lines: what the user is told."""
    return [line for line in stderr.splitlines() if line and not line.startswith("progress: ")]


def one_line_error(stderr: str) -> str:
    lines = error_lines(stderr)
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# --- a file that changes while it is uploaded -------------------------------------------------------------------

def swap_content_keep_stat(path: Path) -> None:
    """New bytes, same size, same mtime, same inode: only hashing what is sent can tell."""
    st = path.stat()
    with path.open("r+b") as fh:
        fh.seek(st.st_size // 2)
        fh.write(b"\xff" * 64)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def append(path: Path) -> None:
    with path.open("ab") as fh:
        fh.write(b"more")


@pytest.mark.parametrize("size", [3000, BIG], ids=["single-put", "multipart"])
@pytest.mark.parametrize("when, change", [
    ("HEAD", swap_content_keep_stat),  # after the first hash, before the bytes are read to be sent
    ("PUT", append),  # while the bytes are on the wire
], ids=["swapped-before-send", "appended-during-send"])
def test_a_file_changed_during_upload_fails_and_nothing_is_stored(aws, tmp_path, monkeypatch, capsys, size, when,
                                                                 change):
    name = bucket(f"chg-{size}-{when.lower()}")
    data = tmp_path / "ds"
    data.mkdir()
    (data / "steady.txt").write_bytes(b"steady\n")
    target = data / "moving.bin"
    target.write_bytes(os.urandom(size))
    fired: list[int] = []

    def hook() -> None:
        if not fired:
            fired.append(1)
            change(target)

    def matches(method: str, path: str) -> bool:
        return method == when and path.split("?")[0].endswith("/moving.bin")

    with FaultProxy(os.environ["AWS_ENDPOINT_URL"], [Rule(matches, "pass", hook=hook)]) as proxy:
        code, out, err = upload_in_process(monkeypatch, capsys, proxy, str(data), "--bucket", name, "--part-size", "5")
    assert fired and code == 1, err
    assert "uploaded 1 files" in out and "1 failed" in out
    failed = one_line_error(err)
    assert failed.startswith("cloudviper data upload: failed: moving.bin: ") and "changed while it was" in failed
    assert keys(name) == {"steady.txt"}  # not the torn object, and not a snapshot reported as done
    assert open_uploads(name) == []  # the multipart upload was aborted, not completed
    assert not proxy.requests("POST", r"moving\.bin\?uploadId=")  # never completed
    if when == "HEAD" and size < 5 * MIB:  # the bytes no longer hash as the first read did: never sent at all
        assert not proxy.requests("PUT", r"moving\.bin$")


# --- stop and resume ----------------------------------------------------------------------------------------------

def stall_from_part_two(method: str, target: str) -> bool:
    return method == "PUT" and part_number(target) >= 2


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "infra", "data", "upload", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_part(name: str, proxy: FaultProxy, process: subprocess.Popen[str]) -> str:
    """The upload id once part 1 is in S3 and later parts are stalled in the proxy."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        uploads = open_uploads(name)
        if uploads and proxy.requests("PUT", "partNumber=2"):
            parts = s3().list_parts(Bucket=name, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])
            if [p["PartNumber"] for p in parts.get("Parts", [])] == [1]:
                return str(uploads[0]["UploadId"])
        time.sleep(0.05)
    raise AssertionError("the upload never reached part 2")


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_and_sigterm_abort_the_unfinished_multipart_upload(aws, tmp_path, sig, code, said):
    name = bucket(f"stop-{code}")
    (tmp_path / "big.bin").write_bytes(os.urandom(BIG))
    with FaultProxy(aws["AWS_ENDPOINT_URL"], [Rule(stall_from_part_two, "stall")]) as proxy:
        process = start_cli({**aws, "AWS_ENDPOINT_URL": proxy.url}, str(tmp_path / "big.bin"), "--bucket", name,
                            "--part-size", "5")
        wait_for_first_part(name, proxy, process)
        started = time.monotonic()
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - started
    assert process.returncode == code, err
    assert took < aws_clients.READ_TIMEOUT  # does not wait for the stalled part to time out
    assert one_line_error(err) == (f"cloudviper data upload: {said}; aborted 1 unfinished multipart uploads; finished "
                                   "files are skipped when you run it again")
    assert open_uploads(name) == [] and keys(name) == set()


@pytest.mark.parametrize("edited", [False, True], ids=["same-file", "edited-before-the-rerun"])
def test_after_a_hard_kill_a_rerun_resumes_and_sends_only_the_missing_parts(aws, tmp_path, edited):
    name = bucket(f"resume-kill-{edited}".lower())
    content = os.urandom(BIG)
    (tmp_path / "big.bin").write_bytes(content)
    args = ("data", "upload", str(tmp_path / "big.bin"), "--bucket", name, "--part-size", "5")
    with FaultProxy(aws["AWS_ENDPOINT_URL"], [Rule(stall_from_part_two, "stall")]) as proxy:
        process = start_cli({**aws, "AWS_ENDPOINT_URL": proxy.url}, *args[2:])
        upload_id = wait_for_first_part(name, proxy, process)
        process.kill()  # SIGKILL: nothing can clean up
        process.communicate(timeout=30)
    assert [u["UploadId"] for u in open_uploads(name)] == [upload_id]
    if edited:  # part 1 in S3 no longer matches, and the upload's `sha256` metadata is the old file's
        content = b"edited" + content[6:]
        (tmp_path / "big.bin").write_bytes(content)
    with FaultProxy(aws["AWS_ENDPOINT_URL"]) as clean:
        rerun = test_aws_tools.cli({**aws, "AWS_ENDPOINT_URL": clean.url}, *args)
    sent = sorted(part_number(t) for t in clean.requests("PUT", "partNumber="))
    assert all(upload_id in t for t in clean.requests("PUT", "partNumber="))  # the same upload, continued
    if edited:
        assert sent == [1, 2, 3] and rerun.returncode == 1, rerun.stderr
        assert "big.bin: changed since its interrupted upload began; that upload was discarded" in rerun.stderr
        assert keys(name) == set() and open_uploads(name) == []
        rerun = test_aws_tools.cli(aws, *args)  # afresh
    else:
        assert sent == [2, 3]  # part 1 was reused
        assert "resumed 1 interrupted multipart uploads" in rerun.stdout
    assert rerun.returncode == 0, rerun.stderr
    assert s3().get_object(Bucket=name, Key="big.bin")["Body"].read() == content
    assert s3().head_object(Bucket=name, Key="big.bin")["Metadata"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert open_uploads(name) == []


def test_a_stalled_endpoint_times_out_in_one_line_keeps_the_upload_and_a_rerun_resumes(aws, tmp_path, monkeypatch,
                                                                                       capsys):
    monkeypatch.setattr(aws_clients, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(aws_clients, "CONNECT_TIMEOUT", 1.0)  # bounds a body that stops going out
    monkeypatch.setattr(aws_clients, "MAX_ATTEMPTS", 2)
    name = bucket("stalled")
    content = os.urandom(BIG)
    (tmp_path / "big.bin").write_bytes(content)
    args = (str(tmp_path / "big.bin"), "--bucket", name, "--part-size", "5")
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"], [Rule(stall_from_part_two, "stall")]) as proxy:
        started = time.monotonic()
        code, _, err = upload_in_process(monkeypatch, capsys, proxy, *args)
        took = time.monotonic() - started
    assert code == 4 and took < 2 * 1.0 + 5, (took, err)  # 2 attempts of 1 s, not minutes
    line = one_line_error(err)
    assert line.startswith("cloudviper data upload: s3: ReadTimeoutError: Read timeout on endpoint URL")
    assert "(at big.bin); kept 1 unfinished multipart uploads: the next run resumes them" in line
    assert "a call gives up after 2 attempts, each stalled 1 s connecting or sending or 1 s awaiting" in line
    assert len(open_uploads(name)) == 1
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"]) as clean:
        code, out, err = upload_in_process(monkeypatch, capsys, clean, *args)
    assert code == 0 and "resumed 1 interrupted multipart uploads" in out, err
    assert sorted(part_number(t) for t in clean.requests("PUT", "partNumber=")) == [2, 3]
    assert s3().get_object(Bucket=name, Key="big.bin")["Body"].read() == content


@pytest.mark.parametrize("rule", [
    Rule(lambda m, t: m == "PUT" and part_number(t) == 2, "drop", after=1024, times=1),  # reset mid-body
    Rule(lambda m, t: m == "PUT" and part_number(t) == 2, "reply", 500, s3_error("InternalError", "try again"),
         times=1),
], ids=["connection-reset", "internal-error"])
def test_one_transient_fault_is_retried(aws, tmp_path, monkeypatch, capsys, rule):
    name = bucket(f"retry-{rule.action}")
    content = os.urandom(BIG)
    (tmp_path / "big.bin").write_bytes(content)
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"], [rule]) as proxy:
        code, out, err = upload_in_process(monkeypatch, capsys, proxy, str(tmp_path / "big.bin"), "--bucket", name,
                                           "--part-size", "5")
    assert code == 0 and "uploaded 1 files" in out, err
    assert [part_number(t) for t in proxy.requests("PUT", "partNumber=")].count(2) == 2  # the fault, then the retry
    assert s3().get_object(Bucket=name, Key="big.bin")["Body"].read() == content


# --- denied -------------------------------------------------------------------------------------------------------

KMS_DENIED = ("User: arn:aws:iam::123456789012:user/lab is not authorized to perform: kms:GenerateDataKey on resource: "
              "arn:aws:kms:us-east-1:123456789012:key/1234abcd because no identity-based policy allows the "
              "kms:GenerateDataKey action")


@pytest.mark.parametrize("size, matches, status, code, message, expect", [
    (100, is_put_object, 403, "AccessDenied", "Access Denied", "fix: these credentials may not write there"),
    (100, is_put_object, 403, "AccessDenied", KMS_DENIED, "fix: the bucket's KMS key refuses these credentials"),
    (100, is_put_object, 400, "KMS.DisabledException", "arn:aws:kms:us-east-1:123456789012:key/1234abcd is disabled.",
     "fix: the bucket's KMS key refuses these credentials"),
    (BIG, lambda m, t: m == "PUT" and part_number(t) == 2, 403, "AccessDenied", KMS_DENIED,
     "aborted 1 unfinished multipart uploads; fix: the bucket's KMS key refuses these credentials"),
], ids=["s3-denied", "kms-denied", "kms-key-disabled", "kms-denied-mid-multipart"])
def test_a_denied_upload_is_one_line_with_exit_3_and_leaves_nothing(aws, tmp_path, monkeypatch, capsys, size, matches,
                                                                    status, code, message, expect):
    name = bucket(f"deny-{code.lower().replace('.', '-')}-{size}-{len(message)}")
    data = tmp_path / "ds"
    data.mkdir()
    for i in range(3):
        (data / f"f{i}.bin").write_bytes(os.urandom(size))
    rule = Rule(matches, "reply", status, s3_error(code, message))
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"], [rule]) as proxy:
        exit_code, out, err = upload_in_process(monkeypatch, capsys, proxy, str(data), "--bucket", name, "--jobs", "1",
                                                "--part-size", "5")
    line = one_line_error(err)
    assert exit_code == 3 and out == "", err
    assert line.startswith(f"cloudviper data upload: s3 {'UploadPart' if size == BIG else 'PutObject'}: {code}: ")
    assert "(at f0.bin)" in line and expect in line
    assert len(proxy.requests("PUT", r"f[12]\.bin")) == 0  # the run stopped at the first file
    assert open_uploads(name) == [] and keys(name) == set()


def test_a_bucket_these_credentials_may_not_list_is_exit_3(aws, tmp_path, monkeypatch, capsys):
    # HeadBucket needs s3:ListBucket (S3 API reference, HeadBucket); a HEAD answer has no body, so botocore reports
    # the status as the code ("403", message "Forbidden").
    name = bucket("deny-head")
    (tmp_path / "f.txt").write_text("f\n")
    rule = Rule(lambda m, t: m == "HEAD" and t.strip("/") == name, "reply", 403)
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"], [rule]) as proxy:
        code, _, err = upload_in_process(monkeypatch, capsys, proxy, str(tmp_path / "f.txt"), "--bucket", name)
    assert code == 3 and one_line_error(err).startswith("cloudviper data upload: s3 HeadBucket: 403: Forbidden; fix: ")
    assert not proxy.requests("PUT")


# --- what is never uploaded ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, says", [
    ("", "PATH is empty"), ("/", "refusing to upload the filesystem root"),
    ("HOME", "refusing to upload a home folder or a folder that holds one"),
    ("HOME/..", "refusing to upload a home folder or a folder that holds one"),
    ("/home", "refusing to upload a home folder or a folder that holds one"),
    ("/root", "refusing to upload a home folder or a folder that holds one"),
], ids=["empty", "root", "home", "above-home", "every-home", "roots-home"])
def test_paths_that_are_never_a_dataset_are_refused(tmp_path, monkeypatch, capsys, path, says):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    code = main(["data", "upload", path.replace("HOME", str(tmp_path / "home")), "--bucket", "any-bucket"])
    err = capsys.readouterr().err
    assert code == 2 and one_line_error(err).startswith("cloudviper data upload: ") and says in err


def test_hidden_entries_are_skipped_and_links_never_followed(aws, tmp_path, monkeypatch, capsys):
    name = bucket("links-hidden")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "credentials").write_text("secret\n")
    data = tmp_path / "ds"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("x\n")
    (data / "sub" / "b.csv").write_text("y\n")
    (data / ".git").mkdir()
    (data / ".git" / "config").write_text("[core]\n")
    (data / ".env").write_text("TOKEN=1\n")
    (data / "sub" / ".cache").mkdir()
    (data / "sub" / ".cache" / "c").write_text("c\n")
    (data / "home").symlink_to(outside)  # a folder outside
    (data / "creds").symlink_to(outside / "credentials")  # a file outside
    (data / "again.csv").symlink_to(data / "a.csv")  # inside: the same bytes a second time
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"]) as proxy:
        code, out, _ = upload_in_process(monkeypatch, capsys, proxy, str(data), "--bucket", name)
        assert code == 0 and keys(name) == {"a.csv", "sub/b.csv"}
        assert "not uploaded: 3 hidden entries (--include-hidden uploads them): .env, .git/, sub/.cache/" in out
        assert "not uploaded: 3 symbolic links (never followed): again.csv, creds, home" in out
        code, out, _ = upload_in_process(monkeypatch, capsys, proxy, str(data), "--bucket", name, "--include-hidden")
    assert code == 0 and keys(name) == {"a.csv", "sub/b.csv", ".env", ".git/config", "sub/.cache/c"}
    assert "hidden" not in out and "3 symbolic links" in out
    assert not [t for _, t in proxy.log if "credentials" in t or "/home/" in t]


def test_a_path_that_is_a_link_to_a_file_uploads_the_file(aws, tmp_path, monkeypatch, capsys):
    # README: "PATH itself may be a link" (you named it); the file is read through it, under the link's name
    name = bucket("path-link")
    (tmp_path / "real.csv").write_text("a,b\n1,2\n")
    (tmp_path / "named.csv").symlink_to(tmp_path / "real.csv")
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"]) as proxy:
        code, _, err = upload_in_process(monkeypatch, capsys, proxy, str(tmp_path / "named.csv"), "--bucket", name)
    assert code == 0, err
    assert keys(name) == {"named.csv"}
    assert boto3.client("s3", region_name="us-east-1").get_object(Bucket=name, Key="named.csv")["Body"].read() == b"a,b\n1,2\n"


# --- every client the commands make has the timeouts; S3's composite checksum is the one computed here -----------

def test_every_client_the_commands_create_has_the_timeouts(aws, tmp_path, monkeypatch, capsys):
    made: list[tuple[str, Any]] = []
    create = botocore.session.Session.create_client

    def recording(self, service_name, *args, **kwargs):
        client = create(self, service_name, *args, **kwargs)
        made.append((service_name, client.meta.config))
        return client

    project = test_aws_tools.project_with(tmp_path, "clients", lambda c: None)
    bucket("cloudviper-clients-data-123456789012")  # moto's account (moto.core.DEFAULT_ACCOUNT_ID)
    (tmp_path / "one.txt").write_text("one\n")
    monkeypatch.setattr(botocore.session.Session, "create_client", recording)  # from here: the commands' clients
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    stack = ("--stack", "clients", "--project-dir", str(project))
    assert main(["data", "upload", str(tmp_path / "one.txt"), "--bucket", "data", *stack]) == 0
    main(["preflight", *stack, "--offline"])
    capsys.readouterr()
    services = {service for service, _ in made}
    assert {"s3", "sts", "ec2", "service-quotas", "eks"} <= services, services
    for service, config in made:
        assert (config.connect_timeout, config.read_timeout) == (aws_clients.CONNECT_TIMEOUT,
                                                                 aws_clients.READ_TIMEOUT), service
        assert config.retries == {"mode": "standard", "total_max_attempts": aws_clients.MAX_ATTEMPTS}, service


def test_the_composite_checksum_s3_keeps_is_the_one_computed_locally(aws, tmp_path, monkeypatch, capsys):
    # An object uploaded in parts with ChecksumAlgorithm SHA256 has a COMPOSITE checksum: the SHA-256 of the parts'
    # SHA-256s, then `-<parts>` (moto/s3/models.py, MultipartChecksumBuilder; GetObject with ChecksumMode ENABLED).
    name = bucket("composite")
    content = os.urandom(BIG)
    (tmp_path / "big.bin").write_bytes(content)
    with FaultProxy(os.environ["AWS_ENDPOINT_URL"]) as proxy:
        code, _, err = upload_in_process(monkeypatch, capsys, proxy, str(tmp_path / "big.bin"), "--bucket", name,
                                         "--part-size", "5")
    assert code == 0, err
    parts = [{"ChecksumSHA256": b64(hashlib.sha256(content[i:i + 5 * MIB]).digest())}
             for i in range(0, len(content), 5 * MIB)]
    stored = s3().get_object(Bucket=name, Key="big.bin", ChecksumMode="ENABLED")
    assert stored["ChecksumSHA256"] == composite(parts) and composite(parts).endswith("-3")
