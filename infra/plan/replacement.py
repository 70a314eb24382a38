"""Which input changes make the engine replace a resource, and which resources hold data.

AWS (pulumi-aws 7.51.1 bridges terraform-provider-aws v6; each argument below is `ForceNew: true` there,
and v6's per-resource `region` forces replacement too: internal/provider/sdkv2/region.go
forceNewIfRegionChanges):
- aws_s3_bucket, internal/service/s3/bucket.go: bucket, bucket_prefix, object_lock_enabled (and the
  deprecated object_lock_configuration.object_lock_enabled), bucket_namespace
- aws_kms_key, internal/service/kms/key.go: custom_key_store_id, customer_master_key_spec, key_usage,
  multi_region, xks_key_id
- aws_vpc, internal/service/ec2/vpc_.go: cidr_block, ipv4_ipam_pool_id, ipv4_netmask_length; its
  CustomizeDiff also replaces on instance_tenancy changes
- aws_subnet, internal/service/ec2/vpc_subnet.go: availability_zone(_id), cidr_block, ipv4/ipv6 IPAM pool
  and netmask, ipv6_native, outpost_arn, vpc_id
- aws_ebs_volume, internal/service/ec2/ebs_volume.go: availability_zone, encrypted, kms_key_id,
  multi_attach_enabled, outpost_arn, snapshot_id
Other AWS types are not in the table: their changes show as updates.

Kubernetes (pulumi/pulumi-kubernetes provider/pkg/provider/diff.go forceNewProperties; provider.go Diff):
metadata.name and metadata.namespace for every kind, plus the per-kind fields below. ConfigMap data and
Secret data replace because the stack's provider leaves enableConfigMapMutable / enableSecretMutable off.
Helm releases replace on name and namespace only (provider/pkg/provider/helm_release.go).

A resource's own `replaceOnChanges` option replaces it on those paths too (Pulumi resource options).
"""

from __future__ import annotations

import re
from typing import Any

REGION = ("region",)
AWS_REPLACE = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled", "objectLockConfiguration.objectLockEnabled",
                             "bucketNamespace", *REGION),
    "aws:kms/key:Key": ("customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId", *REGION),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength", "instanceTenancy", *REGION),
    "aws:ec2/subnet:Subnet": ("availabilityZone", "availabilityZoneId", "cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength",
                              "ipv6IpamPoolId", "ipv6Native", "ipv6NetmaskLength", "outpostArn", "vpcId", *REGION),
    "aws:ebs/volume:Volume": ("availabilityZone", "encrypted", "kmsKeyId", "multiAttachEnabled", "outpostArn",
                              "snapshotId", *REGION),
}
K8S_ALWAYS = ("metadata.name", "metadata.namespace")
SELECTOR = ("spec.selector",)
K8S_REPLACE = {
    "core/v1:PersistentVolumeClaim": ("spec.accessModes", *SELECTOR, "spec.storageClassName", "spec.volumeName"),
    "apps/v1:StatefulSet": ("spec.podManagementPolicy", "spec.revisionHistoryLimit", *SELECTOR, "spec.serviceName",
                            "spec.volumeClaimTemplates"),
    "apps/v1:Deployment": SELECTOR,
    "apps/v1:DaemonSet": SELECTOR,
    "batch/v1:Job": ("spec.completions", "spec.parallelism", *SELECTOR, "spec.template"),
    "core/v1:Service": ("spec.clusterIP",),
    "core/v1:ConfigMap": ("data", "binaryData"),
    "core/v1:Secret": ("type", "stringData", "data"),
    "storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
    "rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
}
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# What is lost when one of these goes; the VPC and subnets take every node, endpoint and address with them.
DATA_BEARING = {
    "aws:s3/bucket:Bucket": "S3 bucket (its objects)",
    "aws:kms/key:Key": "KMS key (everything encrypted with it becomes unreadable once the key is deleted)",
    "aws:ebs/volume:Volume": "EBS volume (its data)",
    "kubernetes:core/v1:PersistentVolumeClaim": "PersistentVolumeClaim (its volume, unless the class retains it)",
    "aws:ec2/vpc:Vpc": "VPC (the cluster's network: every node, endpoint and address in it)",
    "aws:ec2/subnet:Subnet": "subnet (every node and address in it)",
}


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _pattern(spec: str) -> re.Pattern[str]:
    parts = [r"[^.\[\]]+" if p == "*" else re.escape(p) for p in re.split(r"(\*)", spec) if p]
    return re.compile("".join(parts) + r"(?:[.\[].*)?$")


def replace_paths(res: dict[str, Any]) -> tuple[str, ...]:
    """The input paths whose change replaces this resource."""
    typ = res["type"]
    if typ == HELM_RELEASE:
        return ("name", "namespace")
    if typ.startswith("kubernetes:"):  # Patch kinds replace on name and namespace too (provider.go Diff)
        return (*K8S_ALWAYS, *(() if typ.endswith("Patch") else K8S_REPLACE.get(typ.split(":", 1)[1], ())))
    return AWS_REPLACE.get(typ, ())


def forces_replacement(res: dict[str, Any], paths: list[str], old: Any = None) -> list[str]:
    """The changed input paths (of `paths`) that force replacing `res` (`old`: its inputs before the change)."""
    fixed = replace_paths(res)
    patterns = [_pattern(p) for p in res.get("options", {}).get("replaceOnChanges", [])]
    found = [p for p in paths if any(_under(p, f) for f in fixed) or any(rx.match(p) for rx in patterns)]
    if res["type"] == "aws:ec2/vpc:Vpc" and "instanceTenancy" in found and (old or {}).get("instanceTenancy") == \
            "dedicated" and (res.get("inputs") or {}).get("instanceTenancy") == "default":
        found.remove("instanceTenancy")  # vpc_.go resourceVPCCustomizeDiff: dedicated -> default is in place
    return found
