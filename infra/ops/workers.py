"""Run work on items in a few daemon threads, items drawn one at a time, in order, from an iterator.

Daemon threads, not concurrent.futures: its workers are joined when the interpreter exits, so after Ctrl-C or
SIGTERM a request stalled on a dead connection would hold the process until its read timeout; daemon threads
let the command exit as soon as it has cleaned up. Items are drawn under a lock, so an iterator that reads a
file part by part reads it front to back (and can hash it whole) while the parts go out in parallel.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Outcome(Generic[T, R]):
    """One item's result, or the error it raised; `item` is None when drawing the item itself failed."""

    def __init__(self, item: Optional[T], result: Optional[R] = None, error: Optional[BaseException] = None) -> None:
        self.item, self.result, self.error = item, result, error


def run_parallel(source: Iterator[T], work: Callable[[T], R], threads: int,
                 stopped: Callable[[], bool] = lambda: False, name: str = "worker") -> Iterator[Outcome[T, R]]:
    """Call `work` on every item of `source` in `threads` daemon threads; yield each Outcome as it finishes.

    No further item is drawn once `stopped()` is true or drawing one raised (that error is yielded once); the
    generator ends when every thread has finished its current item.
    """
    lock = threading.Lock()
    done: queue.Queue[Optional[Outcome[T, R]]] = queue.Queue()
    failed = threading.Event()

    def loop() -> None:
        try:
            while not stopped() and not failed.is_set():
                with lock:
                    try:
                        item = next(source)
                    except StopIteration:
                        return
                    except BaseException as exc:  # reported to the caller, which decides
                        failed.set()
                        done.put(Outcome(None, error=exc))
                        return
                try:
                    done.put(Outcome(item, result=work(item)))
                except BaseException as exc:
                    done.put(Outcome(item, error=exc))
        finally:
            done.put(None)

    for i in range(threads):
        threading.Thread(target=loop, name=f"{name}-{i}", daemon=True).start()
    running = threads
    while running:
        outcome = done.get()
        if outcome is None:
            running -= 1
        else:
            yield outcome
