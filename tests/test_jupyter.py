"""JupyterLab keeps its notebooks (encrypted gp3 home, kept on destroy), runs as the image's user, and a
forgotten notebook is scaled to zero by the culler, whose exact script runs here against loopback servers.

Sources: jupyter_server 2.17 (the default image's) services/api/handlers.py (`GET /api/status`
returns last_activity and does not count as activity: `_track_activity = False`) and
auth/identity.py (JUPYTER_TOKEN_FILE); the Kubernetes API's scale subresource
(PATCH .../deployments/<name>/scale, application/merge-patch+json).
"""

from __future__ import annotations

import copy
import datetime
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme

from infra.config.errors import ConfigError
from infra.config.stackfile import StackFile
from infra.documents import jupyter as lab
from infra.plan.harness import Capture
from infra.plan.manifests import manifests
from infra.plan.program import run_program
from tests.aws_emulator import LoopbackServer
from tests.test_secrets import SECRETS, full_values


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    from tests.test_secrets import run_with_secret_keys

    return manifests(run_with_secret_keys())


def with_jupyter(**jupyter: Any) -> dict[str, Any]:
    values = copy.deepcopy(full_values())
    values["cloudviper:dask"]["jupyter"].update(jupyter)
    return values


def run_config(values: dict[str, Any]) -> Capture:
    return run_program(StackFile(project="cloudviper", stack="test", values=values,
                                 secret_keys=["cloudviper:secretValues"]))


def test_home_is_an_encrypted_gp3_claim_kept_on_destroy(docs):
    claim = by_kind(docs, "PersistentVolumeClaim", "jupyter-home")
    assert claim["spec"]["storageClassName"] == "gp3-encrypted"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    sc = by_kind(docs, "StorageClass", "gp3-encrypted")
    assert {k: sc["parameters"][k] for k in ("type", "encrypted")} == {"type": "gp3", "encrypted": "true"}
    assert sc["reclaimPolicy"] == "Retain"
    # the stack's tags reach the volumes (aws-ebs-csi-driver docs/tagging.md), so kept ones can be found
    assert "stack=test" in {v for k, v in sc["parameters"].items() if k.startswith("tagSpecification_")}
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"  # the volume is made in the zone the pod lands in
    deploy = by_kind(docs, "Deployment", "jupyter")
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}  # one pod at a time: a ReadWriteOnce volume
    pod = deploy["spec"]["template"]["spec"]
    (home,) = [v for v in pod["volumes"] if v["name"] == "home"]
    assert home == {"name": "home", "persistentVolumeClaim": {"claimName": "jupyter-home"}}
    (c,) = pod["containers"]
    assert {"name": "home", "mountPath": "/home/jovyan"} in c["volumeMounts"]
    assert {"name": "HOME", "value": "/home/jovyan"} in c["env"]


def test_the_home_claim_waits_for_the_storage_class():
    from tests.test_secrets import run_with_secret_keys

    cap = run_with_secret_keys()
    claim = cap.one("kubernetes:core/v1:PersistentVolumeClaim", "dask-jupyter-home")
    assert cap.waits_for(claim, cap.one("kubernetes:storage.k8s.io/v1:StorageClass"))


