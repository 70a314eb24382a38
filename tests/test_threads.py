"""infra/plan/threads.py: after an evaluation, a command waits until the threads its registrations ran on have let go
of every call (so nothing of it is still held when the collector settles), and the same threads serve the next one."""

from __future__ import annotations

import threading
import weakref

import pulumi

from infra.plan import threads
from infra.plan.harness import evaluate


def program() -> None:
    parent = pulumi.ComponentResource("test:index:Part", "part")
    pulumi.ComponentResource("test:index:Leaf", "leaf", opts=pulumi.ResourceOptions(parent=parent))


class Held:
    """What a call still running on a worker holds."""


def test_settling_waits_for_a_worker_still_holding_a_call_and_keeps_the_threads():
    assert len(evaluate(program, project="p", stack="s", config={}).resources) == 2
    used = threads._current
    assert used is not None and used.started > 0  # the registrations ran on its threads
    release = threading.Event()
    held = Held()
    dropped = weakref.ref(held)

    def busy(h: Held = held) -> None:  # a call a worker has not finished
        release.wait(30)

    used.pool.submit(busy)
    del held, busy
    waiter = threading.Thread(target=threads.wait_idle)
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # waits for the busy worker
    release.set()
    waiter.join(threads.WAIT_SECONDS)
    assert not waiter.is_alive()
    assert dropped() is None  # the worker took up new work, so it no longer holds the call
    assert len(evaluate(program, project="p", stack="s", config={}).resources) == 2
    assert threads._current is used  # the same pool serves the next evaluation
