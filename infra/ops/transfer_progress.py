"""Overall progress of a transfer of many files: files and bytes done, rate, ETA.

On a terminal it is one line redrawn in place (`\\r`, at most every REDRAW seconds); anywhere else (a CI
log, a file) it prints plain lines, one each time another STEP_PERCENT of the bytes is done and at most
every INTERVAL seconds otherwise, so a log stays short and readable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

REDRAW = 0.2
INTERVAL = 5.0
STEP_PERCENT = 10


def size_text(n: float) -> str:
    """Bytes in binary units: 512 B, 3.0 KiB, 12.5 MiB, 1.20 GiB."""
    if n < 2**10:
        return f"{n:.0f} B"
    if n < 2**20:
        return f"{n / 2**10:.1f} KiB"
    if n < 2**30:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**30:.2f} GiB"


def duration_text(seconds: float) -> str:
    """h:mm:ss."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def elapsed_text(seconds: float) -> str:
    """`2.4 s` under a minute, h:mm:ss above."""
    return f"{seconds:.1f} s" if seconds < 60 else duration_text(seconds)


class TransferProgress:
    """Thread-safe counters and their display; `sent` is what went over the wire, `done` includes skipped files."""

    def __init__(self, files: int, total_bytes: int, out: TextIO, tty: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.files, self.total = files, total_bytes
        self.out, self.tty, self.clock = out, tty, clock
        self.files_done = self.done = self.sent = 0
        self.start = self._last_time = clock()
        self._last_step = 0
        self._width = 0
        self._printed = (-1, -1)  # (files, bytes) of the last plain line
        self.lock = threading.Lock()

    def elapsed(self) -> float:
        return max(self.clock() - self.start, 1e-9)

    def fraction(self) -> float:
        if self.total:
            return min(self.done / self.total, 1.0)
        return self.files_done / self.files if self.files else 1.0

    def rate(self) -> float:
        """Bytes sent per second since the start."""
        return self.sent / self.elapsed()

    def text(self) -> str:
        """`3/6 files, 9.0 MiB of 12.5 MiB (72%), 4.1 MiB/s, ETA 0:00:03`."""
        left = self.total - self.done
        speed = self.done / self.elapsed()  # skipped files count: they are work done too
        eta = duration_text(left / speed) if speed > 0 and left > 0 else ("0:00:00" if left <= 0 else "?")
        return (f"{self.files_done}/{self.files} files, {size_text(self.done)} of {size_text(self.total)} "
                f"({100 * self.fraction():.0f}%), {size_text(self.rate())}/s, ETA {eta}")

    def bytes_sent(self, amount: int) -> None:
        """boto3's progress callback (negative when s3transfer rewinds a part to retry it)."""
        with self.lock:
            self.sent += amount
            self.done += amount
            self._show()

    def file_done(self, remaining: int) -> None:
        """A file is finished (uploaded, skipped or failed); `remaining` of its bytes were not reported yet."""
        with self.lock:
            self.files_done += 1
            self.done += remaining
            self._show()

    def finish(self) -> None:
        """The last state, and the end of the redrawn line."""
        with self.lock:
            self._show(force=True)
            if self.tty:
                self.out.write("\n")
                self.out.flush()

    def _show(self, force: bool = False) -> None:
        now = self.clock()
        if self.tty:
            if force or now - self._last_time >= REDRAW:
                line = self.text()
                self.out.write("\r" + line + " " * max(0, self._width - len(line)))
                self._width = len(line)
                self.out.flush()
                self._last_time = now
            return
        step = int(100 * self.fraction()) // STEP_PERCENT
        state = (self.files_done, self.done)
        if state == self._printed:
            return
        if force or step > self._last_step or now - self._last_time >= INTERVAL:
            self.out.write(f"progress: {self.text()}\n")
            self.out.flush()
            self._last_step, self._last_time, self._printed = step, now, state
