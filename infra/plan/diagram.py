"""A Mermaid flowchart of a stack: its components and which waits for which (GitHub renders ```mermaid blocks).

Built from plan documents (infra/plan/resource_list.py): a component depends on another when one of
its resources depends on one of the other's. In a diff, components are coloured by what happens to
their resources: created (green), changed (amber), deleted (red), replaced or losing data (red, bold).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

STYLE = {
    "add": "fill:#d4f8d4,stroke:#1a7f37",
    "update": "fill:#fff1c2,stroke:#9a6700",
    "remove": "fill:#ffd7d5,stroke:#cf222e,stroke-dasharray:4 3",
    "replace": "fill:#ffd7d5,stroke:#cf222e,stroke-width:3px",
}


def _outermost(res: dict[str, Any]) -> str:
    return str(res.get("component") or "stack")


def component_graph(doc: dict[str, Any]) -> tuple[Counter[str], set[tuple[str, str]]]:
    """Resources per component and (dependent, dependency) pairs between components."""
    resources = [r for r in doc.get("resources", []) if r.get("custom")]
    owner = {r["urn"]: _outermost(r) for r in doc.get("resources", [])}
    sizes: Counter[str] = Counter(_outermost(r) for r in resources)
    edges = {(owner[r["urn"]], owner[d]) for r in doc.get("resources", []) for d in r.get("dependencies", [])
             if d in owner and owner[d] != owner[r["urn"]]}
    return sizes, {(a, b) for a, b in edges if a in sizes and b in sizes and "providers" not in (a, b)}


def _label(component: str, count: int) -> str:
    name, _, typ = component.partition(" (")
    kind = typ.rstrip(")").rsplit(":", 1)[-1]
    return f"{name}<br/>{kind} · {count}" if kind else f"{name}<br/>{count}"


def mermaid(head: dict[str, Any], base: Optional[dict[str, Any]] = None,
            actions: Optional[dict[str, str]] = None) -> list[str]:
    """The diagram as markdown lines; `actions` maps a component to add/update/remove/replace."""
    sizes, edges = component_graph(head)
    if base is not None:  # components the change deletes stay in the picture, in red
        old_sizes, old_edges = component_graph(base)
        gone = set(old_sizes) - set(sizes)
        sizes.update({c: old_sizes[c] for c in gone})
        edges |= {e for e in old_edges if gone & set(e)}
    names = sorted(c for c in sizes if c != "providers")
    ids = {c: f"c{i}" for i, c in enumerate(names)}
    out = ["```mermaid", "flowchart LR"]
    out += [f'  {ids[c]}["{_label(c, sizes[c])}"]' for c in names]
    out += [f"  {ids[a]} --> {ids[b]}" for a, b in sorted(edges) if a in ids and b in ids]
    for action, style in STYLE.items():
        members = [ids[c] for c in names if (actions or {}).get(c) == action]
        if members:
            out += [f"  classDef {action} {style}", f"  class {','.join(members)} {action}"]
    out.append("```")
    return out


def component_actions(changes: list[Any]) -> dict[str, str]:
    """The strongest action among each component's resource changes (replace > remove > add > update)."""
    rank = {"update": 0, "add": 1, "remove": 2, "replace": 3}
    found: dict[str, str] = {}
    for r in changes:
        comp = r.component or "stack"
        if comp not in found or rank[r.action] > rank[found[comp]]:
            found[comp] = r.action
    return found
