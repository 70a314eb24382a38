"""`make test` runs pytest-xdist with --dist loadgroup so that the tests marked with one xdist_group share a worker, and
with it a module-scoped fixture (one Dask cluster in tests/test_dask_s3.py, one `plan --all` in
tests/test_sdk_modules.py). With pytest 9.2 and xdist 3.8.0 the grouping silently stops (pytest-dev/pytest-xdist
issue 1386: the group travels in the node id, which pytest 9.2 no longer lets a plugin change); this checks that
the pinned pair groups."""

from __future__ import annotations

import re
import subprocess
import sys

GROUPED = '''
import pytest

@pytest.mark.xdist_group("together")
@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pass

@pytest.mark.parametrize("i", range(6))
def test_free(i):
    pass
'''


def test_tests_of_one_xdist_group_run_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                           "-v", "-o", "addopts=", "test_grouped.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ran = re.findall(r"\[(gw\d)\].*PASSED test_grouped\.py::(test_\w+)\[(\d)\]", done.stdout)
    assert len(ran) == 12, done.stdout[-2000:]
    grouped = {worker for worker, test, _ in ran if test == "test_grouped"}
    assert len(grouped) == 1, f"the group ran on {sorted(grouped)}: {ran}"
    assert len({worker for worker, _, _ in ran}) == 2  # the others still spread over both workers
