"""Dask config: a spot-safe, adaptive Dask cluster (dask-kubernetes operator), its users and JupyterLab.

The default image serves the scheduler, the workers and JupyterLab alike, so all three (and the
client, requirements-dask.txt) run one Python and one dask/distributed version, with s3fs for the
stack's buckets: pangeo/pangeo-notebook:2026.01.30 (Python 3.12, dask/distributed 2026.1.1, s3fs
2026.1.0, boto3 1.40.70, pyarrow 22.0.0; pangeo-data/pangeo-docker-images packages.txt @2026.01.30).
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, byte_size, dns_label, pinned_image, quantity
from infra.config.dask_gpu import DaskGpuWorkersConfig
from infra.config.namespaces import QuotaConfig

DEFAULT_IMAGE = "pangeo/pangeo-notebook:2026.01.30"
IMAGE_UID = IMAGE_GID = 1000  # the Pangeo images' user: jovyan, uid 1000, gid 1000 (base-image/Dockerfile)


class DaskWorkersConfig(Model):
    """Dask workers: adaptive between minimum and maximum, threads and memory limit from their resources."""

    minimum: int = Field(0, ge=0, le=10000, description="Fewest workers; 0 lets the workers' nodes go when idle.")
    maximum: int = Field(2, ge=1, le=10000, description="Most workers the scheduler's adaptive target may ask for.")
    cores: int = Field(2, ge=1, le=512, description="CPU limit per worker in cores; also its --nthreads.")
    cpu_request: Optional[str] = Field(
        None, description="CPU request if lower than cores (e.g. 7500m so 8 threads fit an 8-core node after reserves).")
    memory: str = Field("8Gi", description="Memory per worker (request = limit); also its --memory-limit.")
    spill: str = Field("20Gi", description="Local disk per worker for spilled data (an emptyDir of this size, requested "
                                           "as ephemeral storage; on NVMe where the pool has instance store).")
    pool: Optional[str] = Field(None, description="Node group to run on (default: the first worker pool).")
    federated: bool = Field(False, description="Elect the workers for Admiralty, so they may run in federated clusters.")
    allow_on_demand: bool = Field(False, description="Accept a pool that runs the workers on on-demand capacity (spot: "
                                                     "false, or an onDemandBase covering every node they need); off: "
                                                     "refused, the workers run on spot.")

    _m = field_validator("memory")(classmethod(lambda cls, v: byte_size(v, "256Mi")))
    # below 1Gi a worker's own files (HOME and the worker's directory share the volume) leave no room to spill
    _s = field_validator("spill")(classmethod(lambda cls, v: byte_size(v, "1Gi")))
    _r = field_validator("cpu_request")(classmethod(lambda cls, v: v if v is None else quantity(v)))

    @model_validator(mode="before")
    @classmethod
    def _replicas(cls, data: object) -> object:
        if isinstance(data, dict) and "replicas" in data:
            raise ValueError(f"replicas ({data['replicas']}) is gone: workers are adaptive now; set minimum (fewest, "
                             "0 lets idle nodes go) and maximum (most) instead")
        return data

    @model_validator(mode="after")
    def _range(self) -> DaskWorkersConfig:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) is larger than maximum ({self.maximum})")
        return self


class JupyterConfig(Model):
    """An optional JupyterLab next to the scheduler, with a persistent home."""

    enabled: bool = Field(False, description="Run JupyterLab.")
    image: Optional[str] = Field(None, description="Notebook image, pinned; default: the Dask image (same versions).")
    uid: int = Field(IMAGE_UID, ge=1, description="The image's user id (Pangeo and Jupyter images: 1000).")
    gid: int = Field(IMAGE_GID, ge=1, description="The image's group id (Pangeo: 1000; jupyter/docker-stacks: 100).")
    cpu: str = Field("1", description="CPU for the notebook.")
    memory: str = Field("4Gi", description="Memory for the notebook (request = limit).")
    home: str = Field("10Gi", description="Size of the persistent, encrypted gp3 home volume (/home/jovyan), kept on "
                                          "`pulumi destroy`; 0 for none (notebooks then live until the pod restarts).")
    idle_minutes: int = Field(60, ge=0, le=10080, description="Scale JupyterLab to zero after this long without "
                                                             "activity, so a forgotten notebook frees its node; 0: never.")
    token_secret_value: str = Field("jupyterToken", description="Name of the token in cloudviper:secretValues.")

    _q = field_validator("cpu")(classmethod(lambda cls, v: quantity(v)))
    _m = field_validator("memory")(classmethod(lambda cls, v: byte_size(v, "256Mi")))
    _h = field_validator("home")(classmethod(lambda cls, v: v if v == "0" else byte_size(v, "1Gi")))
    _i = field_validator("image")(classmethod(lambda cls, v: v if v is None else pinned_image(v)))

    @property
    def keeps_home(self) -> bool:
        """Whether the notebook's home is a persistent volume."""
        return self.enabled and self.home != "0"


