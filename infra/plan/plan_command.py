"""`python -m infra plan`: one stack, several (`--stack a --stack b`) or all (`--all`), in one process.

The SDKs are imported once; each stack gets its own report, a stack that fails to plan is reported and the others
still run, and the exit code is the worst of them. Stacks that federation references name are planned once for the
whole run as targets (or when they have no sources of their own), once per chain that reaches them as sources
(infra/plan/program.py). The collector is frozen after the imports: the SDKs' large heap is never garbage, and
walking it on every collection cost a quarter of a plan.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import pulumi

from infra.config.stackfile import list_stacks
from infra.plan.build import make_plan
from infra.plan.program import References
from infra.plan.report import error_document, render_json, render_markdown, render_text
from infra.plan.sdk_modules import import_and_freeze

EXIT_OK, EXIT_UNEXPECTED, EXIT_CONFIG, EXIT_POLICY = 0, 1, 2, 3


def worst_exit(codes: list[int]) -> int:
    """One exit code for several stacks: a failed plan (2, then 1) before a mandatory violation (3)."""
    for code in (EXIT_CONFIG, EXIT_UNEXPECTED, EXIT_POLICY):
        if code in codes:
            return code
    return EXIT_OK


def plan_one(name: str, folder: Path, args: argparse.Namespace, many: bool, memo: References) -> tuple[int, Any, str]:
    """(exit code, JSON document, rendered text) of one stack; a stack that fails to plan gives an error object."""
    try:
        plan = make_plan(name, folder, memo)
    except pulumi.RunError as exc:  # ConfigError, and user errors raised while the program runs
        doc = error_document(folder, name, "config", exc)
        return EXIT_CONFIG, doc, f"cloudviper plan: stack {name}: {exc}"
    except Exception as exc:  # a bug in the program: reported per stack, traceback on stderr
        traceback.print_exc()
        doc = error_document(folder, name, "internal", exc)
        return EXIT_UNEXPECTED, doc, f"cloudviper plan: stack {name}: internal error: {exc!r}"
    if args.render_k8s:
        from infra.plan.manifests import write_manifests

        paths = write_manifests(plan.capture, Path(args.render_k8s) / name if many else Path(args.render_k8s))
        print(f"wrote {len(paths)} Kubernetes manifests to {args.render_k8s}", file=sys.stderr)
    if args.json:
        text = render_json(plan)
        return plan.exit_code, json.loads(text), text
    return plan.exit_code, None, (render_markdown if args.markdown else render_text)(plan)


def stack_names(folder: Path, args: argparse.Namespace) -> list[str]:
    """The stacks to plan: every stack file with --all, else each --stack once in the order given (default dev)."""
    return list_stacks(folder) if args.all else list(dict.fromkeys(args.stack or ["dev"]))


def run_plan(folder: Path, args: argparse.Namespace) -> int:
    """Plan the stacks, print one report per stack (with --json: one document, or {"stacks": [...]} for more than
    one); returns the worst exit code."""
    names = stack_names(folder, args)
    many = args.all or len(names) > 1
    import_and_freeze()
    codes, docs = [], []
    memo: References = {}
    for name in names:
        code, doc, text = plan_one(name, folder, args, many, memo)
        codes.append(code)
        docs.append(doc)
        if args.json:
            continue
        if code in (EXIT_CONFIG, EXIT_UNEXPECTED):
            print(text, file=sys.stderr)
            if args.markdown:  # a PR comment shows the failure, not an empty section
                print(f"### cloudviper plan: stack {name}: failed to plan\n\n```\n{text}\n```\n")
        else:
            print(text)
    if args.json:
        print(json.dumps({"stacks": docs} if many else docs[0], indent=2, sort_keys=True, default=str))
    return worst_exit(codes)
