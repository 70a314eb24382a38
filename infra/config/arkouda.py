"""Arkouda config: a Chapel multi-locale server (locale pods first, then the server that SSHes into them)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from infra.config.base import Model, byte_size, dns_label, pinned_image, quantity
from infra.config.namespaces import QuotaConfig


class ArkoudaPersistenceConfig(Model):
    """Where Arkouda saves arrays."""

    kind: Literal["none", "pvc", "s3"] = Field("none", description="none, a PersistentVolumeClaim (EBS gp3), or the stack's S3 buckets through IRSA.")
    size: str = Field("100Gi", description="PVC size (kind pvc).")

    _q = field_validator("size")(classmethod(lambda cls, v: quantity(v)))


class ArkoudaConfig(Model):
    """An Arkouda (Chapel) multi-locale server: locale pods first, then the server that SSHes into them."""

    namespace: str = Field("arkouda", description="Namespace created for Arkouda.")
    image: str = Field("bearsrus/arkouda-udp-server:v2024.04.19",
                       description="Image for the server and the locales (upstream runs both from arkouda-udp-server), "
                                   "pinned by version; a build of your own must keep the image's contract (README).")
    locales: int = Field(2, ge=1, le=512, description="Number of locale pods (Chapel locales).")
    threads_per_locale: int = Field(4, ge=1, le=512, description="CPU cores per locale (request = limit).")
    memory_per_locale: str = Field("16Gi", description="Memory per locale (request = limit).")
    server_port: int = Field(5555, ge=1024, le=65535, description="Port clients connect to (ak.connect).")
    metrics_port: int = Field(5556, ge=1024, le=65535, description="Metrics port (a ZeroMQ socket, not HTTP: with "
                                                                    "monitoring on, an exporter reads it).")
    metrics_exporter_image: str = Field(
        "bearsrus/prometheus-arkouda-exporter:v2024.04.19",
        description="arkouda-contrib's Prometheus exporter (with cloudviper:monitoring), pinned; its tag follows the "
                    "server's.")
    authentication: bool = Field(True, description="Clients need the server's token.")
    persistence: ArkoudaPersistenceConfig = Field(default_factory=lambda: ArkoudaPersistenceConfig.model_validate({}),
                                                  description="Where arrays are saved.")
    pool: Optional[str] = Field(None, description="Node group for the locales and server (default: the first compute pool).")

    quota: Optional[QuotaConfig] = Field(
        None, description="Resource budget of the namespace; default: what the locales and the server request.")

    _pinned = field_validator("image", "metrics_exporter_image")(classmethod(lambda cls, v: pinned_image(v)))

    _ns = field_validator("namespace")(classmethod(lambda cls, v: dns_label(v)))
    _q = field_validator("memory_per_locale")(classmethod(lambda cls, v: byte_size(v, "1Gi")))

    @model_validator(mode="after")
    def _ports(self) -> ArkoudaConfig:
        if self.server_port == self.metrics_port:
            raise ValueError("serverPort and metricsPort must differ")
        return self
