"""Workload config: the spot-safe Dask cluster (with JupyterLab) and the Arkouda multi-locale server."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, dns_label, quantity
from infra.config.namespaces import QuotaConfig


class DaskWorkersConfig(Model):
    """Dask workers: one pod per worker, threads and memory limit derived from its resources."""

    replicas: int = Field(2, ge=0, le=10000, description="Worker pods to start with (the Deployment recreates lost ones); "
                                                         "later scaling by kubectl or JupyterLab is kept by `pulumi up`.")
    cores: int = Field(2, ge=1, le=512, description="CPU limit per worker in cores; also its --nthreads.")
    cpu_request: Optional[str] = Field(
        None, description="CPU request if lower than cores (e.g. 7500m so 8 threads fit an 8-core node after reserves).")
    memory: str = Field("8Gi", description="Memory per worker (request = limit); also its --memory-limit.")
    pool: Optional[str] = Field(None, description="Node group to run on (default: the first worker pool).")
    federated: bool = Field(False, description="Elect the workers for Admiralty, so they may run in federated clusters.")

    _q = field_validator("memory")(classmethod(lambda cls, v: quantity(v)))
    _r = field_validator("cpu_request")(classmethod(lambda cls, v: v if v is None else quantity(v)))


class JupyterConfig(Model):
    """An optional JupyterLab next to the scheduler."""

    enabled: bool = Field(False, description="Run JupyterLab.")
    image: str = Field("ghcr.io/dask/dask-notebook:2026.8.0", description="Notebook image, pinned by version.")
    cpu: str = Field("1", description="CPU for the notebook.")
    memory: str = Field("4Gi", description="Memory for the notebook (request = limit).")
    token_secret_value: str = Field("jupyterToken", description="Name of the token in cloudviper:secretValues.")

    _q = field_validator("cpu", "memory")(classmethod(lambda cls, v: quantity(v)))


class DaskConfig(Model):
    """A spot-safe Dask cluster: scheduler on on-demand capacity, workers on spot, S3 through IRSA."""

    namespace: str = Field("dask", description="Namespace created for Dask.")
    image: str = Field("ghcr.io/dask/dask:2026.8.0", description="Scheduler and worker image, pinned by version.")
    scheduler_cpu: str = Field("1", description="Scheduler CPU.")
    scheduler_memory: str = Field("4Gi", description="Scheduler memory (request = limit).")
    scheduler_pool: Optional[str] = Field(None, description="Node group for the scheduler (default: the first scheduler pool, else system).")
    workers: DaskWorkersConfig = Field(default_factory=lambda: DaskWorkersConfig.model_validate({}), description="Workers.")
    jupyter: JupyterConfig = Field(default_factory=lambda: JupyterConfig.model_validate({}), description="JupyterLab.")
    quota: Optional[QuotaConfig] = Field(
        None, description="Resource budget of the namespace; default: what the scheduler, JupyterLab and as many "
                          "workers as the worker pool holds at maxSize request, plus room to replace 10 %.")
    termination_grace_seconds: int = Field(
        100, ge=10, le=115, description="Time a worker has to hand its data over; must fit the 2-minute spot notice.")

    _ns = field_validator("namespace")(classmethod(lambda cls, v: dns_label(v)))
    _q = field_validator("scheduler_cpu", "scheduler_memory")(classmethod(lambda cls, v: quantity(v)))


class ArkoudaPersistenceConfig(Model):
    """Where Arkouda saves arrays."""

    kind: Literal["none", "pvc", "s3"] = Field("none", description="none, a PersistentVolumeClaim (EBS gp3), or the stack's S3 buckets through IRSA.")
    size: str = Field("100Gi", description="PVC size (kind pvc).")

    _q = field_validator("size")(classmethod(lambda cls, v: quantity(v)))


class ArkoudaConfig(Model):
    """An Arkouda (Chapel) multi-locale server: locale pods first, then the server that SSHes into them."""

    namespace: str = Field("arkouda", description="Namespace created for Arkouda.")
    image: str = Field("bearsrus/arkouda-udp-server:v2025.01.13",
                       description="Server image, pinned by version; locales use the matching arkouda-udp-locale image.")
    locales: int = Field(2, ge=1, le=512, description="Number of locale pods (Chapel locales).")
    threads_per_locale: int = Field(4, ge=1, le=512, description="CPU cores per locale (request = limit).")
    memory_per_locale: str = Field("16Gi", description="Memory per locale (request = limit).")
    server_port: int = Field(5555, ge=1024, le=65535, description="Port clients connect to (ak.connect).")
    metrics_port: int = Field(5556, ge=1024, le=65535, description="Metrics port.")
    authentication: bool = Field(True, description="Clients need the server's token.")
    persistence: ArkoudaPersistenceConfig = Field(default_factory=lambda: ArkoudaPersistenceConfig.model_validate({}),
                                                  description="Where arrays are saved.")
    pool: Optional[str] = Field(None, description="Node group for the locales and server (default: the first compute pool).")

    quota: Optional[QuotaConfig] = Field(
        None, description="Resource budget of the namespace; default: what the locales and the server request.")

    _ns = field_validator("namespace")(classmethod(lambda cls, v: dns_label(v)))
    _q = field_validator("memory_per_locale")(classmethod(lambda cls, v: quantity(v)))

    @model_validator(mode="after")
    def _ports(self) -> ArkoudaConfig:
        if self.server_port == self.metrics_port:
            raise ValueError("serverPort and metricsPort must differ")
        return self


def needs_ebs_csi(arkouda: Optional[ArkoudaConfig]) -> bool:
    """Whether a workload asks for EBS volumes, so the stack installs the EBS CSI driver."""
    return arkouda is not None and arkouda.persistence.kind == "pvc"
