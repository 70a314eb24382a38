"""The Kubeflow MPI operator v0.8.0 and MPIJobs (kubeflow.org/v2beta1) for GPU training, as documents (pure).

Facts from kubeflow/mpi-operator at v0.8.0 (commit 101db144e019e1de65aaded07745e9d805c2852a; tests/test_mpi.py
cites them): deploy/v2beta1/mpi-operator.yaml (the ClusterRole, the controller's args); cmd/mpi-operator/app/server.go
(`/healthz` on port 8080, the leader-election Lease `mpi-operator` in --lock-namespace); pkg/controller/
mpi_job_controller.go (the operator creates Secret `<job>-ssh` and mounts it at spec.sshAuthMountPath in the first
container; a worker without a command runs `/usr/sbin/sshd -De`; the launcher's GPUs are hidden with an empty
NVIDIA_VISIBLE_DEVICES); build/base/Dockerfile (user mpiuser, uid 1000, sshd on port 2222 with
/home/mpiuser/.sshd_config, and `setcap CAP_NET_BIND_SERVICE=+eip /usr/sbin/sshd`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from infra.config.accelerators import EFA_RESOURCE, GPU_RESOURCE
from infra.config.base import pinned_image
from infra.config.mpi import DEFAULT_IMAGE
from infra.documents.crd import validate_custom_resource
from infra.documents.dask import ALL_VERBS
from infra.documents.pods import restricted_security_context

API_VERSION = "kubeflow.org/v2beta1"
OPERATOR_IMAGE = DEFAULT_IMAGE
HEALTH_PORT = 8080  # server.go healthCheckPort: fixed, no flag
MPI_UID = 1000  # mpiuser in the mpi-operator base image (useradd -m: the first user, 1000)
SSH_DIR = "/home/mpiuser/.ssh"  # examples/v2beta1/pi: the non-root sshAuthMountPath
SSHD = ["/usr/sbin/sshd", "-De", "-f", "/home/mpiuser/.sshd_config"]  # examples/v2beta1/pi worker command
# Small, so it fits beside a worker on the pool's nodes and never starts a GPU node of its own.
LAUNCHER_RESOURCES = {"cpu": "500m", "memory": "1Gi"}
# NCCL's shared-memory transport needs more than the container runtime's 64 MiB /dev/shm (NCCL user guide,
# Troubleshooting, Docker: --shm-size=1g); a memory-backed emptyDir counts against the worker's memory limit.
SHM_SIZE = "1Gi"
# What the ExtendedResourceToleration admission plugin (on in EKS) adds to a pod requesting nvidia.com/gpu;
# written out so the launcher, which requests no GPU, may share the GPU pool with its workers.
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
DNS_1035_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
USER_ROLE_LABELS = {
    # kubernetes.io/docs/reference/access-authn-authz/rbac/ (Aggregated ClusterRoles; Default roles): the
    # built-in admin, edit and view ClusterRoles take in the rules of ClusterRoles with these labels.
    "edit": {"rbac.authorization.k8s.io/aggregate-to-edit": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true"},
    "view": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
}


def operator_rules() -> list[dict[str, Any]]:
    """The operator's ClusterRole: upstream's `mpi-operator` ClusterRole, every rule, with `*` written out.

    Not trimmed: v0.8.0's code calls neither pods/exec, endpoints nor customresourcedefinitions (left over from
    the v1 controller), and the gang-scheduling groups only with --gang-scheduling, but upstream releases and
    tests the controller with exactly this set; a rule we dropped would surface only as a Forbidden in a code
    path nobody here exercised. The test compares it with upstream's, rule by rule."""
    return [
        {"apiGroups": [""], "resources": ["configmaps", "secrets", "services"], "verbs": ["create", "list", "watch", "update"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete", "update", "patch"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["create", "get", "update"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list", "update", "watch"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create", "get"]},
        {"apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/finalizers", "mpijobs/status"],
         "verbs": list(ALL_VERBS)},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": list(ALL_VERBS)},
        {"apiGroups": ["scheduling.incubator.k8s.io", "scheduling.sigs.dev", "scheduling.volcano.sh"],
         "resources": ["queues", "podgroups"], "verbs": list(ALL_VERBS)},
        {"apiGroups": ["scheduling.x-k8s.io"], "resources": ["podgroups"], "verbs": list(ALL_VERBS)},
        {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list", "watch"]},
    ]


def operator_args(namespace: str) -> list[str]:
    """Upstream's args with our namespace for the Lease; no --namespace, so it serves MPIJobs in every namespace."""
    return ["-alsologtostderr", f"--lock-namespace={namespace}"]


def user_rules(access: Literal["edit", "view"]) -> list[dict[str, Any]]:
    """MPIJob rights aggregated into the built-in edit (and admin) or view role: upstream's kubeflow-mpijobs-*."""
    verbs = ["get", "list", "watch"] + (["create", "delete", "deletecollection", "patch", "update"] if access == "edit" else [])
    return [{"apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/status"], "verbs": verbs}]


def job_security_context(sshd: bool) -> dict[str, Any]:
    """Restricted, as uid 1000; sshd's file capability needs NET_BIND_SERVICE in the bounding set or exec fails.

    The root file system stays writable: sshd writes its pid file to /home/mpiuser (the base image's
    .sshd_config), mpirun its session directory to /tmp, training code its checkpoints (restricted allows it)."""
    sc = {**restricted_security_context(MPI_UID), "readOnlyRootFilesystem": False}
    if sshd:
        sc["capabilities"] = {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}  # the one capability restricted allows
    return sc


def _pod(pool: str, container: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A job pod on the pool, tolerating its GPU taint, without an API token (MPI needs none)."""
    return {"template": {"spec": {
        "automountServiceAccountToken": False,
        "nodeSelector": {"cloudviper.io/pool": pool},
        "tolerations": [dict(GPU_TOLERATION)],
        "securityContext": {"runAsNonRoot": True, "runAsUser": MPI_UID, "runAsGroup": MPI_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        **extra,
    }}}


def mpirun(ranks: int, command: list[str]) -> list[str]:
    """The launcher's command: examples/v2beta1/tensorflow-benchmarks' mpirun, without --allow-run-as-root."""
    return ["mpirun", "-np", str(ranks), "-bind-to", "none", "-map-by", "slot",
            "-x", "NCCL_DEBUG=INFO", "-x", "LD_LIBRARY_PATH", "-x", "PATH",
            "-mca", "pml", "ob1", "-mca", "btl", "^openib", *command]


def mpi_job(name: str, namespace: str, image: str, workers: int, gpus_per_worker: int, slots_per_worker: int,
            command: list[str], pool: str, efa: int = 0, *, cpu: str = "2", memory: str = "8Gi") -> dict[str, Any]:
    """An MPIJob: one launcher running mpirun over `workers` sshd workers with GPUs, validated against the CRD."""
    if workers < 1 or gpus_per_worker < 1 or slots_per_worker < 1 or efa < 0 or not command:
        raise ValueError("workers, gpusPerWorker and slotsPerWorker must be at least 1, efa at least 0, command given")
    if not DNS_1035_RE.match(f"{name}-worker-{workers - 1}"):  # pkg/apis/kubeflow/validation validateMPIJobName
        raise ValueError(f"{name}-worker-{workers - 1} (a worker's hostname) is not a DNS-1035 label")
    try:
        pinned_image(image)
    except ValueError as exc:
        raise ValueError(f"image {image} {exc}") from None
    devices = {GPU_RESOURCE: str(gpus_per_worker), **({EFA_RESOURCE: str(efa)} if efa else {})}
    worker_resources = {"cpu": cpu, "memory": memory, **devices}
    launcher = {"name": "launcher", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": mpirun(workers * slots_per_worker, command),
                "resources": {"requests": dict(LAUNCHER_RESOURCES), "limits": dict(LAUNCHER_RESOURCES)},
                "securityContext": job_security_context(sshd=False)}
    worker = {"name": "worker", "image": image, "imagePullPolicy": "IfNotPresent", "command": SSHD[:1], "args": SSHD[1:],
              "resources": {"requests": dict(worker_resources), "limits": dict(worker_resources)},
              "securityContext": job_security_context(sshd=True),
              "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}]}
    obj = {
        "apiVersion": API_VERSION, "kind": "MPIJob", "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "slotsPerWorker": slots_per_worker,
            "sshAuthMountPath": SSH_DIR,
            "mpiImplementation": "OpenMPI",
            # the launcher starts once every worker runs sshd, not while large GPU images are still pulling
            "launcherCreationPolicy": "WaitForWorkersReady",
            "runPolicy": {"cleanPodPolicy": "Running"},
            "mpiReplicaSpecs": {
                "Launcher": {"replicas": 1, **_pod(pool, launcher)},
                "Worker": {"replicas": workers, **_pod(pool, worker, volumes=[
                    {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}}])},
            },
        },
    }
    validate_custom_resource(obj)  # crd.unknown_fields descends into the mpiReplicaSpecs map too
    return obj
