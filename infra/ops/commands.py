"""`python -m infra preflight | prices refresh | data upload`: what infra/cli.py runs, with its exit codes.

0 done, 1 a check or an AWS call failed, 2 a usage or config error, including AWS credentials that do not work
(no credentials, an unknown profile, an expired SSO login or session token).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    except ValueError as exc:
        return _error("preflight", str(exc), EXIT_CONFIG)
    preflight = Preflight(cfg, project_dir / "policies" / "config", offline=args.offline, managed_buckets=managed)
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
    """Upload a dataset (to a stack's bucket by its logical name with --stack); progress on stderr, summary on stdout."""
    import boto3

    from infra.config.errors import ConfigError
    from infra.config.stackfile import project_folder
    from infra.ops.aws_errors import AWS_ERRORS, AwsCallError, failure_line
    from infra.ops.buckets import UnknownBucketError, stack_bucket
    from infra.ops.upload import UploadError, upload

    bucket, region = args.bucket, None
    try:
        if args.stack:
            bucket, region = stack_bucket(project_folder(args.project_dir, root), args.stack, args.bucket)
            print(f"bucket {args.bucket} of stack {args.stack}: s3://{bucket}", file=sys.stderr)
        summary = upload(Path(args.path), bucket, args.prefix, boto3.session.Session(region_name=region), jobs=args.jobs)
    except ConfigError as exc:
        return _error("data upload", f"stack {args.stack}: {exc}", EXIT_CONFIG)
    except (UnknownBucketError, UploadError) as exc:
        return _error("data upload", str(exc), EXIT_CONFIG)
    except (AwsCallError, *AWS_ERRORS) as exc:
        return _error("data upload", failure_line(exc, "s3", ""), _aws_exit(exc))
    except KeyboardInterrupt:
        return _error("data upload", "interrupted; run it again to resume (finished files are skipped)",
                      EXIT_INTERRUPTED)
    print(summary.line())
    for key, error in summary.failed:
        print(f"cloudviper data upload: failed: {key}: {error}", file=sys.stderr)
    return EXIT_FAILED if summary.failed else EXIT_OK
