"""Command line: `python -m infra plan|preflight|prices|data|image-push-policy ...` (see --help)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from infra import ROOT

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_CHECKS_FAILED = 1
EXIT_POLICY = 3  # a mandatory policy violation (infra/plan/sections.py)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description="cloudviper tools")
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="show what `pulumi up` would create, offline (no CLI, no cloud)")
    which = plan.add_mutually_exclusive_group()
    which.add_argument("--stack", action="append", default=None,
                       help="stack name: reads Pulumi.<stack>.yaml (default: dev); repeat it to plan several stacks in "
                            "one process")
    which.add_argument("--all", action="store_true",
                       help="every stack file (Pulumi.*.yaml) of the project, in one process (one import of the SDKs)")
    plan.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")
    plan.add_argument("--render-k8s", metavar="DIR", default=None,
                      help="also write every Kubernetes object the stack would create as YAML into DIR")
    fmt = plan.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the report as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print the report as markdown (PR comment)")

    diff = sub.add_parser("diff", help="what a change does to each stack, offline: resources, inputs, cost, policy")
    diff.add_argument("--base", required=True, help="git ref to compare with (origin/main, HEAD~1, a sha)")
    which = diff.add_mutually_exclusive_group()
    which.add_argument("--stack", default=None, help="one stack (default: every Pulumi.*.yaml on either side)")
    which.add_argument("--all", action="store_true", help="every stack (the default)")
    dfmt = diff.add_mutually_exclusive_group()
    dfmt.add_argument("--json", action="store_true", help="print the diff as JSON")
    dfmt.add_argument("--markdown", action="store_true", help="print the pull-request comment (markdown)")
    diff.add_argument("--artifact-note", default="",
                      help="where the full report is, for a comment too long for GitHub (markdown only)")
    diff.add_argument("--output-dir", metavar="DIR", default=None,
                      help="also write diff.txt, diff.json, diff.md (full) and comment.md (fits a GitHub comment)")
    diff.add_argument("--previous-comment", metavar="FILE", default=None,
                      help="the comment this run replaces: its summaries are kept under 'Earlier pushes'")
    diff.add_argument("--head-label", default="this pull request", help="what the working tree is called in reports")
    diff.add_argument("--allow-data-loss", action="store_true",
                      help="accept changes that destroy data (no exit 4); other failures still count")

    init = sub.add_parser("init", help="a new stack: Pulumi.NAME.yaml and policies/config/NAME.json, then its plan")
    init.add_argument("name", metavar="NAME", help="stack name: lowercase letters, digits, hyphens (e.g. mylab)")
    init.add_argument("--region", required=True, help="AWS region, e.g. eu-central-1 (also the only allowed region)")
    init.add_argument("--owner", default=None, help="owner tag (default: your user name)")
    init.add_argument("--cost-center", default=None, help="cost-center tag (default: NAME)")
    init.add_argument("--budget", type=float, default=None, metavar="USD",
                      help="highest $/hour at maximum scale, enforced by the policy pack (default: 2)")
    init.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")

    stacks = sub.add_parser("stacks", help="the project's stacks (Pulumi.*.yaml) in deploy order: targets first")
    stacks.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")
    stacks.add_argument("--json", action="store_true", help="one JSON list (the workflows' matrix)")

    pre = sub.add_parser("preflight", help="check the AWS account can deploy the stack (boto3; honours AWS_ENDPOINT_URL)")
    pre.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    pre.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")
    pre.add_argument("--offline", action="store_true",
                     help="do not look up this machine's public address (the API-access check then only warns)")
    pre.add_argument("--pulumi-state", metavar="FILE", default=None,
                     help="`pulumi stack export` output: buckets the stack manages are not taken for kept ones")

    prices = sub.add_parser("prices", help="price tables")
    prices_sub = prices.add_subparsers(dest="prices_command", required=True)
    refresh = prices_sub.add_parser("refresh", help="rebuild the price table from the AWS Pricing API and spot history")
    refresh.add_argument("--region", default="us-east-1", help="region to price (default: us-east-1)")
    refresh.add_argument("--output-dir", default=None,
                         help="where to write the tables (default: infra/pricing, where the cost model reads them; "
                              "the bundled tables are never overwritten)")

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    up = data_sub.add_parser("upload", help="stage a file or folder into a bucket (resumable)")
    up.add_argument("path", help="file or folder to upload")
    up.add_argument("--bucket", required=True,
                    help="with --stack: the bucket's name in the stack (cloudviper:buckets[].name); without: the S3 "
                         "bucket name (see the stack output dataBuckets)")
    up.add_argument("--stack", default=None, help="stack whose bucket --bucket names: reads Pulumi.<stack>.yaml and "
                                                  "builds the physical name (account id from STS)")
    up.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")
    up.add_argument("--prefix", default="", help="key prefix inside the bucket")
    up.add_argument("--jobs", type=int, default=4, help="files uploaded at once, 1 to 64 (default: 4)")
    up.add_argument("--part-size", type=int, default=8, metavar="MIB",
                    help="multipart part size in MiB, 5 to 5120 (default: 8; larger when a file needs over 10,000 parts)")
    up.add_argument("--include-hidden", action="store_true",
                    help="also upload files and folders whose names start with `.` (skipped by default)")

    push = sub.add_parser("image-push-policy", help="the IAM policy the image workflow's role needs (JSON)")
    push.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    push.add_argument("--account", required=True, help="the AWS account id (12 digits)")
    push.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")
    return parser


PROGRAM_FILES = ("Pulumi.yaml", "__main__.py")  # what `plan` evaluates; the other commands read Pulumi.yaml only


def project_dir(args: argparse.Namespace, needs: tuple[str, ...] = ("Pulumi.yaml",)) -> Path:
    """The --project-dir folder (default: this repo), or ConfigError naming what it lacks."""
    from infra.config.stackfile import project_folder

    return project_folder(getattr(args, "project_dir", None), ROOT, needs)


def cmd_plan(args: argparse.Namespace) -> int:
    """Run the offline plan of one stack, several or all in this process and print them (infra/plan/plan_command.py)."""
    from infra.config.errors import ConfigError
    from infra.plan.plan_command import run_plan

    try:
        folder = project_dir(args, PROGRAM_FILES)
    except ConfigError as exc:
        print(f"cloudviper plan: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return run_plan(folder, args)


def cmd_diff(args: argparse.Namespace) -> int:
    """Plan the base ref and the working tree; print (and write) what changes per stack."""
    from infra.plan.diff_command import run_diff

    return run_diff(ROOT, args)


def cmd_init(args: argparse.Namespace) -> int:
    """Write a new stack's files from the templates (never over a file), then plan it."""
    from infra.config.errors import ConfigError
    from infra.config.scaffold import new_stack, write_stack

    try:
        folder = project_dir(args, PROGRAM_FILES)
        paths = write_stack(folder, new_stack(args.name, args.region, args.owner, args.cost_center, args.budget))
    except ConfigError as exc:
        print(f"cloudviper init: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for path in paths:
        print(f"wrote {path.relative_to(folder)}", file=sys.stderr)
    print(f"next: edit them (publicAccessCidrs, pools, buckets; README \"Your own stack\"), then "
          f"`python -m infra plan --stack {args.name}` and `python -m infra preflight --stack {args.name}`",
          file=sys.stderr)
    plan_args = argparse.Namespace(stack=[args.name], all=False, project_dir=str(folder), render_k8s=None, json=False,
                                   markdown=False)
    return cmd_plan(plan_args)


def cmd_stacks(args: argparse.Namespace) -> int:
    """Print the stacks in deploy order (the workflows build their matrix from it)."""
    import json

    from infra.config.errors import ConfigError
    from infra.config.stackfile import deploy_order

    try:
        folder = project_dir(args)
        order = deploy_order(folder)
        missing = [n for n in order if not (folder / "policies" / "config" / f"{n}.json").is_file()]
        if missing:  # the workflows pass the file to pulumi (--policy-pack-config), which fails without it
            raise ConfigError([f"Pulumi.{n}.yaml: has no policies/config/{n}.json, which the workflows pass to "
                               "`pulumi preview/up --policy-pack-config`; `python -m infra init` writes one for a new "
                               "stack, or copy another stack's and edit it" for n in missing])
    except ConfigError as exc:
        print(f"cloudviper stacks: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(json.dumps(order) if args.json else "\n".join(order))
    return EXIT_OK


def cmd_preflight(args: argparse.Namespace) -> int:
    """Run the preflight checks of one stack and print the table (only the identity check when it fails)."""
    from infra.ops.commands import run_preflight

    return run_preflight(ROOT, args)


def cmd_prices(args: argparse.Namespace) -> int:
    """Refresh the price tables: one line per AWS error, nothing written unless every call succeeded."""
    from infra.ops.commands import run_prices_refresh

    return run_prices_refresh(args)


def cmd_data(args: argparse.Namespace) -> int:
    """Upload a dataset (by the bucket's name in the stack with --stack), several files at once, with progress."""
    from infra.ops.commands import run_data_upload

    return run_data_upload(ROOT, args)


def cmd_image_push_policy(args: argparse.Namespace) -> int:
    """Print the push policy for the stack's Dask image repository."""
    import json
    import re

    from infra.config.errors import ConfigError
    from infra.config.loader import parse_stack_config
    from infra.config.stackfile import load_stack_file
    from infra.documents import iam, naming

    if not re.fullmatch(r"\d{12}", args.account):
        print(f"cloudviper image-push-policy: --account {args.account!r} is not a 12-digit AWS account id", file=sys.stderr)
        return EXIT_CONFIG
    try:
        stack = load_stack_file(project_dir(args), args.stack)
        cfg = parse_stack_config(stack.project, args.stack, stack.values, set(stack.secret_keys), stack.plain_secrets)
    except ConfigError as exc:
        print(f"cloudviper image-push-policy: stack {args.stack}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if cfg.dask is None or not cfg.dask.image_repository:
        print(f"cloudviper image-push-policy: stack {args.stack} has no image repository; set "
              "cloudviper:dask.imageRepository: true", file=sys.stderr)
        return EXIT_CONFIG
    arn = iam.ecr_repository_arn(cfg.region, args.account, naming.image_repository_name(cfg))
    print(json.dumps(iam.ecr_push_policy(arn), indent=2))
    return EXIT_OK


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        from infra.pricing.eks_support import today

        today()  # a malformed CLOUDVIPER_TODAY is a usage error, not a traceback in the cost model
    except ValueError as exc:
        print(f"cloudviper: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    commands = {"plan": cmd_plan, "diff": cmd_diff, "init": cmd_init, "stacks": cmd_stacks, "preflight": cmd_preflight,
                "prices": cmd_prices, "data": cmd_data, "image-push-policy": cmd_image_push_policy}
    try:
        return commands[args.command](args) if args.command in commands else EXIT_UNEXPECTED
    except OSError as exc:  # a path on the command line that cannot be read or written (--render-k8s a file): usage
        print(f"cloudviper {args.command}: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}",
              file=sys.stderr)
        return EXIT_CONFIG
