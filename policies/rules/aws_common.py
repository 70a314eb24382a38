"""Helpers the AWS rules share: unknown-safe reads, compute views, and which launch templates a resource uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from infra.pricing.compute import (
    ASG,
    EC2_FLEET,
    INSTANCE,
    LAUNCH_TEMPLATE,
    NODE_GROUP,
    SPOT_FLEET,
    SPOT_REQUEST,
    launched_types,
)
from infra.pricing.tables import PriceTable, load_prices
from policies.rules.common import get, is_list

# Resources that launch EC2 instances, and where their props name launch templates (lists are walked).
LAUNCHERS = (ASG, INSTANCE, NODE_GROUP, SPOT_REQUEST, SPOT_FLEET, EC2_FLEET)
LT_REF_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    ASG: (("launchTemplate",), ("mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification"),
          ("mixedInstancesPolicy", "launchTemplate", "overrides", "*", "launchTemplateSpecification")),
    INSTANCE: (("launchTemplate",),),
    SPOT_REQUEST: (("launchTemplate",),),
    NODE_GROUP: (("launchTemplate",),),
    SPOT_FLEET: (("launchTemplateConfigs", "*", "launchTemplateSpecification"),),
    EC2_FLEET: (("launchTemplateConfigs", "*", "launchTemplateSpecification"),),
}
ID_KEYS, NAME_KEYS = ("launchTemplateId", "id"), ("launchTemplateName", "name")


def read(props: Any, *path: str | int) -> Any:
    """get(props, *path), or None when the value is unknown during preview."""
    try:
        return get(props, *path)
    except UnknownValueError:
        return None


@dataclass
class Compute:
    """A resource as infra/pricing/compute.py reads it (type, name, props, launch templates it depends on)."""

    type: str
    name: str
    props: Mapping[str, Any]
    property_dependencies: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    urn: str = ""


def compute_view(resource_type: str, props: Mapping[str, Any], name: str = "",
                 deps: Optional[Mapping[str, Sequence[Any]]] = None) -> Compute:
    """A compute view of a resource (deps: PolicyResources, e.g. a stack rule's property_dependencies)."""
    views = {k: [Compute(d.resource_type, d.name, d.props, {}, d.urn) for d in v] for k, v in (deps or {}).items()}
    return Compute(resource_type, name, props, views)


def types_launched(resource_type: str, props: Mapping[str, Any], prices: Optional[PriceTable] = None,
                   deps: Optional[Mapping[str, Sequence[Any]]] = None) -> list[str]:
    """Every instance type a resource may launch (attribute-based selection: every type it may pick)."""
    return launched_types(compute_view(resource_type, props, "", deps), prices or load_prices())


def _walk(value: Any, path: Sequence[str]) -> list[Any]:
    """Values at a path where `*` steps into every list item."""
    if not path:
        return [value]
    head, rest = path[0], path[1:]
    if head == "*":
        return [v for item in (value if is_list(value) else []) for v in _walk(item, rest)]
    nxt = read(value, head)
    return [] if nxt is None else _walk(nxt, rest)


def template_refs(resource_type: str, props: Any) -> list[Mapping[str, Any]]:
    """Every launch template specification a launcher's props contain."""
    return [r for path in LT_REF_PATHS.get(resource_type, ()) for r in _walk(props, path) if isinstance(r, Mapping)]


def ref_value(ref: Mapping[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """(id, name) a specification names; None for a missing or unknown value."""
    ids = [read(ref, k) for k in ID_KEYS]
    names = [read(ref, k) for k in NAME_KEYS]
    return next((str(i) for i in ids if i is not None), None), next((str(n) for n in names if n is not None), None)


class Templates:
    """The stack's launch templates, each one's id and name read once: which templates a launcher names is then a
    lookup, not a walk over every template for every launcher (quadratic in node groups: 0.25 s of policy at 100)."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.all = [r for r in resources if r.resource_type == LAUNCH_TEMPLATE]
        self._by_urn = {t.urn: i for i, t in enumerate(self.all)}
        self._by_key: dict[tuple[str, str], list[int]] = {}
        for i, t in enumerate(self.all):
            for key in ("id", "name"):
                value = read(t.props, key)
                if value is not None:  # unknown during preview, or unset: names nothing
                    self._by_key.setdefault((key, str(value)), []).append(i)

    def named(self, key: str, value: Any) -> set[int]:
        """Positions of the templates whose `key` (id or name) is this value (compared as text); none for None."""
        return set() if value is None else set(self._by_key.get((key, str(value)), ()))

    def at_urns(self, urns: Iterable[str]) -> set[int]:
        """Positions of the templates with these URNs."""
        return {self._by_urn[u] for u in urns if u in self._by_urn}

    def in_order(self, positions: set[int]) -> list[PolicyResource]:
        """The templates at these positions, in the stack's order."""
        return [self.all[i] for i in sorted(positions)]


def unseen_templates(res: PolicyResource, templates: Templates) -> Optional[str]:
    """Why a launcher launches from a launch template that is not in the stack (so no rule judges it), or None.

    A specification resolves when its id or name is a stack template's; the others must come from stack templates
    through property dependencies, one dependency for each distinct specification.
    """
    distinct = {ref_value(r) for r in template_refs(res.resource_type, res.props)}
    named = {r: templates.named("id", r[0]) | templates.named("name", r[1]) for r in distinct}
    matched = {templates.all[i].urn for r in distinct for i in named[r]}
    unmatched = sorted((r for r in distinct if not named[r]), key=lambda r: (r == (None, None), str(r)))
    # a dependency on a template some specification already names vouches for nothing more
    linked = {d.urn for deps in (res.property_dependencies or {}).values() for d in deps
              if d.resource_type == LAUNCH_TEMPLATE} - matched
    if len(unmatched) <= len(linked):
        return None
    shown = ", ".join(r[0] or r[1] or "(unknown until apply)" for r in unmatched)
    return (f"launches from {len(unmatched)} launch template(s) ({shown}) but only {len(linked)} come from launch "
            "templates of this stack")


__all__ = ["LAUNCHERS", "Compute", "Templates", "compute_view", "read", "template_refs", "types_launched",
           "unseen_templates"]
