"""`data upload` against moto on 127.0.0.1: parallel jobs, resuming, logical bucket names, CI-friendly progress."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from tests import test_aws_tools
from tests.test_aws_tools import cli, project_with

aws = test_aws_tools.aws  # the same moto server fixture (module scope: one server for this module)
MOTO_ACCOUNT = "123456789012"  # the account moto's STS answers with (moto.core.DEFAULT_ACCOUNT_ID)


def dataset(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "b/c.csv": b"x,y\n1,2\n", "b/d/e.bin": os.urandom(4096), "empty.dat": b"",
             "f.json": b'{"k": 1}\n', "g/h.txt": b"eta\n" * 1000, "big.dat": os.urandom(9 * 1024 * 1024)}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def progress_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("progress: ")]


def test_parallel_upload_creates_every_object_and_a_rerun_skips_them(aws, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="par-data")
    files = dataset(tmp_path / "ds")
    first = cli(aws, "data", "upload", str(tmp_path / "ds"), "--bucket", "par-data", "--prefix", "p", "--jobs", "3")
    assert first.returncode == 0, first.stderr
    for name, content in files.items():
        obj = s3.get_object(Bucket="par-data", Key=f"p/{name}")
        assert obj["Body"].read() == content and obj["Metadata"]["sha256"]
    assert "uploaded 7 files (9.0 MiB), skipped 0 already present with the same size and SHA-256, 0 failed" in first.stdout
    assert "elapsed" in first.stdout and "/s on average" in first.stdout
    # Not a terminal (captured): plain lines, no carriage returns; the last one is complete.
    assert "\r" not in first.stderr
    lines = progress_lines(first.stderr)
    assert 1 <= len(lines) <= 12, first.stderr  # every 10 % at most (the run takes far less than 5 s)
    assert lines[-1].startswith("progress: 7/7 files, 9.0 MiB of 9.0 MiB (100%), ") and "ETA 0:00:00" in lines[-1]
    before = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="par-data")["Contents"]}

    again = cli(aws, "data", "upload", str(tmp_path / "ds"), "--bucket", "par-data", "--prefix", "p", "--jobs", "3")
    assert again.returncode == 0, again.stderr
    assert "uploaded 0 files (0 B), skipped 7 already present" in again.stdout
    assert {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="par-data")["Contents"]} == before


def test_a_logical_bucket_name_resolves_through_the_stack(aws, tmp_path):
    # The program names a bucket `<project>-<stack>-<name>-<account id>` unless bucketName is set
    # (infra/documents/naming.py bucket_name, components/storage.py); Pulumi.dev.yaml has one bucket, `data`.
    (tmp_path / "proj").mkdir()
    project = project_with(tmp_path / "proj", "lab", lambda c: None)
    physical = f"cloudviper-lab-data-{MOTO_ACCOUNT}"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=physical)
    (tmp_path / "one.txt").write_text("one\n")
    args = ("data", "upload", str(tmp_path / "one.txt"), "--stack", "lab", "--project-dir", str(project))
    result = cli(aws, *args, "--bucket", "data")
    assert result.returncode == 0, result.stderr
    assert f"bucket data of stack lab: s3://{physical}" in result.stderr
    assert s3.get_object(Bucket=physical, Key="one.txt")["Body"].read() == b"one\n"
    by_physical = cli(aws, *args, "--bucket", physical)  # the physical name of a stack bucket is accepted too
    assert by_physical.returncode == 0 and "skipped 1 already present" in by_physical.stdout

    unknown = cli(aws, *args, "--bucket", "raw")
    assert unknown.returncode == 2
    assert ("stack lab has no bucket 'raw'; its buckets (cloudviper:buckets[].name): data" in unknown.stderr
            and "Traceback" not in unknown.stderr)
    no_stack = cli(aws, *args, "--stack", "nope", "--bucket", "data")
    assert no_stack.returncode == 2 and "Pulumi.nope.yaml: no such file" in no_stack.stderr


def test_bucket_name_set_in_the_stack_wins(aws, tmp_path):
    def exact(c):
        c["cloudviper:buckets"][0]["bucketName"] = "exact-lab-bucket"
    (tmp_path / "proj").mkdir()
    project = project_with(tmp_path / "proj", "exact", exact)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="exact-lab-bucket")
    (tmp_path / "f.txt").write_text("f\n")
    result = cli(aws, "data", "upload", str(tmp_path / "f.txt"), "--stack", "exact", "--project-dir", str(project),
                 "--bucket", "data")
    assert result.returncode == 0 and "s3://exact-lab-bucket" in result.stderr, result.stderr


@pytest.mark.parametrize("jobs", ["0", "65"])
def test_jobs_out_of_range_is_a_usage_error(aws, tmp_path, jobs):
    (tmp_path / "f.txt").write_text("f\n")
    result = cli(aws, "data", "upload", str(tmp_path / "f.txt"), "--bucket", "any", "--jobs", jobs)
    assert result.returncode == 2 and f"--jobs {jobs}: expected 1 to 64" in result.stderr
