"""Self-managed node groups: launch template + Auto Scaling group with spot, scale from zero, nodeadm join."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.control_plane import ControlPlane
from infra.config.pools import NodeGroupConfig
from infra.documents import iam, termination
from infra.documents.userdata import ClusterJoin, render_user_data

NODE_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"


class NodeRole(pulumi.ComponentResource):
    """The IAM role and instance profile every node uses, authorized to join the cluster."""

    def __init__(self, name: str, control_plane: ControlPlane, name_prefix: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:cluster:NodeRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps(iam.service_trust("ec2.amazonaws.com")),
                                 tags={"Name": f"{name_prefix}-nodes"}, opts=child)
        for arn in iam.NODE_MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(f"{name}-{arn.rsplit('/', 1)[-1]}", role=self.role.name, policy_arn=arn, opts=child)
        self.profile = aws.iam.InstanceProfile(f"{name}-profile", role=self.role.name,
                                               tags={"Name": f"{name_prefix}-nodes"}, opts=child)
        self.access = control_plane.authorize_nodes(f"{name}-access", self.role)
        self.register_outputs({"roleArn": self.role.arn})


def asg_tags(cfg: NodeGroupConfig, cluster_name: str, stack_tags: dict[str, str], name: str) -> list[dict]:
    """ASG tags: cost tags (provider default tags skip ASGs), autoscaler discovery and scale-from-zero templates."""
    tags: dict[str, tuple[str, bool]] = {k: (v, True) for k, v in stack_tags.items()}
    tags["Name"] = (name, True)
    tags[f"kubernetes.io/cluster/{cluster_name}"] = ("owned", True)
    tags["cloudviper.io/pool-role"] = (cfg.role, False)
    tags["k8s.io/cluster-autoscaler/enabled"] = ("true", False)
    tags[f"k8s.io/cluster-autoscaler/{cluster_name}"] = ("owned", False)
    # NTH reads this key from the instance, not the group: it must propagate at launch.
    tags[termination.managed_tag(cluster_name)] = ("true", True)
    for key, value in cfg.all_labels.items():
        tags[f"{NODE_TEMPLATE}/label/{key}"] = (value, False)
    for t in cfg.all_taints:
        tags[f"{NODE_TEMPLATE}/taint/{t.key}"] = (f"{t.value}:{t.effect}", False)
    return [{"key": k, "value": v, "propagate_at_launch": p} for k, (v, p) in tags.items()]


def user_data_for(cfg: NodeGroupConfig, join: ClusterJoin) -> str:
    """Base64 MIME user data that joins a node with this group's labels and taints."""
    text = render_user_data(join, cfg.all_labels, [(t.key, t.value, t.effect) for t in cfg.all_taints])
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class NodeGroupArgs:
    """What a node group is built from."""

    config: NodeGroupConfig
    control_plane: ControlPlane
    node_role: NodeRole
    subnet_ids: Sequence[pulumi.Input[str]]
    name_prefix: str
    cluster_name: str
    stack_tags: dict[str, str]


class NodeGroup(pulumi.ComponentResource):
    """One pool of nodes of one shape, scaled by the Cluster Autoscaler from minSize (possibly 0)."""

    def __init__(self, name: str, args: NodeGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:cluster:NodeGroup", name, None, opts)
        cfg, cp = args.config, args.control_plane
        child = pulumi.ResourceOptions(parent=self)
        full = f"{args.name_prefix}-{cfg.name}"
        ami = aws.ssm.get_parameter_output(name=cp.ami_parameter(cfg.arch, cfg.gpu),
                                           opts=pulumi.InvokeOutputOptions(parent=self))
        instance_tags = {**args.stack_tags, "Name": full}
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name=full,
            image_id=ami.value,
            user_data=cp.join.apply(lambda join: user_data_for(cfg, join)),
            iam_instance_profile={"arn": args.node_role.profile.arn},
            vpc_security_group_ids=[cp.node_security_group_id],
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 2},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": cfg.volume_size_gb, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}}],
            cpu_options={"threads_per_core": 1} if cfg.disable_smt else None,
            tag_specifications=[{"resource_type": r, "tags": instance_tags} for r in ("instance", "volume", "network-interface")],
            update_default_version=True,
            tags={"Name": full},
            opts=child,
        )
        self.group = aws.autoscaling.Group(
            f"{name}-asg",
            name=full,
            min_size=cfg.min_size,
            max_size=cfg.max_size,
            vpc_zone_identifiers=list(args.subnet_ids),
            capacity_rebalance=cfg.spot,
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": cfg.on_demand_base,
                    "on_demand_percentage_above_base_capacity": 0 if cfg.spot else 100,
                    "spot_allocation_strategy": "price-capacity-optimized",
                },
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": self.launch_template.id, "version": "$Latest"},
                    "overrides": [{"instance_type": t} for t in cfg.instance_types],
                },
            },
            tags=asg_tags(cfg, args.cluster_name, args.stack_tags, full),
            # The Cluster Autoscaler owns the desired size; `pulumi up` must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"], depends_on=[args.node_role.access]),
        )
        self.group_arns: dict[str, pulumi.Output[str]] = {full: self.group.arn}
        self.register_outputs({"autoScalingGroupName": self.group.name})