class DaskUserConfig(Model):
    """Who may connect a Client to the scheduler (port-forward) and change the autoscaler's range."""

    group: Optional[str] = Field(None, description="Kubernetes group (from cluster.accessEntries[].groups).")
    user: Optional[str] = Field(None, description="Or a Kubernetes user name.")

    @model_validator(mode="after")
    def _subject(self) -> DaskUserConfig:
        if (self.group is None) == (self.user is None):
            raise ValueError("set exactly one of group or user")
        return self


class DaskConfig(Model):
    """A spot-safe Dask cluster: scheduler on on-demand capacity, adaptive workers on spot, S3 through IRSA."""

    namespace: str = Field("dask", description="Namespace created for Dask.")
    image: str = Field(DEFAULT_IMAGE, description="Scheduler, worker (and default JupyterLab) image, pinned by version; "
                                                  "`ecr:<tag>` names an image in the stack's own repository.")
    image_repository: bool = Field(False, description="Create an ECR repository for the project's own image "
                                                      "(README 'Your own Dask image').")
    scheduler_cpu: str = Field("1", description="Scheduler CPU.")
    scheduler_memory: str = Field("4Gi", description="Scheduler memory (request = limit).")
    scheduler_pool: Optional[str] = Field(None, description="Node group for the scheduler (default: the first scheduler pool, else system).")
    workers: DaskWorkersConfig = Field(default_factory=lambda: DaskWorkersConfig.model_validate({}), description="Workers.")
    gpu_workers: Optional[DaskGpuWorkersConfig] = Field(
        None, description="dask-cuda workers on a GPU pool, as a second adaptive cluster `dask-gpu` (README 'Dask on GPUs').")
    jupyter: JupyterConfig = Field(default_factory=lambda: JupyterConfig.model_validate({}), description="JupyterLab.")
    users: list[DaskUserConfig] = Field(default_factory=list, description="Who may port-forward to the scheduler and "
                                                                          "dashboard and change the workers' range.")
    client_namespaces: list[str] = Field(default_factory=list, description="Namespaces whose pods may connect a Client "
                                                                           "to the scheduler.")
    quota: Optional[QuotaConfig] = Field(
        None, description="Resource budget of the namespace; default: what the scheduler, JupyterLab and `maximum` "
                          "workers request, plus room to replace 10 %.")
    termination_grace_seconds: int = Field(
        100, ge=10, le=115, description="Time a worker has to hand its data over; must fit the 2-minute spot notice.")

    _ns = field_validator("namespace")(classmethod(lambda cls, v: dns_label(v)))
    _q = field_validator("scheduler_cpu")(classmethod(lambda cls, v: quantity(v)))
    _m = field_validator("scheduler_memory")(classmethod(lambda cls, v: byte_size(v, "256Mi")))

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        return v if v.startswith("ecr:") and len(v) > 4 else pinned_image(v)

    @model_validator(mode="after")
    def _own_image(self) -> DaskConfig:
        images = [self.image, self.jupyter.image or ""]
        if any(i.startswith("ecr:") for i in images) and not self.image_repository:
            raise ValueError("an `ecr:<tag>` image needs imageRepository: true (the stack's ECR repository)")
        return self

    @property
    def jupyter_image(self) -> str:
        """JupyterLab's image: its own, else the Dask image."""
        return self.jupyter.image or self.image
