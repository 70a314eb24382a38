"""The boto3 tools' pieces that need no AWS: one-line errors, credential hints, progress output, bucket names."""

from __future__ import annotations

import copy
import io

import botocore.exceptions
import pytest
import yaml
from boto3.exceptions import S3UploadFailedError
from botocore.parsers import ResponseParserError

from infra import ROOT
from infra.config.loader import parse_stack_config
from infra.ops.aws_errors import AwsCallError, aws_call, code_and_message, credential_hint, failure_line, one_line
from infra.ops.buckets import UnknownBucketError, resolve_bucket
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


def test_a_failed_multipart_upload_reports_the_aws_error_inside():
    # boto3/s3/transfer.py re-raises a ClientError as S3UploadFailedError (inside the except: __context__).
    try:
        try:
            raise client_error("SlowDown", "Please reduce your request rate.", "UploadPart", 503)
        except botocore.exceptions.ClientError as e:
            raise S3UploadFailedError(f"Failed to upload f to b/k: {e}")  # noqa: B904 (as boto3 does)
    except S3UploadFailedError as exc:
        assert failure_text(ROOT, exc) == "s3 UploadPart: SlowDown: Please reduce your request rate."


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
