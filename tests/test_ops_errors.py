"""The boto3 tools' pieces that need no AWS: one-line errors, credential hints, progress output, bucket names."""

from __future__ import annotations

import ast
import copy
import hashlib
import io

import boto3
import botocore.exceptions
import pytest
import yaml
from botocore.parsers import ResponseParserError

from infra import ROOT
from infra.config.loader import parse_stack_config
from infra.ops import aws_clients
from infra.ops.aws_errors import (
    AwsCallError,
    aws_call,
    code_and_message,
    credential_hint,
    failure_kind,
    failure_line,
    one_line,
)
from infra.ops.buckets import UnknownBucketError, resolve_bucket
from infra.ops.multipart import (
    DEFAULT_PART,
    MAX_PART,
    MAX_PARTS,
    MIB,
    MIN_PART,
    Piece,
    b64,
    part_matches,
    part_size_for,
)
from infra.ops.transfer_progress import TransferProgress, duration_text, size_text
from infra.ops.upload import Summary, failure_text
from tests.conftest import STACKS


def client_error(code: str, message: str, operation: str = "GetProducts", status: int = 400) -> botocore.exceptions.ClientError:
    """A ClientError as botocore builds it (botocore/exceptions.py: ClientError(error_response, operation_name))."""
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, operation)


def test_an_html_page_becomes_one_short_line():
    page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>" + "<p>x</p>\n" * 500 + "</body></html>"
    code, message = code_and_message(client_error("502", page, status=502))
    assert code == "502" and "<" not in message and "\n" not in message and len(message) <= 200
    assert message.startswith("an HTML page (502 Bad Gateway), not an AWS API response")


def test_long_messages_are_cut_and_the_operation_comes_from_botocore():
    line = one_line("pricing", "?", client_error("ThrottlingException", "slow down " * 100))
    assert line.startswith("pricing GetProducts: ThrottlingException: slow down") and line.endswith("...")
    assert len(line) < 260


def test_an_error_answer_without_a_code_shows_the_http_status():
    # An XML API handed a non-XML error body: ClientError with no Error entry (botocore/exceptions.py prints Unknown).
    exc = botocore.exceptions.ClientError({"ResponseMetadata": {"HTTPStatusCode": 503}}, "DescribeInstanceTypes")
    assert code_and_message(exc)[0] == "HTTP 503"


def test_a_parse_error_keeps_its_first_line_only():
    # botocore/parsers.py, _parse_xml_string_to_dom: "Unable to parse response (...), invalid XML received. Further
    # retries may succeed:\n<the body>".
    exc = ResponseParserError("Unable to parse response (syntax error: line 1), invalid XML received. Further "
                              "retries may succeed:\nb'<html><body>proxy login</body></html>'")
    code, message = code_and_message(exc)
    assert code == "ResponseParserError" and "proxy login" not in message and message.startswith("Unable to parse")


def test_aws_call_wraps_every_aws_error_in_one_line():
    with pytest.raises(AwsCallError) as caught:
        with aws_call("ec2", "DescribeSpotPriceHistory"):
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com/")
    assert str(caught.value) == ('ec2 DescribeSpotPriceHistory: EndpointConnectionError: Could not connect to the '
                                 'endpoint URL: "https://ec2.us-east-1.amazonaws.com/"')
    assert isinstance(caught.value.__cause__, botocore.exceptions.EndpointConnectionError)


