"""The workers' preStop hook is real: it moves a worker's results to another worker, then the worker leaves.

A real Dask scheduler and two workers run on 127.0.0.1 with the command lines and environment of
the rendered DaskCluster; the test then runs the exact preStop command of the worker spec.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from distributed import Client, wait

from tests.dask_local import local_dask, plain_env, wait_for, worker_container


def test_prestop_retires_the_worker_and_its_data_survives(stack_capture, tmp_path: Path):
    cap = stack_capture("dev")
    worker_c = worker_container(cap)
    with local_dask(cap, 2, tmp_path, Path(sys.executable).parent) as dask, \
            Client(dask.address, timeout=60) as client:
        client.wait_for_workers(2, timeout=90)
        assert set(client.scheduler_info()["workers"]) == set(dask.workers)
        # workers are registered under the name the operator gives them (it retires them by it)
        assert {w["name"] for w in client.scheduler_info()["workers"].values()} == {
            "dask-default-worker-w0", "dask-default-worker-w1"}
        first, second = dask.workers
        future = client.submit(lambda: list(range(100_000)), workers=[first], allow_other_workers=False, pure=False)
        # finished, without fetching it here: a list's 100,000 items travel as 100,000 frames (distributed
        # 2026.1.1 protocol/serialize.py, serialize: iterate_collection), seconds of CPU per transfer
        wait([future], timeout=60)
        assert future.status == "finished", future.exception()
        assert client.who_has([future])[future.key] == (first,)

        command = worker_c["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "python"
        hook_env = {**os.environ, **plain_env(worker_c), "POD_IP": "127.0.0.1",
                    "WORKER_PORT": first.rsplit(":", 1)[1], "DASK_SCHEDULER_HTTP": dask.http}
        result = subprocess.run([sys.executable, *command[1:]], env=hook_env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

        assert wait_for(lambda: client.who_has([future])[future.key] == (second,)), client.who_has([future])
        assert wait_for(lambda: first not in client.scheduler_info()["workers"])
        assert len(future.result(timeout=30)) == 100_000


def test_worker_threads_and_memory_match_the_resources(stack_capture):
    c = worker_container(stack_capture("dev"))
    args = c["args"]
    assert args[args.index("--nthreads") + 1] == c["resources"]["limits"]["cpu"] == "1"
    assert args[args.index("--memory-limit") + 1] == "4GiB" and c["resources"]["limits"]["memory"] == "4Gi"
    assert c["resources"]["requests"] == {**c["resources"]["limits"], "ephemeral-storage": "20Gi"}


def test_grace_period_fits_the_spot_notice(stack_capture):
    from infra.plan.manifests import manifests
    from tests.dask_local import dask_cluster

    pod = dask_cluster(manifests(stack_capture("dev")))["spec"]["worker"]["spec"]
    assert pod["terminationGracePeriodSeconds"] < 120
