"""Monitoring config (`cloudviper:monitoring`): Prometheus, Grafana and OpenCost on the system pool.

The section is an object; its presence installs monitoring (an empty `{}` takes every default).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import Field, field_validator

from infra.config.base import Model, byte_size, quantity
from infra.config.errors import key_path, render_value
from infra.config.namespaces import own_namespace

# Prometheus durations (prometheus/common model.ParseDuration): a number and a unit, e.g. 15d, 12h, 4w.
DURATION_RE = re.compile(r"^[1-9]\d*(ms|s|m|h|d|w|y)$")
S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def duration(v: str) -> str:
    """The value, if Prometheus reads it as a duration."""
    if not DURATION_RE.match(v):
        raise ValueError("is not a Prometheus duration, e.g. 30s, 12h, 15d, 4w")
    return v


class SpotFeedConfig(Model):
    """The account's EC2 Spot Instance Data Feed (one per account, created outside the stack), for OpenCost."""

    bucket: str = Field(description="Bucket the feed writes to.")
    prefix: str = Field("", description="Key prefix the feed writes under (none by default).")
    region: Optional[str] = Field(None, description="The bucket's region (default: the stack's).")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if not S3_BUCKET_RE.match(v):
            raise ValueError("is not an S3 bucket name")
        return v


class MonitoringUser(Model):
    """A Kubernetes group that may port-forward to Grafana."""

    group: str = Field(min_length=1, description="Kubernetes group (bound by RBAC).")


class MonitoringConfig(Model):
    """Prometheus (kube-prometheus-stack), Grafana with cloudviper's dashboards, and OpenCost."""

    namespace: str = Field("monitoring", description="Namespace created for Prometheus, Grafana and OpenCost.")
    retention: str = Field("15d", description="How long Prometheus keeps samples.")
    storage: str = Field("50Gi", description="Prometheus volume (gp3, kept after destroy); Prometheus deletes the "
                                             "oldest blocks beyond 85% of it.")
    scrape_interval: str = Field("30s", description="How often every target is scraped.")
    prometheus_cpu: str = Field("500m", description="Prometheus CPU request.")
    prometheus_memory: str = Field("2Gi", description="Prometheus memory (request = limit).")
    opencost: bool = Field(True, description="Run OpenCost (cost per namespace and workload, from AWS prices).")
    spot_data_feed: Optional[SpotFeedConfig] = Field(None, description="The account's spot data feed, so OpenCost "
                                                                       "prices spot nodes at what was billed.")
    users: list[MonitoringUser] = Field(default_factory=list, description="Groups that may port-forward to "
                                                                          "Grafana (cluster admins always can).")

    _ns = field_validator("namespace")(classmethod(lambda cls, v: own_namespace(v)))
    _d = field_validator("retention", "scrape_interval")(classmethod(lambda cls, v: duration(v)))
    _q = field_validator("prometheus_cpu")(classmethod(lambda cls, v: quantity(v)))
    _m = field_validator("prometheus_memory")(classmethod(lambda cls, v: byte_size(v, "512Mi")))
    _s = field_validator("storage")(classmethod(lambda cls, v: byte_size(v, "10Gi")))


def monitoring_problems(project: str, values: dict[str, Any]) -> list[str]:
    """Monitoring needs a cluster, and a namespace no other section uses."""
    mon = values.get("monitoring")
    if not isinstance(mon, MonitoringConfig):
        return []
    if values.get("cluster") is None:
        return [f"{project}:monitoring: needs a cluster; add {project}:cluster (and a system node group) or remove "
                "the section"]
    taken = {n.name: "namespaces" for n in values.get("namespaces") or []}
    for section in ("dask", "arkouda", "mpi"):
        ns = getattr(values.get(section), "namespace", None)
        if ns:
            taken[ns] = section
    if mon.namespace in taken:
        return [f"{key_path(project, 'monitoring', ('namespace',))}: {render_value(mon.namespace)} is already the "
                f"namespace of {project}:{taken[mon.namespace]}; monitoring needs one of its own"]
    return []
