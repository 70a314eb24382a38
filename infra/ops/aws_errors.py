"""AWS errors as one readable line, and what to do when the credentials are the problem.

botocore reports a non-AWS answer (a proxy's or load balancer's HTML page) either as a ClientError whose
message is the whole page (JSON protocols), as a ClientError without code or message (XML protocols; it
prints `Unknown`), or as ResponseParserError with the page in its text (botocore/parsers.py); none of that
belongs in a terminal.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

import botocore.exceptions
import botocore.session
from botocore.parsers import ResponseParserError

# What a call to AWS can raise besides a bug: botocore's own errors, an error answer, an answer it cannot parse.
AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ResponseParserError)
MAX_MESSAGE = 200
# Error codes of a session token that is no longer valid: `ExpiredToken` (AWS's common errors; botocore does not
# model it) and `ExpiredTokenException` (STS's model, botocore/data/sts/2011-06-15/service-2.json.gz).
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException"}
# Error codes of keys AWS does not know or a secret that does not match (AWS's common errors, by API style; not
# modelled in botocore, and the codes moto answers with when it checks credentials: moto/core/exceptions.py).
REJECTED_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure",
                  "InvalidAccessKeyId"}
# Error codes of a request the policies refuse (S3's error codes: AccessDenied; AllAccessDisabled for a bucket
# whose access AWS has cut off; `403` from a HEAD request, which has no body to carry a code).
DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
# S3 passes the bucket key's KMS error on: `KMS.NotFoundException` (aws/aws-cli#4507), `KMS.DisabledException`,
# `KMS.KMSInvalidStateException` (a disabled or deleted key); a key policy that refuses the caller is AccessDenied
# naming the KMS action ("is not authorized to perform: kms:GenerateDataKey", buildkite/docs#2344).
KMS_CODE_PREFIX = "KMS."
# S3's answer to a request body that stopped coming (S3 error codes): the network, like a timeout.
SLOW_CODES = {"RequestTimeout", "RequestTimeoutException"}
_HTML = re.compile(r"<\s*(!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class AwsCallError(Exception):
    """An AWS call that failed, as `<service> <operation>: <code>: <message>`."""

    def __init__(self, service: str, operation: str, code: str, message: str) -> None:
        self.service, self.operation, self.code, self.message = service, operation, code, message
        super().__init__(f"{service} {operation}: {code}: {message}")


class UnexpectedResponse(botocore.exceptions.BotoCoreError):
    """A 200 answer without the field every real answer has (a proxy's page, a wrong endpoint)."""

    fmt = ("the answer has no {field}: not an AWS API response (check AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_*, "
           "proxies and the network)")


def clean(message: str, status: Optional[int] = None) -> str:
    """One short line: an HTML page becomes its title, whitespace collapses, long text is cut."""
    if _HTML.search(message):
        title = _TITLE.search(message)
        what = f"an HTML page ({html.unescape(title.group(1)).strip()})" if title else "an HTML page"
        message = f"{what}, not an AWS API response (check AWS_ENDPOINT_URL, proxies and the network)"
    message = " ".join(message.split())
    if not message and status:
        message = f"HTTP {status}"
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 3] + "..."