def test_runs_as_the_notebook_images_user_and_stays_restricted(docs):
    namespace = by_kind(docs, "Namespace", "dask")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = by_kind(docs, "Deployment", "jupyter")["spec"]["template"]["spec"]
    assert {k: pod["securityContext"][k] for k in ("runAsUser", "runAsGroup", "fsGroup")} == {
        "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000}  # jovyan in the Pangeo images
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"  # no chmod walk of the home
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "livenessProbe" not in c and c["readinessProbe"]["httpGet"]["path"] == "/api"


def test_docker_stacks_images_use_gid_100():
    cap = run_config(with_jupyter(image="quay.io/jupyter/scipy-notebook:2025-12-01", gid=100))
    pod = cap.one("kubernetes:apps/v1:Deployment", "dask-jupyter").props["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (1000, 100)
    assert pod["containers"][0]["image"] == "quay.io/jupyter/scipy-notebook:2025-12-01"


def test_home_zero_means_no_volume():
    cap = run_config(with_jupyter(home="0"))
    assert not cap.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert not cap.of_type("kubernetes:storage.k8s.io/v1:StorageClass")  # nothing else needs EBS here
    pod = cap.one("kubernetes:apps/v1:Deployment", "dask-jupyter").props["spec"]["template"]["spec"]
    (home,) = [v for v in pod["volumes"] if v["name"] == "home"]
    assert "emptyDir" in home


def test_a_home_on_a_pool_spanning_zones_is_refused():
    values = with_jupyter()
    values["cloudviper:nodeGroups"][0].pop("perZone")
    with pytest.raises(ConfigError) as err:
        run_config(values)
    assert "cloudviper:dask.jupyter.home: JupyterLab's home volume lives in one zone" in str(err.value)


def test_the_home_volume_is_priced(docs):
    from infra.plan.sections import resource_views
    from infra.pricing.cost import estimate
    from infra.pricing.tables import load_prices
    from tests.test_secrets import run_with_secret_keys

    est = estimate(resource_views(run_with_secret_keys()), load_prices("us-east-1"))
    (item,) = [i for i in est.items if i.name == "dask-jupyter-home"]
    assert item.idle == pytest.approx(10 * load_prices("us-east-1").fixed_price("ebs_gp3_storage") / 730, abs=1e-6)


def test_idle_kernels_are_culled_with_the_server():
    args = lab.lab_args(60)
    assert "--MappingKernelManager.cull_idle_timeout=3600" in args
    assert not any("cull" in a for a in lab.lab_args(0))


def test_idle_minutes_zero_means_no_culler():
    cap = run_config(with_jupyter(idleMinutes=0))
    assert not cap.of_type("kubernetes:batch/v1:CronJob")
    assert not [r for r in cap.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role") if "culler" in r.name]


def test_a_new_token_restarts_jupyterlab_without_showing_it():
    import hashlib

    def digest(token: str) -> str:
        values = with_jupyter()
        values["cloudviper:secretValues"] = {**values["cloudviper:secretValues"], "jupyterToken": token}
        deploy = run_config(values).one("kubernetes:apps/v1:Deployment", "dask-jupyter").props
        return str(deploy["spec"]["template"]["metadata"]["annotations"]["cloudviper.io/token-digest"])

    first, second = digest("token-one-0123456789"), digest("token-two-0123456789\n")
    assert first != second and "token" not in first
    assert second == hashlib.sha256(b"token-two-0123456789").hexdigest()[:16]  # stripped, as the Secret holds it


def test_upgrades_keep_the_deployment_service_and_secret(docs):
    from tests.test_secrets import run_with_secret_keys

    cap = run_with_secret_keys()
    dask = cap.one("cloudviper:k8s:DaskCluster", "dask")
    for typ, name in (("kubernetes:apps/v1:Deployment", "dask-jupyter"), ("kubernetes:core/v1:Service", "dask-jupyter"),
                      ("kubernetes:core/v1:Secret", "dask-jupyter-token")):
        res = cap.one(typ, name)
        assert res.alias_parents and res.alias_parents[0].endswith("::dask") and res.parent != dask.urn
    assert cap.one("kubernetes:core/v1:ServiceAccount", "dask-jupyter-sa").parent == dask.urn  # as before


# -- the culler's own script, run as the CronJob runs it ---------------------------------------------------

class FakeJupyter(LoopbackServer):
    """`GET /api/status` and `GET /api/kernels` as jupyter_server 2.17 answers them, for one token."""

    def __init__(self, token: str, idle_minutes: float, kernel_states: tuple[str, ...] = ()) -> None:
        last = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=idle_minutes)
        self.paths: list[str] = []

        def reply(method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
            self.paths.append(path)
            if headers.get("Authorization") != f"token {token}":
                return 403, "application/json", b'{"message": "Forbidden"}'
            stamp = last.isoformat().replace("+00:00", "Z")
            if path == "/api/status":
                return 200, "application/json", json.dumps({
                    "started": stamp, "last_activity": stamp, "connections": 0, "kernels": len(kernel_states)}).encode()
            if path == "/api/kernels?no_track_activity=1":  # a kernel model: id, name, last_activity, execution_state
                return 200, "application/json", json.dumps([
                    {"id": f"k{i}", "name": "python3", "last_activity": stamp, "execution_state": state, "connections": 1}
                    for i, state in enumerate(kernel_states)]).encode()
            return 404, "text/plain", b""

        super().__init__(reply)


class FakeKubernetes(LoopbackServer):
    """The scale subresource over HTTPS, for one service-account token; records the patches."""

    def __init__(self, token: str, tls: Any) -> None:
        self.patches: list[tuple[str, str, dict[str, Any]]] = []

        def reply(method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
            if headers.get("Authorization") != f"Bearer {token}":
                return 401, "application/json", b'{"kind": "Status", "code": 401}'
            self.patches.append((method, headers.get("Content-Type"), json.loads(body)))
            return 200, "application/json", json.dumps({"kind": "Scale", "spec": {"replicas": 0}}).encode()

        super().__init__(reply, tls)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def run_culler(docs: list[dict[str, Any]], tmp_path: Path, jupyter_url: str, api_url: str, ca: trustme.CA,
               token: str = SECRETS["jupyterToken"]) -> subprocess.CompletedProcess[str]:
    job = by_kind(docs, "CronJob", "jupyter-culler")
    (c,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    (tmp_path / "jupyter-token").write_text(token)
    (tmp_path / "sa-token").write_text("sa-token\n")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    env.update(JUPYTER_URL=jupyter_url, JUPYTER_TOKEN_FILE=str(tmp_path / "jupyter-token"), KUBERNETES_API=api_url,
               TOKEN_FILE=str(tmp_path / "sa-token"), CA_FILE=str(tmp_path / "ca.crt"))
    assert c["command"][:2] == ["python", "-c"]
    return subprocess.run([sys.executable, "-c", c["command"][2]], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def kube(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with FakeKubernetes("sa-token", ctx) as server:
        yield server


def test_the_culler_scales_a_forgotten_notebook_to_zero(docs, tmp_path, ca, kube):
    with FakeJupyter(SECRETS["jupyterToken"], idle_minutes=61) as jupyter:
        out = run_culler(docs, tmp_path, jupyter.url, kube.url, ca)
    assert out.returncode == 0, out.stderr
    assert kube.patches == [("PATCH", "application/merge-patch+json", {"spec": {"replicas": 0}})]
    assert "scaled jupyter to zero" in out.stdout


def test_the_culler_leaves_a_kernel_running_a_silent_cell_alone(docs, tmp_path, ca, kube):
    # a long cell that prints nothing (df.compute()) does not move last_activity; its kernel is `busy`
    with FakeJupyter(SECRETS["jupyterToken"], idle_minutes=600, kernel_states=("idle", "busy")) as jupyter:
        out = run_culler(docs, tmp_path, jupyter.url, kube.url, ca)
    assert out.returncode == 0, out.stderr
    assert kube.patches == [] and "kernels running a cell: k1" in out.stdout
    assert "/api/kernels?no_track_activity=1" in jupyter.paths  # asking must not count as activity


def test_the_culler_leaves_a_notebook_in_use_alone(docs, tmp_path, ca, kube):
    with FakeJupyter(SECRETS["jupyterToken"], idle_minutes=59) as jupyter:
        out = run_culler(docs, tmp_path, jupyter.url, kube.url, ca)
    assert out.returncode == 0, out.stderr
    assert kube.patches == []


def test_the_culler_does_nothing_when_jupyterlab_is_already_down(docs, tmp_path, ca, kube):
    from tests.dask_local import free_port

    out = run_culler(docs, tmp_path, f"http://127.0.0.1:{free_port()}", kube.url, ca)
    assert out.returncode == 0 and "not reachable" in out.stdout
    assert kube.patches == []


def test_the_culler_fails_loudly_on_a_wrong_token(docs, tmp_path, ca, kube):
    with FakeJupyter("another-token", idle_minutes=600) as jupyter:
        out = run_culler(docs, tmp_path, jupyter.url, kube.url, ca)
    assert out.returncode != 0 and "403" in out.stderr
    assert kube.patches == []


def test_the_culler_checks_the_api_servers_certificate(docs, tmp_path, kube):
    with FakeJupyter(SECRETS["jupyterToken"], idle_minutes=600) as jupyter:
        out = run_culler(docs, tmp_path, jupyter.url, kube.url, trustme.CA())  # a CA that did not sign it
    assert out.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in out.stderr
    assert kube.patches == []
