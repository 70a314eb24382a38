"""The threads an evaluation's registrations run on, kept so that a finished evaluation can be waited for.

pulumi runs each call to the (mock) monitor on the event loop's default executor (pulumi/runtime/resource.py
`run_in_executor(None, ...)`). A worker drops the call it ran only after handing back the result
(concurrent/futures/thread.py `_worker`: `del work_item`), which under load can come after the evaluation returned:
what that call holds of the evaluation is then still alive when the command settles the collector
(infra/plan/sdk_modules.py settle), and frozen with it. Waiting until every worker has taken up new work makes that
deterministic. The pool lives as long as its loop: its threads (and the event loop pulumi's mocks give each,
pulumi/runtime/sync_await.py `_ensure_event_loop`) are made once, not per evaluation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

LOG = logging.getLogger(__name__)
WAIT_SECONDS = 10.0  # a finished evaluation leaves no call running; this only bounds a wait that should be instant


class EvaluationThreads:
    """A default executor for one event loop that knows how many threads it has started."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.started = 0
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(thread_name_prefix="cloudviper-evaluation", initializer=self._count)
        loop.set_default_executor(self.pool)  # a ThreadPoolExecutor, as 3.11 requires (asyncio/base_events.py)

    def _count(self) -> None:
        """In each new worker, as it starts."""
        with self._lock:
            self.started += 1

    def wait_idle(self) -> None:
        """Return once every worker has finished what it ran before: each takes one task of a barrier that all of
        them must reach (a worker takes a task only after dropping its last one). Again if a thread started since."""
        while self.started:
            parties = self.started
            barrier = threading.Barrier(parties, timeout=WAIT_SECONDS)
            try:
                for done in [self.pool.submit(barrier.wait) for _ in range(parties)]:
                    done.result()
            except threading.BrokenBarrierError:  # a worker still busy: settle without it, and say so
                LOG.warning("an evaluation thread was still busy after %.0f s; settling without it", WAIT_SECONDS)
                return
            if self.started == parties:
                return


_current: Optional[EvaluationThreads] = None


def ensure(loop: asyncio.AbstractEventLoop) -> None:
    """Before an evaluation: this loop's default executor is one of ours."""
    global _current
    if _current is None or _current.loop is not loop:
        if _current is not None:
            _current.pool.shutdown(wait=False)  # another loop's: its idle threads exit
        _current = EvaluationThreads(loop)


def wait_idle() -> None:
    """After an evaluation: its threads have let go of every call they ran."""
    if _current is not None:
        _current.wait_idle()
