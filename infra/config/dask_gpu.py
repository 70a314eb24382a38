"""Dask on GPUs: dask-cuda workers on a GPU pool, as a second adaptive Dask cluster next to the CPU one.

Why a cluster and not a worker group of the CPU cluster: the operator's DaskAutoscaler scales only the
`<cluster>-default` group (dask-kubernetes 2026.3.0 controller.py daskautoscaler_adapt; docs
operator_resources.rst "The autoscaler will only scale the default WorkerGroup"), and when any group
scales down the scheduler picks the workers to retire from every group (dask/dask-kubernetes#914), so
a GPU group would be neither adaptive nor safe from the CPU group's scale-down. Its own cluster is both.

Default image: rapidsai/base:26.04-cuda12-py3.12 (rapidsai/docker README tag form
`${RAPIDS_VER}-cuda${CUDA_MAJOR}-py${PYTHON_VER}`, matrix.yaml @v26.04.00: CUDA 12.9.1, Python 3.11-3.14).
RAPIDS 26.04 pins dask and distributed 2026.1.1 (rapids-dask-dependency 26.4.0), the versions of the
CPU cluster's image, so one client works with both; dask-cuda 26.04 is the first with --listen-address and
--contact-address (rapidsai/dask-cuda #1618), which the retirement hook needs. It runs as uid 1001
(Dockerfile `useradd ... -g conda -u 1001 rapids`; its group `conda`, made by `groupadd conda` without a number, owns
/opt/conda with mode 770, so the pod sets no group: the runtime then takes the user's groups from the image);
CUDA 12 needs NVIDIA driver 535+ (the AL2023 NVIDIA AMI's is newer).
"""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, byte_size, pinned_image, quantity

RMM_SIZE_RE = re.compile(r"^(0?\.\d+|1(\.0+)?|\d+(\.\d+)?\s*(B|[kKMGT]i?B?))$")
DEFAULT_GPU_IMAGE = "rapidsai/base:26.04-cuda12-py3.12"
GPU_IMAGE_UID = 1001
HOST_CACHE_SHARE = 0.8  # of the worker's memory: dask-cuda's host cache, which spills to disk when full


class DaskGpuWorkersConfig(Model):
    """dask-cuda workers, one GPU each, adaptive between minimum and maximum, with their own scheduler."""

    pool: Optional[str] = Field(None, description="GPU node group to run on (default: the first pool with gpu: true).")
    image: str = Field(DEFAULT_GPU_IMAGE, description="Worker image with dask-cuda, pinned; its dask and distributed must "
                                                      "equal the scheduler image's (the default's do: 2026.1.1).")
    minimum: int = Field(0, ge=0, le=1000, description="Fewest GPU workers; 0 lets the GPU nodes go when idle.")
    maximum: int = Field(2, ge=1, le=1000, description="Most GPU workers (one GPU each).")
    cores: int = Field(4, ge=1, le=192, description="CPU limit per worker in cores (data loading, host-side work).")
    cpu_request: Optional[str] = Field(None, description="CPU request if lower than cores.")
    memory: str = Field("24Gi", description="Host memory per worker (request = limit); 80 % of it is dask-cuda's host "
                                            "cache (--memory-limit), which spills to disk when full.")
    threads: int = Field(1, ge=1, le=64, description="Threads per worker (dask-cuda's default is 1 per GPU).")
    rmm_pool_size: Optional[str] = Field(None, description="RMM pool per worker, e.g. 20GB (dask-cuda --rmm-pool-size); "
                                                           "default: none (allocate on demand).")
    spill: str = Field("50Gi", description="Local disk per worker for spilled data (dask-cuda does not cap its disk "
                                           "spill: past this size the kubelet evicts the worker).")
    allow_on_demand: bool = Field(False, description="Accept a GPU pool that runs the workers on on-demand capacity "
                                                     "(spot: false, or an onDemandBase of at least maximum); off: refused.")

    _m = field_validator("memory")(classmethod(lambda cls, v: byte_size(v, "1Gi")))
    _s = field_validator("spill")(classmethod(lambda cls, v: byte_size(v, "1Gi")))
    _r = field_validator("cpu_request")(classmethod(lambda cls, v: v if v is None else quantity(v)))
    _i = field_validator("image")(classmethod(lambda cls, v: pinned_image(v)))

    @field_validator("rmm_pool_size")
    @classmethod
    def _rmm(cls, v: Optional[str]) -> Optional[str]:
        # dask-cuda parses it with dask.utils.parse_bytes, or as a fraction of the GPU's memory (dask_cuda/utils.py
        # parse_device_memory_limit)
        if v is not None and not RMM_SIZE_RE.match(v):
            raise ValueError("is not a size: a number with a byte unit (20GB, 16GiB) or a fraction of the GPU's "
                             "memory (0.9)")
        return v

    @model_validator(mode="after")
    def _range(self) -> DaskGpuWorkersConfig:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) is larger than maximum ({self.maximum})")
        return self
