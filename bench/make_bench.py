"""`make bench`: every part of the benchmark -- the plan's (bench/plan_bench.py) and the diff's
(bench/diff_bench.py) -- side by side, one per core (bench/measure.py run_jobs), printed in order, with the machine
first and the time taken last.
"""

from __future__ import annotations

import time

import diff_bench
import measure as m
import plan_bench

if __name__ == "__main__":
    start = time.perf_counter()
    print(m.machine(), flush=True)
    m.run_jobs([*plan_bench.jobs(), diff_bench.job()])
    print(f"\nmake bench: {(time.perf_counter() - start) / 60:.1f} min of wall time; load average at the end "
          f"{m.load()}")
