"""The Kubeflow MPI operator and its MPIJobs, checked against kubeflow/mpi-operator v0.8.0.

Upstream (tag v0.8.0, commit 101db144e019e1de65aaded07745e9d805c2852a), quoted here because CI has no copy:
manifests/base/kubeflow.org_mpijobs.yaml (git blob e7c24a6a51d0d741243c5c0dd002cac8fb26ea29, our
infra/documents/crds/mpi/mpijob.yaml); deploy/v2beta1/mpi-operator.yaml (ClusterRoles mpi-operator,
kubeflow-mpijobs-edit and -view; the Deployment's image mpioperator/mpi-operator:0.8.0 and args
`-alsologtostderr --lock-namespace=mpi-operator`); cmd/mpi-operator/app/server.go (healthCheckPort = 8080,
`/healthz`); examples/v2beta1/pi/pi.yaml (sshAuthMountPath /home/mpiuser/.ssh, runAsUser 1000, workers
`/usr/sbin/sshd -De -f /home/mpiuser/.sshd_config`); examples/v2beta1/tensorflow-benchmarks (mpirun's flags).
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from typing import Any

import kubernetes_validate
import pulumi_kubernetes as k8s
import pytest
import yaml
from pydantic import ValidationError

from components.mpi_operator import MpiOperator
from infra.config.mpi import MpiConfig
from infra.documents import mpi as m
from infra.documents.crd import CRD_ROOT, CustomResourceError, validate_custom_resource
from infra.plan.harness import Capture, evaluate
from infra.plan.manifests import manifests, write_manifests
from tests.pod_security import violations
from tests.test_manifests import checkov_failures, unreviewed

STAR = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]  # what `*` means here
# deploy/v2beta1/mpi-operator.yaml at v0.8.0, ClusterRole mpi-operator, verbatim.
UPSTREAM_OPERATOR_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["configmaps", "secrets", "services"], "verbs": ["create", "list", "watch", "update"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete", "update", "patch"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["create", "get", "update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list", "update", "watch"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create", "get"]},
    {"apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/finalizers", "mpijobs/status"], "verbs": ["*"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
    {"apiGroups": ["scheduling.incubator.k8s.io", "scheduling.sigs.dev", "scheduling.volcano.sh"],
     "resources": ["queues", "podgroups"], "verbs": ["*"]},
    {"apiGroups": ["scheduling.x-k8s.io"], "resources": ["podgroups"], "verbs": ["*"]},
    {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list", "watch"]},
]
# The same file: kubeflow-mpijobs-edit and kubeflow-mpijobs-view (labelled for Kubeflow's aggregation only).
UPSTREAM_EDIT = [{"apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/status"],
                  "verbs": ["get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"]}]
UPSTREAM_VIEW = [{"apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/status"], "verbs": ["get", "list", "watch"]}]

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/astro/mpi-train:2026.1"
# The README's example ("MPI jobs"): two g5.xlarge workers with one GPU each, one rank per GPU.
README_JOB = {"name": "allreduce", "namespace": "astro", "image": IMAGE, "workers": 2, "gpus_per_worker": 1,
              "slots_per_worker": 1, "command": ["python", "/home/mpiuser/train.py"], "pool": "gpu"}


def render(obj: dict[str, Any]) -> str:
    """The YAML text the README shows for a document."""
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=None, width=110)


def job(**changes: Any) -> dict[str, Any]:
    return m.mpi_job(**{**README_JOB, **changes})


def pod(obj: dict[str, Any], role: str) -> dict[str, Any]:
    return dict(obj["spec"]["mpiReplicaSpecs"][role]["template"]["spec"])


def test_the_crd_is_upstreams_file():
    data = (CRD_ROOT / "mpi" / "mpijob.yaml").read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == "e7c24a6a51d0d741243c5c0dd002cac8fb26ea29"


def test_mpi_job_fits_the_crd_and_a_broken_one_is_refused():
    good = job()
    validate_custom_resource(good)
    bad = copy.deepcopy(good)
    # inside the replica-spec map (additionalProperties): crd.unknown_fields descends into it
    bad["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["gpus"] = 1  # pruned by the server
    with pytest.raises(CustomResourceError, match=r"Worker\.template\.spec\.containers\[0\]\.gpus not in the CRD"):
        validate_custom_resource(bad)
    bad["spec"]["runPolicy"]["cleanUp"] = True  # and outside it
    with pytest.raises(CustomResourceError, match=r"runPolicy\.cleanUp"):
        validate_custom_resource(bad)
    bad = copy.deepcopy(good)
    bad["spec"]["mpiImplementation"] = "OpenMPI5"  # the CRD's enum: OpenMPI, Intel, MPICH
    with pytest.raises(CustomResourceError, match="is not one of"):
        validate_custom_resource(bad)


@pytest.mark.parametrize("changes", [{"workers": 0}, {"gpus_per_worker": 0}, {"slots_per_worker": 0}, {"efa": -1},
                                     {"command": []}, {"image": "mpioperator/mpi-pi:latest"}, {"name": "7up"},
                                     {"name": "x" * 55, "workers": 100}])
def test_mpi_job_refuses_what_the_operator_or_we_would(changes):
    # the name: `<job>-worker-<n-1>` must be a DNS-1035 label (pkg/apis/kubeflow/validation, validateMPIJobName)
    with pytest.raises(ValueError):
        job(**changes)


def test_job_pods_are_pod_security_restricted_also_as_the_operator_completes_them():
    obj = job()
    for role in ("Launcher", "Worker"):
        spec = pod(obj, role)
        # what the controller adds (mpi_job_controller.go setupSSHOnPod, newLauncherPodTemplate): the Secret
        # `<job>-ssh` and, on the launcher, the hostfile ConfigMap; both volume types restricted allows
        spec["volumes"] = [*spec.get("volumes", []), {"name": "ssh-auth", "secret": {"secretName": "allreduce-ssh"}},
                           {"name": "mpi-job-config", "configMap": {"name": "allreduce-config"}}]
        assert violations(spec, "restricted") == [], role
        assert spec["securityContext"]["runAsUser"] == 1000 and spec["automountServiceAccountToken"] is False
    # sshd carries `setcap CAP_NET_BIND_SERVICE=+eip` (build/base/Dockerfile): without it in the bounding set
    # exec fails; the launcher only runs the ssh client and keeps nothing
    (worker,) = pod(obj, "Worker")["containers"]
    (launcher,) = pod(obj, "Launcher")["containers"]
    assert worker["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert launcher["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert [*worker["command"], *worker["args"]] == ["/usr/sbin/sshd", "-De", "-f", "/home/mpiuser/.sshd_config"]
    assert obj["spec"]["sshAuthMountPath"] == "/home/mpiuser/.ssh"


def test_workers_get_their_gpus_on_their_pool_and_mpirun_one_rank_per_slot():
    obj = job(workers=4, gpus_per_worker=8, slots_per_worker=8, efa=4, pool="p5")
    for role in ("Launcher", "Worker"):
        spec = pod(obj, role)
        assert spec["nodeSelector"] == {"cloudviper.io/pool": "p5"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    (worker,) = pod(obj, "Worker")["containers"]
    res = worker["resources"]
    assert res["requests"] == res["limits"] and res["limits"]["nvidia.com/gpu"] == "8"
    assert res["limits"]["vpc.amazonaws.com/efa"] == "4"
    (launcher,) = pod(obj, "Launcher")["containers"]
    assert "nvidia.com/gpu" not in launcher["resources"]["limits"]
    cmd = launcher["command"]
    assert cmd[:3] == ["mpirun", "-np", "32"] and cmd[-2:] == ["python", "/home/mpiuser/train.py"]
    assert "--allow-run-as-root" not in cmd and "NCCL_DEBUG=INFO" in cmd
    assert obj["spec"]["slotsPerWorker"] == 8 and obj["spec"]["mpiReplicaSpecs"]["Worker"]["replicas"] == 4
    assert "vpc.amazonaws.com/efa" not in pod(job(), "Worker")["containers"][0]["resources"]["limits"]


def test_operator_rules_are_upstreams_with_the_wildcards_written_out():
    expected = [{**r, "verbs": STAR if r["verbs"] == ["*"] else r["verbs"]} for r in UPSTREAM_OPERATOR_RULES]
    assert m.operator_rules() == expected
    assert not any("*" in r["verbs"] for r in m.operator_rules())


def test_user_roles_aggregate_into_the_built_in_roles():
    assert m.user_rules("edit") == UPSTREAM_EDIT and m.user_rules("view") == UPSTREAM_VIEW
    assert m.USER_ROLE_LABELS == {
        "edit": {"rbac.authorization.k8s.io/aggregate-to-edit": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true"},
        "view": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}


def test_config_defaults_and_checks():
    cfg = MpiConfig.model_validate({})
    assert (cfg.namespace, cfg.image, cfg.cpu, cfg.memory) == ("mpi-operator", "mpioperator/mpi-operator:0.8.0", "100m", "256Mi")
    assert m.OPERATOR_IMAGE == cfg.image and m.operator_args("mpi-operator") == [
        "-alsologtostderr", "--lock-namespace=mpi-operator"]
    for bad in ({"namespace": "kube-system"}, {"namespace": "MPI"}, {"image": "mpioperator/mpi-operator"},
                {"memory": "256"}, {"cpu": "lots"}, {"replicas": 2}):
        with pytest.raises(ValidationError):
            MpiConfig.model_validate(bad)


def run_component(cfg: dict[str, Any]) -> Capture:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        MpiOperator("mpi", MpiConfig.model_validate(cfg), provider)

    return evaluate(program, project="cloudviper", stack="mpi-test", config={})


@pytest.fixture(scope="module")
def operator() -> Capture:
    return run_component({"namespace": "mpi"})


def test_operator_runs_restricted_on_the_system_pool(operator):
    deploy = operator.one("kubernetes:apps/v1:Deployment").props
    assert deploy["metadata"]["namespace"] == "mpi"
    spec = deploy["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloudviper.io/pool-role": "system"} and spec["serviceAccountName"] == "mpi-operator"
    assert violations(spec, "restricted") == []
    (c,) = spec["containers"]
    assert c["image"] == "mpioperator/mpi-operator:0.8.0" and c["args"] == ["-alsologtostderr", "--lock-namespace=mpi"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["runAsUser"] == 65534
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    ns = operator.one("kubernetes:core/v1:Namespace").props
    assert ns["metadata"]["name"] == "mpi" and ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_operator_objects_rbac_and_network_policy(operator):
    crd = operator.one("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").props
    assert crd["metadata"]["name"] == "mpijobs.kubeflow.org"
    roles = {r.props["metadata"]["name"]: r.props for r in operator.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")}
    assert set(roles) == {"mpi-operator", "cloudviper-mpijobs-edit", "cloudviper-mpijobs-view"}
    assert roles["cloudviper-mpijobs-edit"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert roles["cloudviper-mpijobs-view"]["rules"] == UPSTREAM_VIEW
    binding = operator.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").props
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mpi-operator", "namespace": "mpi"}]
    policy = operator.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").props
    assert policy["spec"]["ingress"] == [] and policy["spec"]["policyTypes"] == ["Ingress"]
    deploy = operator.one("kubernetes:apps/v1:Deployment")
    for dep in (*operator.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"),
                operator.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")):
        assert operator.waits_for(deploy, dep)


def test_operator_objects_validate_against_the_upstream_schema(operator):
    docs = manifests(operator)
    assert {d["kind"] for d in docs} >= {"Deployment", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "Namespace",
                                         "NetworkPolicy", "CustomResourceDefinition"}
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_checkov_finds_only_the_token_the_operator_needs(operator, tmp_path, monkeypatch, repo_root):
    # The same checkov run and reviewed list as tests/test_manifests.py. The operator calls the API, so it mounts
    # its token (CKV_K8S_38): tests/checkov_skips.yaml names it in the default namespace (mpi-operator, which the
    # gpu stack's checkov run covers); this operator runs in `mpi`, so exactly that one finding remains.
    if not os.environ.get("CHECKOV") and (repo_root / ".venv-checkov/bin/checkov").exists():
        monkeypatch.setenv("CHECKOV", str(repo_root / ".venv-checkov/bin/checkov"))
    write_manifests(operator, tmp_path)
    token = "CKV_K8S_38 Deployment.mpi.mpi-operator: Ensure that Service Account Tokens are only mounted where necessary"
    assert unreviewed(checkov_failures(tmp_path)) == [token]


def readme_block(readme: str) -> str:
    section = readme.split("### `cloudviper:mpi`", 1)[1].split("\n### ", 1)[0]
    (block,) = re.findall(r"```yaml\n(apiVersion: kubeflow\.org/v2beta1\n.*?)```", section, re.S)
    return block


def test_readme_example_is_what_mpi_job_renders(repo_root):
    block = readme_block((repo_root / "README.md").read_text())
    assert yaml.safe_load(block) == job()
    assert block == render(job())


def test_readme_documents_every_key(repo_root):
    readme = (repo_root / "README.md").read_text()
    section = readme.split("### `cloudviper:mpi`", 1)[1].split("\n### ", 1)[0]
    for name, field in MpiConfig.model_fields.items():
        assert f"| `{field.alias or name}` |" in section and field.description, name
