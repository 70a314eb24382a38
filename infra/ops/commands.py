"""`python -m infra preflight | prices refresh | data upload`: what infra/cli.py runs, with its exit codes.

0 done, 1 a check or an AWS call failed, 2 a usage or config error, including AWS credentials that do not work
(no credentials, an unknown profile, an expired SSO login or session token). `data upload` adds 3 (access denied by
S3 or the bucket's KMS key), 4 (AWS unreachable or not answering), 130 (Ctrl-C) and 143 (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def _aws_exit(exc: BaseException) -> int:
    """2 when the AWS credentials are the problem (the user's setup, like a config error), else 1 (a call failed)."""
    from infra.ops.aws_errors import credentials_problem

    return EXIT_CONFIG if credentials_problem(exc) else EXIT_FAILED


def _error(command: str, message: str, code: int) -> int:
    print(f"cloudviper {command}: {message}", file=sys.stderr)
    return code


def run_preflight(root: Path, args: argparse.Namespace) -> int:
    """The preflight table of one stack (only the identity check when it fails)."""
    from infra.config.errors import ConfigError
    from infra.config.loader import parse_stack_config
    from infra.config.policy_file import load_policy_config
    from infra.config.stackfile import load_stack_file, project_folder
    from infra.ops.access_checks import managed_buckets
    from infra.ops.kept_buckets import load_state
    from infra.ops.preflight import FAIL, Preflight, render
    from policies.pack import pack_specs

    try:
        project_dir = project_folder(args.project_dir, root)
        stack = load_stack_file(project_dir, args.stack)
        cfg = parse_stack_config(stack.project, args.stack, stack.values, set(stack.secret_keys), stack.plain_secrets)
        policy = load_policy_config(args.stack, project_dir / "policies" / "config", pack_specs())
    except ConfigError as exc:
        return _error("preflight", f"stack {args.stack}: {exc}", EXIT_CONFIG)
    try:
        managed = managed_buckets(args.pulumi_state)
        previous = load_state(args.pulumi_state)
    except ValueError as exc:
        return _error("preflight", str(exc), EXIT_CONFIG)
    preflight = Preflight(cfg, project_dir / "policies" / "config", offline=args.offline, managed_buckets=managed)
    preflight.previous_state = previous  # kept buckets the config renamed or removed (infra/ops/kept_buckets.py)
    checks = preflight.run()
    print(f"cloudviper preflight: stack {args.stack} ({cfg.region})")
    if policy.path is None:
        print(f"note: no policies/config/{args.stack}.json: the policy pack applies its rule defaults (allowed regions "
              f"{', '.join(policy.rules['allowed-regions'][1]['allowedRegions'])}); `python -m infra init` writes one")
    print(render(checks, stopped=preflight.stopped))
    if preflight.credentials_failed:  # no working credentials: the user's setup, reported like a config error
        return EXIT_CONFIG
    return EXIT_FAILED if any(c.status == FAIL for c in checks) else EXIT_OK


def run_prices_refresh(args: argparse.Namespace) -> int:
    """Refresh the price tables: one line per AWS error, nothing written unless every call succeeded."""
    from infra.ops.aws_errors import AwsCallError
    from infra.ops.prices_refresh import RefreshError, refresh
    from infra.pricing.tables import PRICING_DIR

    try:
        meta = refresh(args.region, Path(args.output_dir) if args.output_dir else None)
    except RefreshError as exc:
        return _error("prices refresh", str(exc), EXIT_CONFIG)
    except (AwsCallError, RuntimeError) as exc:
        return _error("prices refresh", str(exc), _aws_exit(exc))
    print(f"refreshed {meta['instance_types']} instance types and {meta['spot_prices']} spot prices for "
          f"{meta['region']} ({meta['date']}); wrote {', '.join(meta['files'])}")
    if Path(meta["files"][0]).parent.resolve() == PRICING_DIR.resolve():
        print("the cost model now uses these instead of the bundled table; delete them to go back")
    else:
        print(f"the cost model reads refreshed tables from {PRICING_DIR} only: copy these files there to use them")
    return EXIT_OK


def run_data_upload(root: Path, args: argparse.Namespace) -> int:
    """Upload a dataset (to a stack's bucket by its logical name with --stack); progress on stderr, summary on stdout.

    Exit codes: 0, 1 some files failed (listed), 2 usage/config/credentials, 3 access denied (S3 or the bucket's
    KMS key), 4 AWS unreachable or not answering, 130 Ctrl-C, 143 SIGTERM.
    """
    import boto3

    from infra.config.errors import ConfigError
    from infra.config.stackfile import project_folder
    from infra.ops.aws_errors import AWS_ERRORS, AwsCallError, failure_kind, failure_line
    from infra.ops.buckets import UnknownBucketError, stack_bucket
    from infra.ops.upload import Terminated, UploadError, UploadInterruptedError, UploadStoppedError, upload
    from infra.ops.upload_sources import PathRefusedError, refuse

    bucket, region = args.bucket, None
    try:
        with _sigterm_raises():
            path = refuse(args.path)
            if args.stack:
                bucket, region = stack_bucket(project_folder(args.project_dir, root), args.stack, args.bucket)
                print(f"bucket {args.bucket} of stack {args.stack}: s3://{bucket}", file=sys.stderr)
            summary = upload(path, bucket, args.prefix, boto3.session.Session(region_name=region), jobs=args.jobs,
                             part_mib=args.part_size, include_hidden=args.include_hidden)
    except ConfigError as exc:
        return _error("data upload", f"stack {args.stack}: {exc}", EXIT_CONFIG)
    except (PathRefusedError, UnknownBucketError, UploadError) as exc:
        return _error("data upload", str(exc), EXIT_CONFIG)
    except UploadStoppedError as exc:
        line = "; ".join(filter(None, (f"{failure_line(exc.error, 's3', '')} (at {exc.key})", _stopped_note(exc))))
        return _error("data upload", line, UPLOAD_EXITS.get(exc.kind, EXIT_FAILED))
    except (AwsCallError, *AWS_ERRORS) as exc:
        kind = failure_kind(exc)
        hint = _hint(kind)
        return _error("data upload", failure_line(exc, "s3", "") + (f"; {hint}" if hint else ""),
                      UPLOAD_EXITS.get(kind, EXIT_FAILED))
    except UploadInterruptedError as exc:
        return _error("data upload", f"{exc}; aborted {exc.aborted} unfinished multipart uploads; finished files are "
                      "skipped when you run it again", EXIT_TERMINATED if exc.terminated else EXIT_INTERRUPTED)
    except KeyboardInterrupt as exc:  # before the upload started, or again while it was aborting
        terminated = isinstance(exc, Terminated)
        return _error("data upload", f"{'terminated' if terminated else 'interrupted'}; if an upload was under way, "
                      "unfinished multipart uploads may be left: a re-run resumes them, the bucket's lifecycle rule "
                      "removes them after some days", EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    print(summary.line())
    for note in summary.notes():
        print(note)
    for key, error in summary.failed:
        print(f"cloudviper data upload: failed: {key}: {error}", file=sys.stderr)
    return EXIT_FAILED if summary.failed else EXIT_OK


EXIT_DENIED, EXIT_UNREACHABLE, EXIT_TERMINATED = 3, 4, 143  # data upload; 143 = 128 + SIGTERM, as shells report it
UPLOAD_EXITS = {"credentials": EXIT_CONFIG, "denied": EXIT_DENIED, "kms": EXIT_DENIED, "network": EXIT_UNREACHABLE}
STOP_HINTS = {
    "denied": "fix: these credentials may not write there: data upload needs s3:ListBucket, s3:GetObject, "
              "s3:PutObject, s3:DeleteObject, s3:AbortMultipartUpload, s3:ListMultipartUploadParts (and "
              "s3:ListBucketMultipartUploads to resume) on the bucket",
    "kms": "fix: the bucket's KMS key refuses these credentials: they need kms:GenerateDataKey and kms:Decrypt on "
           "the stack's data key (in the key policy or their IAM policy)",
    "network": "fix: check the network, proxy settings and AWS_ENDPOINT_URL; a call gives up after {attempts} "
               "attempts, each stalled {connect:g} s connecting or sending or {read:g} s awaiting the answer",
}


def _hint(kind: str) -> str:
    """The fix for a kind of failure (aws_errors.failure_kind), or ""."""
    from infra.ops import aws_clients as c

    attempts = os.environ.get("AWS_MAX_ATTEMPTS") or c.MAX_ATTEMPTS
    return STOP_HINTS.get(kind, "").format(attempts=attempts, connect=c.CONNECT_TIMEOUT, read=c.READ_TIMEOUT)


def _stopped_note(exc: Any) -> str:
    """What happened to the run's unfinished uploads, and the fix for this kind of failure."""
    left = (f"kept {exc.kept} unfinished multipart uploads: the next run resumes them" if exc.kept
            else f"aborted {exc.aborted} unfinished multipart uploads" if exc.aborted else "")
    return "; ".join(filter(None, (left, _hint(exc.kind))))


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises Terminated in the main thread (so the upload can abort what it started), while inside."""
    from infra.ops.upload import Terminated

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