@pytest.mark.parametrize("exc, detail, fix", [
    (botocore.exceptions.NoCredentialsError(), "no AWS credentials found", "aws sso login --profile lab"),
    # STS's modeled code (botocore/data/sts/2011-06-15/service-2.json.gz, ExpiredTokenException) and the common
    # error code of an expired session token (ExpiredToken; not in botocore's models).
    (client_error("ExpiredTokenException", "expired", "GetCallerIdentity"), "session token has expired", "aws sso login"),
    (client_error("ExpiredToken", "expired", "GetCallerIdentity"), "session token has expired", "aws sso login"),
    (client_error("InvalidClientTokenId", "The security token included in the request is invalid."),
     "AWS does not accept these credentials", "AWS_ACCESS_KEY_ID"),
    (botocore.exceptions.UnauthorizedSSOTokenError(), "SSO login of profile lab has expired", "aws sso login --profile lab"),
    (botocore.exceptions.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
     "AWS_SECRET_ACCESS_KEY is missing", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
], ids=["no-credentials", "expired-token-exception", "expired-token", "invalid-key", "sso-expired", "partial"])
def test_credential_hints(monkeypatch, exc, detail, fix):
    monkeypatch.setenv("AWS_PROFILE", "lab")
    hint = credential_hint(exc)
    assert hint is not None and detail in hint[0] and fix in hint[1]
    assert failure_line(exc, "sts", "GetCallerIdentity") == f"{hint[0]}; fix: {hint[1]}"


def test_other_errors_have_no_credential_hint():
    exc = client_error("AccessDenied", "not allowed", "DescribeRegions")
    assert credential_hint(exc) is None
    assert failure_line(exc, "ec2", "") == "ec2 DescribeRegions: AccessDenied: not allowed"
    wrapped = AwsCallError("sts", "GetCallerIdentity", "AccessDenied", "no")
    assert failure_line(wrapped, "s3", "") == "sts GetCallerIdentity: AccessDenied: no"


@pytest.mark.parametrize("exc, kind", [
    (client_error("AccessDenied", "Access Denied", "PutObject", 403), "denied"),
    (client_error("403", "Forbidden", "HeadObject", 403), "denied"),  # a HEAD answer has no body: the status only
    # A key policy that refuses the caller (buildkite/docs#2344) and a key S3 cannot use (aws/aws-cli#4507).
    (client_error("AccessDenied", "User: arn:aws:iam::1:user/u is not authorized to perform: kms:GenerateDataKey on "
                  "resource: arn:aws:kms:us-east-1:1:key/k", "PutObject", 403), "kms"),
    (client_error("KMS.NotFoundException", "Invalid keyId aws/s3", "PutObject"), "kms"),
    (botocore.exceptions.ReadTimeoutError(endpoint_url="http://s3"), "network"),
    (botocore.exceptions.ConnectTimeoutError(endpoint_url="http://s3"), "network"),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3"), "network"),
    (botocore.exceptions.ConnectionClosedError(endpoint_url="http://s3"), "network"),
    (client_error("RequestTimeout", "Your socket connection to the server was not read from", "UploadPart"), "network"),
    (botocore.exceptions.NoCredentialsError(), "credentials"),
    (client_error("ExpiredToken", "expired", "PutObject"), "credentials"),
    (client_error("SlowDown", "Please reduce your request rate.", "UploadPart", 503), "other"),
    (AwsCallError("sts", "GetCallerIdentity", "x", "y"), "other"),
], ids=["denied", "denied-head", "kms-policy", "kms-key", "read-timeout", "connect-timeout", "unreachable", "reset",
        "s3-request-timeout", "no-credentials", "expired", "throttled", "wrapped-unknown"])
def test_failure_kinds(exc, kind):
    # botocore/exceptions.py: ReadTimeoutError and ConnectionClosedError are HTTPClientErrors, ConnectTimeoutError and
    # EndpointConnectionError ConnectionErrors; the standard retry mode retries both families before they surface
    # (botocore/retries/standard.py, TransientRetryableChecker).
    assert failure_kind(exc) == kind


def test_a_failed_file_is_one_line():
    exc = client_error("SlowDown", "Please reduce your request rate.", "UploadPart", 503)
    assert failure_text(ROOT, exc) == "s3 UploadPart: SlowDown: Please reduce your request rate."
    assert failure_text(ROOT / "x.bin", FileNotFoundError(2, "No such file or directory")) == (
        f"{ROOT / 'x.bin'}: No such file or directory")


def test_part_sizes_follow_s3s_multipart_limits():
    # docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html: parts of 5 MiB to 5 GiB (the last may be smaller),
    # at most 10,000 parts per upload.
    assert (MIN_PART, MAX_PART, MAX_PARTS) == (5 * MIB, 5 * 1024 * MIB, 10_000)
    assert part_size_for(192 * MIB) == DEFAULT_PART == 8 * MIB
    assert part_size_for(100 * 1024 * MIB) == 11 * MIB  # 10,240 parts of 10 MiB would be too many
    assert 100 * 1024 * MIB / part_size_for(100 * 1024 * MIB) <= MAX_PARTS
    assert part_size_for(MAX_PARTS * MAX_PART) == MAX_PART
    with pytest.raises(ValueError, match="more than S3 takes in one object"):
        part_size_for(MAX_PARTS * MAX_PART + 1)


def piece(data: bytes) -> Piece:
    return Piece(1, data, b64(hashlib.sha256(data).digest()), hashlib.md5(data).hexdigest())


def test_a_listed_part_is_reused_only_with_the_same_bytes():
    # ListParts gives each part's Size, ETag and, for an upload made with ChecksumAlgorithm SHA256, ChecksumSHA256
    # (botocore s3/2006-03-01/service-2.json, shape Part). An SSE-KMS part's ETag is not its MD5, so the checksum
    # decides when there is one.
    data = b"x" * 1000
    assert part_matches({"Size": 1000, "ETag": "\"not-md5\"", "ChecksumSHA256": piece(data).sha256}, piece(data))
    assert not part_matches({"Size": 1000, "ETag": f'"{piece(data).md5}"', "ChecksumSHA256": piece(b"y" * 1000).sha256},
                            piece(data))
    assert part_matches({"Size": 1000, "ETag": f'"{piece(data).md5}"'}, piece(data))  # moto lists no checksum
    assert not part_matches({"Size": 999, "ETag": f'"{piece(data).md5}"'}, piece(data))
    assert not part_matches(None, piece(data))


def test_every_boto3_client_is_made_in_one_place():
    # Any `<x>.client(...)`, `<x>.resource(...)` or `boto3.client(...)` call outside infra/ops/aws_clients.py would make
    # a client without the timeouts; `self.client(...)` is Preflight's own method, which calls aws_clients.client.
    made = []
    for path in sorted((ROOT / "infra").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("client", "resource") and \
                    not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
                made.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [m.split(":")[0] for m in made] == ["infra/ops/aws_clients.py"], made


def test_the_one_place_sets_timeouts_and_retries(monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    config = aws_clients.client(session, "s3", max_pool_connections=33).meta.config  # the client botocore built
    assert (config.connect_timeout, config.read_timeout) == (aws_clients.CONNECT_TIMEOUT, aws_clients.READ_TIMEOUT)
    assert config.retries == {"mode": "standard", "total_max_attempts": aws_clients.MAX_ATTEMPTS}
    assert config.max_pool_connections == 33
    assert aws_clients.CONNECT_TIMEOUT <= 10 and aws_clients.READ_TIMEOUT <= 30  # botocore's defaults are 60 and 60
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the user's choice still counts (botocore/args.py reads it)
    assert aws_clients.client(session, "sts").meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    from infra.ops.preflight import Preflight

    cfg = parse_stack_config("cloudviper", "dev", dev_config())
    preflight = Preflight(cfg, ROOT / "policies" / "config", session=session)
    assert preflight.client("ec2").meta.config.connect_timeout == aws_clients.CONNECT_TIMEOUT


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_in_a_log_is_plain_lines_every_ten_percent_or_five_seconds():
    out, clock = io.StringIO(), Clock()
    progress = TransferProgress(files=4, total_bytes=4000, out=out, tty=False, clock=clock)
    for _ in range(50):  # fast: 1 % every 0.01 s; a line at each 10 %
        clock.now += 0.01
        progress.bytes_sent(40)
    assert [line.split("(")[1].split(")")[0] for line in out.getvalue().splitlines()] == ["10%", "20%", "30%", "40%", "50%"]
    for _ in range(30):  # slow: 0.2 % a second; a line every 5 s
        clock.now += 1.0
        progress.bytes_sent(8)
    assert len(out.getvalue().splitlines()) == 5 + 6 and "\r" not in out.getvalue()
    for _ in range(4):
        progress.file_done(440)  # what each file has not reported yet: each crosses another 10 %
    progress.finish()  # nothing new since the last line: not repeated
    lines = out.getvalue().splitlines()
    assert len(lines) == 15 and lines[-2] != lines[-1]
    assert lines[-1].startswith("progress: 4/4 files, 3.9 KiB of 3.9 KiB (100%)") and lines[-1].endswith("ETA 0:00:00")


def test_progress_on_a_terminal_redraws_one_line():
    out, clock = io.StringIO(), Clock()
    progress = TransferProgress(files=2, total_bytes=2 * 2**20, out=out, tty=True, clock=clock)
    clock.now = 1.0
    progress.bytes_sent(2**20)
    progress.file_done(0)
    clock.now = 2.0
    progress.bytes_sent(2**20 // 2)
    progress.finish()
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert text.startswith("\r0/2 files, 1.0 MiB of 2.0 MiB (50%), 1.0 MiB/s, ETA 0:00:01\r")
    assert "\r1/2 files, 1.5 MiB of 2.0 MiB (75%), 768.0 KiB/s, ETA 0:00:01" in text  # file_done at t=1 was not drawn


def test_sizes_durations_and_the_summary_line():
    assert [size_text(n) for n in (512, 3 * 1024, 12.5 * 2**20, 1.2 * 2**30)] == ["512 B", "3.0 KiB", "12.5 MiB", "1.20 GiB"]
    assert duration_text(3725) == "1:02:05"
    summary = Summary(uploaded=["a", "b"], skipped=["c"], failed=[("d", "s3 PutObject: AccessDenied: no")],
                      bytes_sent=3 * 2**20, elapsed=2.0)
    assert summary.line() == ("uploaded 2 files (3.0 MiB), skipped 1 already present with the same size and SHA-256, "
                              "1 failed; 2.0 s elapsed, 1.5 MiB/s on average")


def dev_config():
    return copy.deepcopy(yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())["config"])


def test_resolve_bucket_builds_the_programs_default_name_and_asks_sts_only_then():
    calls = []

    def account() -> str:
        calls.append(1)
        return "111122223333"

    cfg = parse_stack_config("cloudviper", "dev", dev_config())
    assert resolve_bucket(cfg, "data", account) == "cloudviper-dev-data-111122223333" and calls == [1]
    assert resolve_bucket(cfg, "cloudviper-dev-data-111122223333", account) == "cloudviper-dev-data-111122223333"
    with pytest.raises(UnknownBucketError, match=r"stack dev has no bucket 'raw'; its buckets \(cloudviper:buckets\[\]\.name\): data"):
        resolve_bucket(cfg, "raw", account)
    values = dev_config()
    values["cloudviper:buckets"][0]["bucketName"] = "exact-name"
    calls.clear()
    exact = parse_stack_config("cloudviper", "dev", values)
    assert resolve_bucket(exact, "data", account) == "exact-name" and resolve_bucket(exact, "exact-name", account)
    assert calls == []
