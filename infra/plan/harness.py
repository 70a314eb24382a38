"""Run a Pulumi program under Pulumi's own mock runtime and capture the resource graph.

Used by the offline plan and by the tests: no Pulumi CLI, no cloud. Every registered resource
is recorded with its type token, name, inputs (secrets stay wrapped), parent, dependencies,
provider and delete options; invokes are answered by infra/plan/mocks.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.plan import threads
from infra.plan.mocks import CloudMocks
from infra.plan.secret_values import StackOutput, unwrap


@dataclass
class CapturedResource:
    """One resource as the engine would have received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: Optional[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: Optional[str]
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    import_id: str = ""  # ResourceOptions(import_=...): adopt this existing cloud resource
    alias_names: list[str] = field(default_factory=list)  # names this resource had before (aliases)
    alias_parents: list[str] = field(default_factory=list)  # parents it had before (URNs; aliases)
    replace_with: list[str] = field(default_factory=list)  # URNs whose replacement replaces this resource too
    delete_before_replace: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def props(self) -> dict[str, Any]:
        """Inputs with secret markers removed."""
        return unwrap(self.inputs)

    @property
    def provider_urn(self) -> Optional[str]:
        """URN of the provider instance this resource uses (None: the default provider)."""
        return self.provider.rsplit("::", 1)[0] if self.provider else None


@dataclass
class Capture:
    """Everything one program run registered."""

    project: str
    stack: str
    resources: list[CapturedResource]
    outputs: dict[str, StackOutput]
    region: str = ""
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # provider calls (token, args), in order

    def _index(self) -> dict[str, CapturedResource]:
        """Resources by URN, built once (again only if the list was replaced or changed length): lookups are O(1),
        so walking every resource's parents is linear, not quadratic, in the stack's size."""
        cached = self.__dict__.get("_urn_index")
        if cached is None or cached[0] is not self.resources or cached[1] != len(self.resources):
            first: dict[str, CapturedResource] = {}
            for r in self.resources:
                first.setdefault(r.urn, r)  # as a scan would: the first resource with the URN
            cached = (self.resources, len(self.resources), first)
            self.__dict__["_urn_index"] = cached
        return cached[2]

    def of_type(self, type_token: str) -> list[CapturedResource]:
        """All resources with this type token."""
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: Optional[str] = None) -> CapturedResource:
        """The single resource of this type (and name); fails loudly otherwise."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token} {name or ''}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> CapturedResource:
        """The resource with this URN."""
        return self._index()[urn]

    def ancestors(self, res: CapturedResource) -> list[CapturedResource]:
        """Parents of a resource, nearest first (the root stack is not recorded)."""
        chain, index = [], self._index()
        parent = res.parent
        while parent and parent in index:
            p = index[parent]
            chain.append(p)
            parent = p.parent
        return chain

    def component_of(self, res: CapturedResource) -> Optional[CapturedResource]:
        """The outermost component resource that contains this resource."""
        comps = [a for a in self.ancestors(res) if not a.custom]
        return comps[-1] if comps else None

    def _edges(self, res: CapturedResource) -> set[str]:
        return set(res.dependencies) | {u for us in res.property_dependencies.values() for u in us}

    def _subtree(self, other: CapturedResource) -> set[str]:
        """URNs of `other` and of every resource under it."""
        return {other.urn} | {r.urn for r in self.resources if other in self.ancestors(r)}

    def _waits_directly(self, res: CapturedResource, targets: set[str]) -> bool:
        return any(self._edges(r) & targets for r in [res, *self.ancestors(res)])

    def depends_on(self, res: CapturedResource, other: CapturedResource) -> bool:
        """True if `res` (or one of its parents) waits for `other` (or its children)."""
        return self._waits_directly(res, self._subtree(other))

    def waits_for(self, res: CapturedResource, other: CapturedResource) -> bool:
        """True if the engine cannot create `res` before `other`: a chain of depends_on through resources."""
        index, targets = self._index(), self._subtree(other)
        seen, todo = set(), [res]
        while todo:
            current = todo.pop()
            if current.urn in seen:
                continue
            seen.add(current.urn)
            if self._waits_directly(current, targets):
                return True
            todo += [index[u] for r in [current, *self.ancestors(current)] for u in self._edges(r) if u in index]
        return False


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus a record of what each registration asked for."""

    def __init__(self, mocks: CloudMocks) -> None:
        super().__init__(mocks)
        self.captured: list[CapturedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        urn = self.make_urn(request.parent, request.type, request.name)
        state = self.resources[urn].state if urn in self.resources else {}
        self.captured.append(CapturedResource(
            urn=urn, type=request.type, name=request.name, custom=bool(request.custom),
            parent=request.parent or None, dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            provider=request.provider or None, protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete), inputs=inputs, ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs), import_id=request.importId,
            alias_names=[a.spec.name for a in request.aliases if a.spec.name],
            alias_parents=[a.spec.parentUrn for a in request.aliases if a.spec.parentUrn],
            replace_with=list(request.replace_with), delete_before_replace=bool(request.deleteBeforeReplace),
            replace_on_changes=list(request.replaceOnChanges),
            id=self.resources[urn].id if urn in self.resources else "", outputs=state,
        ))
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().ReadResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        self.captured.append(CapturedResource(
            urn=urn, type=request.type, name=request.name, custom=True, parent=request.parent or None,
            dependencies=list(request.dependencies), property_dependencies={}, provider=request.provider or None,
            protect=False, retain_on_delete=False, inputs=rpc.deserialize_properties(request.properties),
            id=request.id, outputs=self.resources[urn].state if urn in self.resources else {},
        ))
        return response


