"""A Client reads Parquet from the stack's bucket through the cluster, as the README tells a scientist to.

The scheduler and workers run with the DaskCluster's exact command lines (tests/dask_local.py) from the
Dask client environment (.venv-dask: requirements-dask.txt, the default image's dask, distributed,
s3fs, boto3, pyarrow and pandas). S3 is moto in server mode on 127.0.0.1: the same s3fs code path,
with the workers' credentials standing in for IRSA's. The README's two client scripts run verbatim
(they are extracted from README.md): one with no AWS credentials at all (a laptop through
`kubectl port-forward`, or a pod in a client namespace), one with them (JupyterLab, whose service
account has the buckets' IRSA role).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws_emulator import start_moto
from tests.conftest import capture_in, stacks_project
from tests.dask_local import LocalDask, local_dask

ROOT = Path(__file__).resolve().parent.parent
BUCKET, RESULTS = "cloudviper-dev-raw-123456789012", "cloudviper-dev-results-123456789012"


def dask_python() -> Path:
    path = Path(os.environ.get("DASK_PYTHON") or ROOT / ".venv-dask/bin/python")
    assert path.exists(), f"{path} is missing: run `make test` (it creates .venv-dask from requirements-dask.txt)"
    return path


def readme_block(marker: str) -> str:
    """The python code block of README.md that follows `<!-- test: marker -->`."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- test: {marker} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"README.md has no python block marked {marker}"
    return match.group(1)


def without_aws(env: dict[str, str]) -> dict[str, str]:
    """An environment in which no AWS credentials can be found (nor asked of instance metadata)."""
    clean = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    return {**clean, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


@pytest.fixture(scope="module")
def s3() -> Any:
    server, endpoint = start_moto()
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    for name in (BUCKET, RESULTS):
        client.create_bucket(Bucket=name)
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint,
             "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    yield client, creds
    server.stop()


def run_client(code: str, env: dict[str, str], address: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A README snippet with its placeholders filled in: the scheduler (as port-forwarded) and the bucket."""
    code = code.replace("tcp://localhost:8786", address).replace("BUCKET", BUCKET).replace("RESULTS", RESULTS)
    script = tmp_path / "client.py"
    script.write_text(code)
    return subprocess.run([str(dask_python()), str(script)], env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)


def write_table(creds: dict[str, str]) -> None:
    """Two Parquet files of a table, written as a scientist would upload them (pandas -> s3fs)."""
    code = ("import pandas as pd\n"
            "for i in range(2):\n"
            "    pd.DataFrame({'k': ['a', 'b'] * 50, 'x': range(i * 100, i * 100 + 100)}).to_parquet(\n"
            f"        f's3://{BUCKET}/table/part-{{i}}.parquet')\n")
    out = subprocess.run([str(dask_python()), "-c", code], env={**os.environ, **creds}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def cluster(s3: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDask]:
    """The table written, then a scheduler and two workers of the dev stack's DaskCluster with the workers'
    credentials, shared by the module's client tests: they read the same table and write only to RESULTS, so none
    needs a fresh cluster (each start and stop of five Dask processes costs seconds of CPU)."""
    _, creds = s3
    write_table(creds)
    with local_dask(capture_in(stacks_project(), "dev"), 2, tmp_path_factory.mktemp("dask"), dask_python().parent,
                    extra_env=creds) as running:
        yield running


def test_the_client_environment_is_the_default_images():
    # infra/config/dask.py cites pangeo-data/pangeo-docker-images pangeo-notebook/packages.txt @2026.01.30
    out = subprocess.run([str(dask_python()), "-c", "import dask, distributed, s3fs, pyarrow, pandas, boto3; print("
                          "dask.__version__, distributed.__version__, s3fs.__version__, pyarrow.__version__, "
                          "pandas.__version__, boto3.__version__)"], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["2026.1.1", "2026.1.1", "2026.1.0", "22.0.0", "2.3.3", "1.40.70"], out.stderr


@pytest.mark.xdist_group("dask_s3_cluster")  # one worker runs both: one cluster (make test: --dist loadgroup)
def test_a_client_with_only_the_kubernetes_role_reads_parquet_through_the_workers(cluster, tmp_path):
    out = run_client(readme_block("laptop-client"), without_aws(dict(os.environ)), cluster.address, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    # sum(range(200)) and the first file's rows: read by the workers, with their credentials only
    assert out.stdout.split()[-2:] == ["19900", "100"], out.stdout


@pytest.mark.xdist_group("dask_s3_cluster")  # one worker runs both: one cluster (make test: --dist loadgroup)
def test_jupyterlab_reads_and_writes_the_buckets_with_dask_dataframe(s3, cluster, tmp_path):
    client, creds = s3
    env = {**os.environ, **creds, "DASK_SCHEDULER_ADDRESS": cluster.address}  # as JupyterLab's pod has it
    out = run_client(readme_block("jupyter-client"), env, cluster.address, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "19900" in out.stdout
    written = client.list_objects_v2(Bucket=RESULTS, Prefix="sums/")
    assert any(o["Key"].endswith(".parquet") for o in written.get("Contents", [])), written


def test_the_client_really_has_no_credentials(s3, tmp_path):
    # s3fs (the workers' path) in the laptop's environment finds no credentials: the laptop's test above read through
    # the workers. (Any other S3 attempt from there fails too: it has no endpoint but real AWS, unreachable here.)
    code = f"import s3fs\ns3fs.S3FileSystem().ls('{BUCKET}')\n"
    out = subprocess.run([str(dask_python()), "-c", code], env=without_aws(dict(os.environ)), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and "NoCredentialsError" in out.stderr + out.stdout
