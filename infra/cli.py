"""Command line: `python -m infra plan [--stack NAME] [--json|--markdown]`."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description="cloudviper tools")
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="show what `pulumi up` would create, offline (no CLI, no cloud)")
    plan.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    plan.add_argument("--project-dir", default=None, help="folder with Pulumi.yaml and the stack files (default: this repo)")
    plan.add_argument("--render-k8s", metavar="DIR", default=None,
                      help="also write every Kubernetes object the stack would create as YAML into DIR")
    fmt = plan.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the report as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print the report as markdown (PR comment)")
    return parser


def cmd_plan(args: argparse.Namespace) -> int:
    """Run the offline plan of one stack and print it."""
    from pathlib import Path

    import pulumi

    from infra.plan import ROOT, make_plan, render_json, render_markdown, render_text

    try:
        plan = make_plan(args.stack, Path(args.project_dir) if args.project_dir else ROOT)
    except pulumi.RunError as exc:  # ConfigError, and user errors raised while the program runs
        print(f"cloudviper plan: stack {args.stack}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    render = render_json if args.json else render_markdown if args.markdown else render_text
    print(render(plan))
    if args.render_k8s:
        from infra.render import write_manifests

        paths = write_manifests(plan.capture, Path(args.render_k8s))
        print(f"wrote {len(paths)} Kubernetes manifests to {args.render_k8s}", file=sys.stderr)
    return plan.exit_code


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "plan":
        return cmd_plan(args)
    return EXIT_UNEXPECTED