def code_and_message(exc: BaseException) -> tuple[str, str]:
    """(error code, one-line message) of an AWS error."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
        if code in ("", "Unknown"):  # botocore could not read an error document (an XML API given HTML)
            code = f"HTTP {status}" if status else "Unknown"
            message = "" if message == "Unknown" else message
            message = message or "the answer is not an AWS error document (check AWS_ENDPOINT_URL, proxies and the network)"
        return code, clean(message, status)
    if isinstance(exc, ResponseParserError):
        first = str(exc).split("\n", 1)[0]
        return "ResponseParserError", clean(f"{first} (not an AWS API response: check AWS_ENDPOINT_URL, proxies "
                                            "and the network)" if "\n" in str(exc) else str(exc))
    return exc.__class__.__name__, clean(str(exc))


def one_line(service: str, operation: str, exc: BaseException) -> str:
    """`<service> <operation>: <code>: <message>` (the operation botocore names wins; an unknown one is left out)."""
    operation = getattr(exc, "operation_name", None) or operation
    code, message = code_and_message(exc)
    return f"{' '.join(filter(None, (service, operation)))}: {code}: {message}"


@contextmanager
def aws_call(service: str, operation: str) -> Iterator[None]:
    """Turn any AWS error raised inside into AwsCallError (one line)."""
    try:
        yield
    except AWS_ERRORS as exc:
        code, message = code_and_message(exc)
        raise AwsCallError(service, getattr(exc, "operation_name", None) or operation, code, message) from exc


def profile_in_use() -> Optional[str]:
    """The profile the credential chain reads (AWS_PROFILE, else AWS_DEFAULT_PROFILE), if one is named."""
    return os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or None


def configured_profiles() -> list[str]:
    """Profiles in the AWS config and credentials files (a bad AWS_PROFILE does not stop botocore listing them)."""
    try:
        return sorted(botocore.session.Session().available_profiles)
    except Exception:  # a malformed config file: the hint then lists none
        return []


def _profiles_note() -> str:
    found = configured_profiles()
    return f" (profiles configured here: {', '.join(found)})" if found else ""


def credential_hint(exc: BaseException) -> Optional[tuple[str, str]]:
    """(what is wrong, what to run) when `exc` means the credentials do not work; None for other errors."""
    profile = profile_in_use()
    p = profile or "NAME"
    login = f"run `aws sso login --profile {p}`" + ("" if profile else f" and set AWS_PROFILE={p}")
    e = botocore.exceptions
    if isinstance(exc, e.ProfileNotFound):
        name = exc.kwargs.get("profile", profile)
        found = configured_profiles()
        listed = f"configured profiles: {', '.join(found)}" if found else "no profiles are configured"
        return (f"AWS profile {name!r} does not exist ({listed})",
                f"set AWS_PROFILE to one of them, or create it: `aws configure sso --profile {name}`")
    if isinstance(exc, e.NoCredentialsError):
        return ("no AWS credentials found" + _profiles_note(),
                f"{login}, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, e.PartialCredentialsError):
        return (f"only part of the AWS credentials is set ({exc.kwargs.get('cred_var')} is missing)",
                "export both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), "
                f"or unset them and {login}")
    if isinstance(exc, (e.SSOError, e.TokenRetrievalError)):
        return (f"the SSO login of profile {profile or 'default'} has expired or was never made ({clean(str(exc))})",
                f"run `aws sso login --profile {profile or 'default'}`")
    if isinstance(exc, e.LoginError):
        return f"the `aws login` session has expired ({clean(str(exc))})", "run `aws login` and try again"
    if isinstance(exc, e.CredentialRetrievalError):
        return (f"the credential provider failed: {clean(str(exc))}",
                f"check profile {profile or 'default'}'s credential_process / role settings, or {login}")
    if isinstance(exc, e.ClientError):
        code, message = code_and_message(exc)
        if code in EXPIRED_CODES:
            return (f"the AWS session token has expired ({code})",
                    f"{login} (or get new temporary credentials) and try again")
        if code in REJECTED_CODES:
            return (f"AWS does not accept these credentials ({code}: {message})",
                    "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or unset them and use a profile: "
                    f"{login})")
    if isinstance(exc, (e.EndpointConnectionError, e.ConnectTimeoutError)):
        return (f"cannot reach AWS: {clean(str(exc))}",
                "check the network and proxy settings, and AWS_ENDPOINT_URL if it is set")
    return None


def credentials_problem(exc: BaseException) -> bool:
    """Whether `exc` (or the error an AwsCallError wraps) means the credentials do not work: the user's setup, which
    the commands report like a config error (exit 2). An unreachable endpoint is not one."""
    wrapped = exc.__cause__ if isinstance(exc, AwsCallError) and exc.__cause__ is not None else exc
    network = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
    return credential_hint(wrapped) is not None and not isinstance(wrapped, network)


def describe_failure(exc: BaseException, service: str, operation: str) -> tuple[str, str]:
    """(detail, fix) for a failed call: the credential hint if there is one, else the one-line error."""
    hint = credential_hint(exc)
    if hint is not None:
        return hint
    return one_line(service, operation, exc), "check credentials, region and permissions, then run again"


def failure_line(exc: BaseException, service: str, operation: str) -> str:
    """describe_failure as one line: `what is wrong; fix: what to run` (just the error when there is no hint).

    An AwsCallError is judged by the error it wraps and otherwise keeps its own service and operation."""
    wrapped = exc.__cause__ if isinstance(exc, AwsCallError) and exc.__cause__ is not None else exc
    hint = credential_hint(wrapped)
    if hint:
        return f"{hint[0]}; fix: {hint[1]}"
    return str(exc) if isinstance(exc, AwsCallError) else one_line(service, operation, exc)


def failure_kind(exc: BaseException) -> str:
    """What kind of problem an AWS error is: `credentials`, `kms` (the bucket's key refuses), `denied`, `network`
    (unreachable, a timeout, a dropped connection: botocore's ConnectionError and HTTPClientError families,
    botocore/exceptions.py) or `other`."""
    wrapped = exc.__cause__ if isinstance(exc, AwsCallError) and exc.__cause__ is not None else exc
    if isinstance(wrapped, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return "network"
    if credentials_problem(wrapped):
        return "credentials"
    if isinstance(wrapped, botocore.exceptions.ClientError):
        code, message = code_and_message(wrapped)
        if code.startswith(KMS_CODE_PREFIX) or (code in DENIED_CODES and "kms:" in message.lower()):
            return "kms"
        if code in DENIED_CODES:
            return "denied"
        if code in SLOW_CODES:
            return "network"
    return "other"
