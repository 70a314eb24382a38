"""MPI config (`cloudviper:mpi`): the Kubeflow MPI operator v0.8.0, so namespace editors can run MPIJobs.

The section is an object; its presence installs the operator (an empty `{}` takes every default).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from infra.config.base import Model, byte_size, pinned_image, quantity
from infra.config.namespaces import own_namespace

# kubeflow/mpi-operator v0.8.0 deploy/v2beta1/mpi-operator.yaml (the release's own image and namespace).
DEFAULT_IMAGE = "mpioperator/mpi-operator:0.8.0"


class MpiConfig(Model):
    """The MPI operator: CRD, controller (cluster-wide, on the system pool) and RBAC for namespace editors."""

    namespace: str = Field("mpi-operator", description="Namespace created for the operator (its leader-election "
                                                      "lease lives there; MPIJobs run in the team namespaces).")
    image: str = Field(DEFAULT_IMAGE, description="Operator image, pinned by version or digest (default: the "
                                                  "v0.8.0 release, whose CRD the stack installs).")
    cpu: str = Field("100m", description="Operator CPU request.")
    cpu_limit: str = Field("500m", description="Operator CPU limit (room for the first full listing at start-up).")
    memory: str = Field("256Mi", description="Operator memory (request = limit); it caches the cluster's pods, "
                                             "Secrets, ConfigMaps and Services, so raise it on large clusters.")

    _i = field_validator("image")(classmethod(lambda cls, v: pinned_image(v)))
    _q = field_validator("cpu", "cpu_limit")(classmethod(lambda cls, v: quantity(v)))
    _m = field_validator("memory")(classmethod(lambda cls, v: byte_size(v, "64Mi")))

    _ns = field_validator("namespace")(classmethod(lambda cls, v: own_namespace(v)))
