"""Service accounts whose IAM role (IRSA) can use only the stack's data buckets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import ControlPlane
from components.k8s_objects import meta
from infra.documents import iam


def s3_service_account(name: str, namespace: str, sa_name: str, control_plane: ControlPlane,
                       bucket_arns: Sequence[pulumi.Input[str]], kms_key_arn: Optional[pulumi.Input[str]],
                       parent: pulumi.Resource, opts: pulumi.ResourceOptions,
                       automount: Optional[bool] = None) -> k8s.core.v1.ServiceAccount:
    """A service account bound by IRSA to a role that can list, read and write only these buckets."""
    policy = None
    if bucket_arns:
        policy = pulumi.Output.all(list(bucket_arns), kms_key_arn).apply(
            lambda v: json.dumps(iam.s3_data_access_policy(v[0], v[1])))
    role = control_plane.irsa_role(f"{name}-{sa_name}", namespace, sa_name, policy=policy, parent=parent)
    return k8s.core.v1.ServiceAccount(f"{name}-{sa_name}-sa", metadata=meta(sa_name, namespace, annotations={
        "eks.amazonaws.com/role-arn": role.arn}), automount_service_account_token=automount,
        opts=opts.merge(pulumi.ResourceOptions(depends_on=role.policies)))
