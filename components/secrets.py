"""Kubernetes Secrets filled from encrypted stack config; secret in state, outputs and logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import meta
from infra.config.namespaces import SecretConfig


def secret_data(values: pulumi.Output[dict[str, str]], mapping: dict[str, str]) -> pulumi.Output[dict[str, str]]:
    """{secret key: value} picked from the secret values; stays a secret Output."""
    return pulumi.Output.secret(values.apply(lambda v: {key: v[ref] for key, ref in mapping.items()}))


class ConfigSecrets(pulumi.ComponentResource):
    """One Kubernetes Secret per `cloudviper:secrets` entry."""

    def __init__(self, name: str, secrets: list[SecretConfig], values: pulumi.Output[dict[str, str]],
                 provider: k8s.Provider, depends_on: Sequence[pulumi.Resource] = (),
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:k8s:ConfigSecrets", name, None, opts)
        k = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        for s in secrets:
            k8s.core.v1.Secret(f"{name}-{s.namespace}-{s.name}", metadata=meta(s.name, s.namespace), type=s.type,
                               string_data=secret_data(values, s.values), opts=k)
        self.register_outputs({})
