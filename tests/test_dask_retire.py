"""The workers' preStop hook is real: it moves a worker's results to another worker, then the worker leaves.

A real Dask scheduler and two workers run on 127.0.0.1 with the command lines and environment of
the rendered manifests; the test then runs the exact preStop command of the worker manifest.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed import Client

from infra.plan.manifests import manifests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def container_of(docs, name):
    (deploy,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    return c


def expand(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion in args."""
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args]


def plain_env(c) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def dask_manifests(stack_capture):
    return manifests(stack_capture("dev"))


def test_prestop_retires_the_worker_and_its_data_survives(dask_manifests, tmp_path: Path):
    bin_dir = Path(sys.executable).parent
    sched_c, worker_c = container_of(dask_manifests, "dask-scheduler"), container_of(dask_manifests, "dask-worker")
    comm, dash = free_port(), free_port()
    base_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    sched_args = [a for a in sched_c["args"]]
    sched_args[sched_args.index("--port") + 1] = str(comm)
    sched_args[sched_args.index("--dashboard-address") + 1] = f"127.0.0.1:{dash}"
    procs = [subprocess.Popen([*sched_args, "--host", "127.0.0.1"], env={**base_env, **plain_env(sched_c)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        workers = []
        for i in range(2):
            port = free_port()
            env = {**base_env, **plain_env(worker_c), "POD_IP": "127.0.0.1", "POD_NAME": f"w{i}", "WORKER_PORT": str(port)}
            args = expand(worker_c["args"], env)
            args[2] = f"tcp://127.0.0.1:{comm}"  # the in-cluster service name, here the local scheduler
            args[args.index("--listen-address") + 1] = f"tcp://127.0.0.1:{port}"  # loopback only in tests
            args[args.index("--nanny-port") + 1] = str(free_port())
            args[args.index("--dashboard-address") + 1] = f"127.0.0.1:{free_port()}"
            args[args.index("--local-directory") + 1] = str(tmp_path / f"w{i}")
            procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            workers.append(f"tcp://127.0.0.1:{port}")

        with Client(f"tcp://127.0.0.1:{comm}", timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            assert set(client.scheduler_info()["workers"]) == set(workers)
            first, second = workers
            future = client.submit(lambda: list(range(100_000)), workers=[first], allow_other_workers=False, pure=False)
            future.result(timeout=60)
            assert client.who_has([future])[future.key] == (first,)

            command = worker_c["lifecycle"]["preStop"]["exec"]["command"]
            assert command[0] == "python"
            hook_env = {**base_env, **plain_env(worker_c), "POD_IP": "127.0.0.1", "WORKER_PORT": first.rsplit(":", 1)[1],
                        "DASK_SCHEDULER_HTTP": f"http://127.0.0.1:{dash}"}
            result = subprocess.run([sys.executable, *command[1:]], env=hook_env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr

            assert wait_for(lambda: client.who_has([future])[future.key] == (second,)), client.who_has([future])
            assert wait_for(lambda: first not in client.scheduler_info()["workers"])
            assert len(future.result(timeout=30)) == 100_000
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_worker_threads_and_memory_match_the_resources(dask_manifests):
    c = container_of(dask_manifests, "dask-worker")
    args = c["args"]
    assert args[args.index("--nthreads") + 1] == c["resources"]["limits"]["cpu"] == "1"
    assert args[args.index("--memory-limit") + 1] == "4GiB" and c["resources"]["limits"]["memory"] == "4Gi"
    assert c["resources"]["requests"] == c["resources"]["limits"]


def test_grace_period_fits_the_spot_notice(dask_manifests):
    (deploy,) = [d for d in dask_manifests if d["kind"] == "Deployment" and d["metadata"]["name"] == "dask-worker"]
    assert deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] < 120
