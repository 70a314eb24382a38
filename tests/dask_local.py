"""Run the scheduler and workers of a rendered DaskCluster on 127.0.0.1, with its exact command lines and env.

What the operator adds to worker pods (DASK_WORKER_NAME, DASK_SCHEDULER_ADDRESS; controller.py
build_worker_deployment_spec at dask-kubernetes 2026.3.0) is added here the same way. Processes run
from the given Python's environment (the main venv, or .venv-dask for the S3 tests).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.plan.manifests import manifests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dask_cluster(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rendered DaskCluster."""
    (doc,) = [d for d in docs if d["kind"] == "DaskCluster"]
    return doc


def scheduler_container(capture: Any) -> dict[str, Any]:
    (c,) = dask_cluster(manifests(capture))["spec"]["scheduler"]["spec"]["containers"]
    return dict(c)


def worker_container(capture: Any) -> dict[str, Any]:
    (c,) = dask_cluster(manifests(capture))["spec"]["worker"]["spec"]["containers"]
    return dict(c)


def expand(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion in args."""
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args]


def plain_env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> bool:
    """Whether `predicate()` became true within `timeout` seconds, asked every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LocalDask:
    """Addresses of a running local cluster."""

    comm: int
    dashboard: int
    workers: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.comm}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.dashboard}"


@contextmanager
def local_dask(capture: Any, workers: int, tmp_path: Path, bin_dir: Path, extra_env: dict[str, str] | None = None) \
        -> Iterator[LocalDask]:
    """A scheduler and `workers` workers from the capture's DaskCluster, stopped on exit."""
    sched_c, worker_c = scheduler_container(capture), worker_container(capture)
    cluster = LocalDask(free_port(), free_port())
    base = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), **(extra_env or {})}
    args = list(sched_c["args"])
    args[args.index("--port") + 1] = str(cluster.comm)
    args[args.index("--dashboard-address") + 1] = f"127.0.0.1:{cluster.dashboard}"
    cluster.procs.append(subprocess.Popen([*args, "--host", "127.0.0.1"], env={**base, **plain_env(sched_c)},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        # Workers (and clients) start once the scheduler listens: one that finds no scheduler retries with an
        # exponential backoff of random jitter (distributed 2026.1.1 comm/core.py, connect: uniform(0, 0.01 * 2**n)
        # seconds), which waited seconds past the scheduler's start.
        assert wait_for(lambda: accepts(cluster.comm) or cluster.procs[0].poll() is not None), "scheduler did not start"
        assert cluster.procs[0].poll() is None, f"the scheduler exited: {cluster.procs[0].returncode}"
        for i in range(workers):
            port = free_port()
            env = {**base, **plain_env(worker_c), "POD_IP": "127.0.0.1", "POD_NAME": f"w{i}", "WORKER_PORT": str(port),
                   "DASK_WORKER_NAME": f"dask-default-worker-w{i}", "DASK_SCHEDULER_ADDRESS": cluster.address,
                   "DASK_SCHEDULER_HTTP": cluster.http}
            wargs = expand(worker_c["args"], env)
            wargs[wargs.index("--listen-address") + 1] = f"tcp://127.0.0.1:{port}"  # loopback only in tests
            wargs[wargs.index("--nanny-port") + 1] = str(free_port())
            wargs[wargs.index("--dashboard-address") + 1] = f"127.0.0.1:{free_port()}"
            wargs[wargs.index("--local-directory") + 1] = str(tmp_path / f"w{i}")
            cluster.procs.append(subprocess.Popen(wargs, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            cluster.workers.append(f"tcp://127.0.0.1:{port}")
        yield cluster
    finally:
        stop(cluster.procs[1:])
        stop(cluster.procs[:1])


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process, then wait for all of them (SIGKILL after 30 s).

    Workers stop before the scheduler: stopped at the same moment as their scheduler, workers' processes were
    seen to hang until their nanny killed them (distributed 2026.1.1 nanny.py, WorkerProcess.kill: "still alive
    after 8.0 seconds, killing", 0.8 of the timeout 10 that cli/dask_worker.py gives), 8 s of a teardown."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
