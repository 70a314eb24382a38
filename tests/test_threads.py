"""infra/plan/threads.py: after an evaluation, a command waits until the threads its registrations ran on have let go
of every call (so nothing of it is still held when the collector settles), and the same threads serve the next one."""

from __future__ import annotations

import asyncio
import threading
import weakref

import pulumi

from infra.plan import threads
from infra.plan.harness import evaluate, let_go


def program() -> None:
    parent = pulumi.ComponentResource("test:index:Part", "part")
    pulumi.ComponentResource("test:index:Leaf", "leaf", opts=pulumi.ResourceOptions(parent=parent))


class Held:
    """What a call run on a worker holds."""


def test_letting_go_waits_until_every_worker_has_dropped_its_last_call():
    capture = evaluate(program, project="p", stack="s", config={})
    assert len(capture.resources) == 2
    used = threads._current
    assert used is not None and used.started > 0  # the registrations ran on its threads
    loop = asyncio.get_event_loop()
    held = Held()
    dropped = weakref.ref(held)

    def call(h: Held = held) -> Held:
        return h

    calls = [loop.run_in_executor(None, call) for _ in range(used.started)]
    assert loop.run_until_complete(asyncio.gather(*calls)) == [held] * used.started
    del held, calls, call
    let_go()
    assert dropped() is None  # each worker took a new task, so none still holds a call it ran
    workers = [t for t in threading.enumerate() if t.name.startswith("cloudviper-evaluation")]
    assert len(workers) == used.started and all(t.is_alive() for t in workers)  # kept for the next evaluation
    assert len(evaluate(program, project="p", stack="s", config={}).resources) == 2
    assert threads._current is used