def _stop_what_it_left_running(before: set[asyncio.Task[Any]]) -> None:
    """A failed run leaves tasks pending on the loop (pulumi's wait_for_rpcs drops the not-yet-done outputs once one
    raised: pulumi/runtime/stack.py `wait_for_rpcs`); the next run's `_sync_await` pumps the same loop, so they would
    resume inside it, add to its outputs and fail it with this run's error. Cancel them (those it started, not
    `before`) and let them finish now."""
    loop = asyncio.get_event_loop()
    if loop.is_running():
        return
    pending = [t for t in asyncio.all_tasks(loop) - before if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _keep_quiet_about_its_other_outputs() -> None:
    """A run that fails with a user error (pulumi.RunError) leaves other outputs that carried the same error unread;
    when they are collected, asyncio would print each as "Future exception was never retrieved" with a traceback,
    in the middle of the next stack's report. The error itself is reported once, by the caller. The handler stays on
    the process's loop, so later unread RunErrors (of any run) are dropped too: each run reports its own error."""
    loop = asyncio.get_event_loop()
    if loop.get_exception_handler() is not _drop_unread_user_errors:
        loop.set_exception_handler(_drop_unread_user_errors)


def _drop_unread_user_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if isinstance(context.get("exception"), pulumi.RunError):
        return
    loop.default_exception_handler(context)


def _resolve(value: Any) -> StackOutput:
    out = pulumi.Output.from_input(value)
    return StackOutput(value=_sync_await(out.future()), secret=bool(_sync_await(out.is_secret())))


def let_go() -> None:
    """Drop what is still kept of the last evaluation: its threads' last calls (infra/plan/threads.py), then pulumi's
    globals: the root resource (every resource hangs off it through Resource._childResources, pulumi/resource.py),
    the mock monitor and engine (what it registered), its outputs. evaluate() replaces them all before the next run;
    until then they keep the finished run's graph alive."""
    threads.wait_idle()
    settings.ROOT.set(None)
    settings.SETTINGS.monitor = None
    settings.SETTINGS.engine = None
    settings.SETTINGS.outputs = set()


def evaluate(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...] = (),
    region: str = "us-east-1",
    stack_references: Optional[dict[str, dict[str, Any]]] = None,
) -> Capture:
    """Run `program` under the mock runtime with this config; return what it registered."""
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    settings.ROOT.set(None)
    # set_mocks gives a new RPC manager but keeps the set of outstanding outputs (MockSettings never replaces it:
    # pulumi/runtime/mocks.py), which the next run would await and fail with. A new set, not .clear(): the outputs
    # ContextVar holds one set object (pulumi/_utils.py ContextProperty), and a task still running from an earlier
    # run keeps adding to the set its context saw.
    settings.SETTINGS.outputs = set()
    mocks = CloudMocks(region, stack_references)
    monitor = RecordingMonitor(mocks)
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = settings.get_root_resource()

    outputs: dict[str, StackOutput] = {}

    def run() -> None:
        program()

    loop = asyncio.get_event_loop()
    threads.ensure(loop)
    before = asyncio.all_tasks(loop)
    try:
        _sync_await(run_pulumi_func(run))
    except BaseException as error:
        _stop_what_it_left_running(before)
        if isinstance(error, pulumi.RunError):
            _keep_quiet_about_its_other_outputs()
        raise
    stack_outputs = getattr(root, "outputs", {}) or {}
    for key, value in stack_outputs.items():
        outputs[key] = _resolve(value)
    return Capture(project=project, stack=stack, resources=list(monitor.captured), outputs=outputs, region=region,
                   invokes=list(mocks.invokes))
