"""The diff as a terminal report, a pull-request comment (markdown) and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from infra.plan.diff import Change, ResourceChange, StackDiff, compact, overall_exit, text_delta

MARK = {"add": "+", "remove": "-", "update": "~", "replace": "±"}
# GitHub colours a ```diff block: "+" lines green, "-" red, "!" orange
COLOUR = {" +": "+", " -": "-", " ~": "!", " ±": "-±"}
WORD = {"add": "create", "remove": "delete", "update": "update", "replace": "replace"}
COMMENT_LIMIT = 65536  # GitHub refuses a comment body longer than this ("Body is too long (maximum is 65536 characters)")


def money(delta: float) -> str:
    """A signed $/hour delta."""
    if abs(delta) < 0.00005:
        return "±0"
    return f"{'+' if delta > 0 else '−'}${abs(delta):.4f}"


def status(d: StackDiff) -> str:
    """One phrase for the summary table."""
    if d.head_error:
        return f"fails to plan ({d.head_error.get('kind', 'config')} error)"
    if d.head_missing:
        return "stack file removed"
    if d.base_error:
        return "base does not plan"
    if any(r.destroys_data for r in d.resources):
        return "DESTROYS DATA"
    if any(r.orphans_data for r in d.resources):
        return "LEAVES KEPT DATA BEHIND"
    if d.head_mandatory:
        return f"{d.head_mandatory} mandatory violation(s)"
    return "ok"


ORDER = ("idle", "day_one", "desired", "max")


def _scales(diffs: list[StackDiff]) -> list[str]:
    seen = {s for d in diffs for s in d.cost}
    return sorted(seen, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))


def _ordered(cost: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(cost.items(), key=lambda kv: (ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER), kv[0]))


def summary_rows(diffs: list[StackDiff]) -> list[str]:
    """The markdown summary table: one row per stack."""
    scales = _scales(diffs)
    head = "| stack | + | − | ~ | ± | " + "".join(f"Δ$/h {s.replace('_', '-')} | " for s in scales) + "new violations | status |"
    rows = [head, "|---|---:|---:|---:|---:|" + "---:|" * len(scales) + "---:|---|"]
    for d in diffs:
        cost = [money(d.cost[s][1] - d.cost[s][0]) if s in d.cost else "" for s in scales]
        rows.append(f"| `{d.stack}` | {d.count('add')} | {d.count('remove')} | {d.count('update')} | "
                    f"{d.count('replace')} | " + "".join(f"{c} | " for c in cost) + f"{len(d.policy_new)} | {status(d)} |")
    return rows


def _change_lines(c: Change) -> list[str]:
    if isinstance(c.old, str) and isinstance(c.new, str) and ("\n" in c.old or "\n" in c.new):
        return [f"{c.path}: (multi-line)", *[f"    {ln}" for ln in text_delta(c.old, c.new)]]
    return [f"{c.path}: {compact(c.old) if c.old is not None else '(none)'} → "
            f"{compact(c.new) if c.new is not None else '(none)'}"]


def _resource_lines(r: ResourceChange) -> list[str]:
    short = r.type.rsplit(":", 1)[-1]
    line = f"{MARK[r.action]:>2} {r.name} ({short}) {WORD[r.action]}"
    if r.replace_because:
        line += f" because {', '.join(r.replace_because)} cannot change in place"
    out = [line]
    if r.data:
        out.append(f"   !! {r.data}")
    out += [f"     {ln}" for c in r.changes for ln in _change_lines(c)]
    return out


def _problems(err: dict[str, Any]) -> list[str]:
    return [str(p) for p in err.get("problems") or [err.get("message", "")]]


def stack_lines(d: StackDiff, base_label: str) -> list[str]:
    """The details of one stack as plain lines."""
    out: list[str] = []
    if d.head_error:
        return [f"the working tree does not plan ({d.head_error.get('kind')} error):", *[f"  {p}" for p in _problems(d.head_error)]]
    if d.head_missing:
        return ["no stack file in the working tree: its resources stay until `pulumi destroy -s " + d.stack + "`"]
    if d.base_missing:
        out.append(f"new stack (no Pulumi.{d.stack}.yaml at {base_label}): everything below is created")
    if d.base_error:
        out += [f"the base ({base_label}) does not plan, so there is nothing to compare with:",
                *[f"  {p}" for p in _problems(d.base_error)],
                "$/hour now: " + ", ".join(f"{s.replace('_', '-')} {v:.4f}" for s, v in _ordered(d.head_cost))]
    danger = [r for r in d.resources if r.data]
    out += [f"!! {r.name}: {r.data}" for r in danger]
    if d.cost:
        out.append("$/hour " + ", ".join(f"{s.replace('_', '-')} {b:.4f} → {h:.4f} ({money(h - b)})"
                                         for s, (b, h) in _ordered(d.cost)))
    out += [f"new violation [{v.get('level')}] {v.get('policy')}: {v.get('message')}" for v in d.policy_new]
    out += [f"resolved violation [{v.get('level')}] {v.get('policy')}: {v.get('message')}" for v in d.policy_gone]
    if not d.resources:
        out.append("no resource changes")
    for r in sorted(d.resources, key=lambda r: (r.component, r.action, r.name)):
        out += _resource_lines(r)
    return out


def render_text(diffs: list[StackDiff], base_label: str) -> str:
    """Terminal report."""
    out = [f"cloudviper diff: {base_label} → working tree, offline (mock runtime, no cloud calls)", ""]
    for d in diffs:
        out += [f"== stack {d.stack}: +{d.count('add')} -{d.count('remove')} ~{d.count('update')} "
                f"±{d.count('replace')}: {status(d)}", *stack_lines(d, base_label), ""]
    out.append(f"exit {overall_exit(diffs)}")
    return "\n".join(out)


def _stack_markdown(d: StackDiff, base_label: str, diagram: list[str]) -> list[str]:
    lines = stack_lines(d, base_label)
    danger = [ln for ln in lines if ln.startswith("!!")]
    out = [f"> [!CAUTION]\n> {ln[3:]}\n" for ln in danger]  # a blank line between alerts: each its own blockquote
    body = [ln for ln in lines if not ln.startswith("!!")]
    out += ["<details><summary>stack <code>" + d.stack + f"</code>: {status(d)}</summary>", "", "````diff",
            *[COLOUR[ln[:2]] + ln[2:] if ln[:2] in COLOUR else ln for ln in body], "````", ""]  # values may hold ```
    if diagram:
        out += ["", *diagram, ""]
    out += ["</details>", ""]
    return out


SUMMARY_START, SUMMARY_END, HISTORY_KEEP = "<!-- summary ", "<!-- /summary -->", 10


def earlier_summaries(previous: str) -> list[str]:
    """The summary blocks of an earlier comment (its own and those it carried), newest first."""
    blocks, rest, seen = [], previous, set()
    while SUMMARY_START in rest and SUMMARY_END in rest.split(SUMMARY_START, 1)[1]:
        body, rest = rest.split(SUMMARY_START, 1)[1].split(SUMMARY_END, 1)
        label = body.split(" -->", 1)[0]
        if label not in seen:  # a re-run for the same commit (a label event) replaces, not repeats
            seen.add(label)
            blocks.append(SUMMARY_START + body + SUMMARY_END)
    return blocks[:HISTORY_KEEP]


def render_markdown(diffs: list[StackDiff], base_label: str, diagrams: dict[str, list[str]],
                    limit: int = COMMENT_LIMIT, artifact_note: str = "", head_label: str = "this pull request",
                    previous: str = "", allow_data_loss: bool = False) -> str:
    """The pull-request comment: the summary table first, each stack's details collapsed, the summaries of earlier
    pushes (from `previous`, the comment this one replaces) at the end. Over `limit` characters, diagrams and then
    details are dropped with a pointer to the full report (`artifact_note`)."""
    code = overall_exit(diffs, allow_data_loss)
    accepted = " (destroying data accepted: `allow-data-loss`)" if overall_exit(diffs) == 4 and code != 4 else ""
    summary = [f"{SUMMARY_START}{head_label} -->", f"**{head_label}** against `{base_label}`: exit {code}{accepted}",
               "", *summary_rows(diffs), SUMMARY_END]
    head = ["<!-- cloudviper-diff -->", f"## cloudviper diff: `{base_label}` → {head_label}", "",
            "Offline: the mock runtime plans both revisions; nothing is read from the cloud.", "", *summary, ""]
    earlier = [b for b in earlier_summaries(previous) if not b.startswith(f"{SUMMARY_START}{head_label} -->")]
    tail = (["<details><summary>Earlier pushes</summary>", "", *[ln for b in earlier for ln in (b, "")], "</details>"]
            if earlier else [])
    full = head + [ln for d in diffs for ln in _stack_markdown(d, base_label, diagrams.get(d.stack, []))] + tail
    text = "\n".join(full)
    if len(text) <= limit:
        return text
    lean = head + [ln for d in diffs for ln in _stack_markdown(d, base_label, [])] + tail
    text = "\n".join(lean) + "\n\n(diagrams left out to fit GitHub's comment limit" + (
        f"; {artifact_note}" if artifact_note else "") + ")"
    if len(text) <= limit:
        return text
    note = "Details are too long for a comment" + (f": {artifact_note}" if artifact_note else "") + "."
    return "\n".join([*head, note, "", *tail])


def render_json(diffs: list[StackDiff], base_label: str, base_sha: str) -> str:
    """Machine-readable diff."""
    doc = {"base": base_label, "baseCommit": base_sha, "exitCode": overall_exit(diffs),
           "stacks": [{**asdict(d), "exitCode": d.exit_code,
                       "counts": {a: d.count(a) for a in ("add", "remove", "update", "replace")},
                       "cost": {s: {"base": b, "head": h, "delta": round(h - b, 6)} for s, (b, h) in d.cost.items()}}
                      for d in diffs]}
    return json.dumps(doc, indent=2, sort_keys=True, default=str)
