"""`python -m infra diff`: plan a git base and the working tree, compare, print and write the reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.plan.diagram import component_actions, mermaid
from infra.plan.diff import EXIT_CONFIG, diff_stack, overall_exit
from infra.plan.diff_report import render_json, render_markdown, render_text
from infra.plan.worktree import DiffError, checkout, plan_both, resolve


def run_diff(repo: Path, args: argparse.Namespace) -> int:
    """The diff command against `repo`'s git history; returns the exit code."""
    try:
        sha = resolve(repo, args.base)
        with checkout(repo, sha) as base_dir:
            base, head = plan_both(repo, base_dir, args.stack, args.base, sha)
    except DiffError as exc:
        print(f"cloudviper diff: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    names = sorted(set(base) | set(head))
    if args.stack and not names:
        print(f"cloudviper diff: no Pulumi.{args.stack}.yaml at {args.base} or in the working tree", file=sys.stderr)
        return EXIT_CONFIG
    diffs = [diff_stack(n, base.get(n), head.get(n)) for n in names]
    label = f"{args.base} ({sha[:10]})"
    diagrams = {d.stack: mermaid(head[d.stack], base.get(d.stack), component_actions(d.resources))
                for d in diffs if d.stack in head and not d.head_error}
    previous = Path(args.previous_comment).read_text() if args.previous_comment and Path(args.previous_comment).exists() else ""
    reports = {
        "diff.txt": lambda: render_text(diffs, label),
        "diff.json": lambda: render_json(diffs, args.base, sha),
        "diff.md": lambda: render_markdown(diffs, label, diagrams, limit=10**9, head_label=args.head_label),
        "comment.md": lambda: render_markdown(diffs, label, diagrams, artifact_note=args.artifact_note,
                                              head_label=args.head_label, previous=previous,
                                              allow_data_loss=args.allow_data_loss),
    }
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, render in reports.items():
            (out / name).write_text(render() + "\n")
    print(reports["diff.json" if args.json else "comment.md" if args.markdown else "diff.txt"]())
    return overall_exit(diffs, args.allow_data_loss)
