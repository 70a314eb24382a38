"""What the benchmarks measure and how: the CPU time (user + sys) of fresh processes from the kernel's rusage, their
wall time and peak memory, with the commands being compared run round-robin so that a busy or drifting machine
affects every one of them alike. Shared by bench/plan_bench.py and bench/diff_bench.py.

CPU time is what a process itself used: other work on the machine changes it far less than wall time (sharing
caches and memory still adds some, hence the rounds and the per-round ratios). The rusage that os.wait4 returns
is what getrusage(RUSAGE_CHILDREN) would add for that one child: its own and every descendant's it waited for (a
diff's two plans, git), so children running at the same time are measured apart.

The parts of the benchmark (Job) run side by side, one per core (run_jobs): each waits on its own processes and
reads only their CPU time, so they do not skew each other's figures, only the wall times.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
# Rounds of every comparison (after one untimed warm-up): BENCH_REPEAT=5 for steadier medians, at more minutes.
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SECRET_KEY_ENV = "CLOUDVIPER_SECRET_DIGEST_KEY"  # infra/plan/resource_list.py: unset, secrets print as a fixed mask


@dataclass(frozen=True)
class Run:
    """One finished process."""

    cpu: float  # user + sys seconds, its own and its waited-for descendants'
    wall: float  # seconds
    rss_mib: float  # peak resident set of it or its largest waited-for descendant
    out: str  # stdout


def bench_env() -> dict[str, str]:
    """This environment without the diff's secret-digest key, so every plan prints secrets the same way."""
    return {k: v for k, v in os.environ.items() if k != SECRET_KEY_ENV}


# Started by a small interpreter that starts the command and waits for it with os.wait4: an exec'd process's
# ru_maxrss starts at the resident size of the process it was forked from (a child of this bench process, some
# 200 MiB once the test helpers are imported, reported at least that much; /bin/true forked from a 500 MiB parent
# reports 510 MiB, from this runner 6 MiB).
RUNNER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as result:
    json.dump({"code": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime, "wall": wall,
               "rss_kib": usage.ru_maxrss}, result)
"""


def run(cmd: Sequence[str], cwd: Path = ROOT, ok: tuple[int, ...] = (0,)) -> Run:
    """Run a command to the end and measure it; an exit code outside `ok` stops the benchmark with its stderr."""
    with tempfile.TemporaryDirectory(prefix="cloudviper-bench-run-") as tmp:
        result, out, err = Path(tmp) / "rusage.json", Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:  # files, not pipes: nothing to drain meanwhile
            runner = [PY, "-I", "-S", "-c", RUNNER, str(result), *cmd]
            subprocess.run(runner, cwd=cwd, stdout=stdout, stderr=stderr, env=bench_env(), check=True)
        usage = json.loads(result.read_text())
        if usage["code"] not in ok:
            tail = err.read_text(errors="replace")[-3000:]
            raise SystemExit(f"bench: {' '.join(cmd)} (in {cwd}) exited {usage['code']}\n{tail}")
        # Linux getrusage(2): ru_maxrss is in kilobytes.
        return Run(cpu=usage["cpu"], wall=usage["wall"], rss_mib=usage["rss_kib"] / 1024, out=out.read_text())


def interleave(commands: dict[str, list[str]], warmup: Sequence[str], cwd: Path = ROOT,
               ok: tuple[int, ...] = (0,)) -> dict[str, list[Run]]:
    """Run the commands named in `warmup` once, untimed (disk cache, bytecode), then every command round-robin
    (A, B, C, A, B, C, ...) REPEAT times; the runs of each command, in round order."""
    for label in warmup:
        run(commands[label], cwd, ok)
    runs: dict[str, list[Run]] = {label: [] for label in commands}
    for _ in range(REPEAT):
        for label, cmd in commands.items():
            runs[label].append(run(cmd, cwd, ok))
    return runs


def round_ratio(top: Sequence[float], bottom: Sequence[float]) -> float:
    """The median over rounds of top / bottom (both in round order): drift between rounds cancels out."""
    return statistics.median(t / b for t, b in zip(top, bottom, strict=True))


def cpus(runs: Sequence[Run]) -> list[float]:
    """The CPU seconds of each run."""
    return [r.cpu for r in runs]


def summary(label: str, runs: Sequence[Run]) -> str:
    """One line: median CPU and wall seconds, and the largest peak RSS, of a command's runs."""
    cpu, wall = statistics.median(cpus(runs)), statistics.median(r.wall for r in runs)
    return f"  {label:<32} CPU {cpu:6.2f} s   wall {wall:6.2f} s   peak RSS {max(r.rss_mib for r in runs):5.0f} MiB"


def target(name: str, value: float, limit: float, unit: str = "") -> str:
    """A target line: the figure, the limit and OK or MISSED."""
    verdict = "OK" if value <= limit else "MISSED"
    return f"target {name}: {value:.2f}{unit} (at most {limit:g}{unit}): {verdict}"


def _cpu_model() -> str:
    """The processor's name from /proc/cpuinfo (Linux), else what the platform module says."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """The machine the figures come from: cores, processor, Python, the load when the run started."""
    return (f"machine: {os.cpu_count()} cores ({_cpu_model()}), Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}, load average {load()}; "
            f"{REPEAT} interleaved rounds per comparison")


@dataclass(frozen=True)
class Job:
    """A part of the benchmark: a function that measures and returns the lines to print."""

    weight: float  # about how many CPU seconds it takes: the heaviest start first
    work: Callable[[], list[str]]


def run_jobs(jobs: Sequence[Job]) -> None:
    """Run the jobs on one thread per core, heaviest first; print each job's lines in the order given, as soon as
    the jobs before it are done. A job that fails stops the benchmark (the ones not started are dropped)."""
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    futures: dict[int, Future[list[str]]] = {}
    for index in sorted(range(len(jobs)), key=lambda i: -jobs[i].weight):
        futures[index] = pool.submit(jobs[index].work)
    try:
        for index in range(len(jobs)):
            print("\n".join(futures[index].result()), flush=True)
    finally:
        pool.shutdown(cancel_futures=True)
