"""Self-managed node groups: launch template + Auto Scaling group with spot, scale from zero, nodeadm join."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.control_plane import ControlPlane
from infra.config.accelerators import EFA_RESOURCE, GPU_RESOURCE
from infra.config.capacity import IMAGE_ALLOWANCE_GIB, instance_store_gb, node_capacity
from infra.config.placement import zone_label
from infra.config.pools import NodeGroupConfig, zone_split
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
    for resource, amount in template_resources(cfg).items():
        tags[f"{NODE_TEMPLATE}/resources/{resource}"] = (amount, False)
    return [{"key": k, "value": v, "propagate_at_launch": p} for k, (v, p) in tags.items()]


def template_resources(cfg: NodeGroupConfig) -> dict[str, str]:
    """What a node of the group can hold, for the autoscaler's scale-from-zero template.

    Without these the template claims the instance type's default vCPUs (16 for an r5.4xlarge with
    SMT off, which has 8), its whole memory and 110 pods; the autoscaler would then scale up for pods
    that do not fit the node it gets. Values are the kubelet's allocatable (nodeadm's reserves);
    the autoscaler subtracts DaemonSets itself.
    """
    cap = node_capacity(cfg)
    resources = {"cpu": f"{cap.cpu_m}m", "memory": f"{cap.memory_mib}Mi", "pods": str(cap.pods),
                 # the template gets ephemeral storage from this tag only, never from the launch template
                 "ephemeral-storage": f"{int(cap.free_ephemeral_gib)}Gi"}
    # Extended resources the device plugins will advertise, so a pod asking for them scales the group from zero.
    if cfg.gpus_per_node:
        resources[GPU_RESOURCE] = str(cfg.gpus_per_node)
    if cfg.efa_interfaces:
        resources[EFA_RESOURCE] = str(cfg.efa_interfaces)
    return resources


def user_data_for(cfg: NodeGroupConfig, join: ClusterJoin) -> str:
    """Base64 MIME user data that joins a node with this group's labels and taints."""
    text = render_user_data(join, cfg.all_labels, [(t.key, t.value, t.effect) for t in cfg.all_taints],
                            local_storage=instance_store_gb(cfg) > 0, image_reserve_gib=IMAGE_ALLOWANCE_GIB)
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class NodeGroupArgs:
    """What a node group is built from."""

    config: NodeGroupConfig
    control_plane: ControlPlane
    node_role: NodeRole
    zone_subnets: dict[int, pulumi.Input[str]]  # zone index -> private subnet, for the zones the pool uses
    name_prefix: str
    cluster_name: str
    stack_tags: dict[str, str]
    vpc_id: Optional[pulumi.Input[str]] = None  # for the EFA security group


def launch_template_args(cfg: NodeGroupConfig) -> dict[str, Any]:
    """Launch template settings that follow from the pool's config alone."""
    args: dict[str, Any] = {
        # Hop limit 1: only the node itself reaches IMDS; pods use IRSA and cannot borrow the node role.
        "metadata_options": {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        "block_device_mappings": [{"device_name": "/dev/xvda", "ebs": {
            "volume_size": cfg.volume_size_gb, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}}],
    }
    if cfg.disable_smt:  # EC2 needs both values ("Both the core count and threads per core must be specified")
        args["cpu_options"] = {"core_count": cfg.physical_cores, "threads_per_core": 1}
    if cfg.burstable:  # T3 launches "unlimited" by default, which bills sustained CPU beyond the hourly price
        args["credit_specification"] = {"cpu_credits": "standard"}
    return args


def network_args(cfg: NodeGroupConfig, security_groups: list[pulumi.Input[str]]) -> dict[str, Any]:
    """The nodes' security groups; with EFA, one EFA interface per network card instead, the first the primary
    (card 0, device 0), the others at device index 1 (eksctl pkg/cfn/builder/network_interfaces.go). The groups then
    go on the interfaces: EC2 refuses them at the top level next to network interfaces (botocore ec2 model,
    RequestLaunchTemplateData.SecurityGroupIds). The subnet comes from the Auto Scaling group."""
    if not cfg.efa:
        return {"vpc_security_group_ids": security_groups}
    return {"network_interfaces": [
        {"device_index": 0 if card == 0 else 1, "network_card_index": card, "interface_type": "efa",
         "security_groups": security_groups, "delete_on_termination": "true"}
        for card in range(cfg.efa_interfaces)]}


class NodeGroup(pulumi.ComponentResource):
    """One pool of nodes of one shape, scaled by the Cluster Autoscaler from minSize (possibly 0).

    A pool is one Auto Scaling group over its zones, or (perZone) one group per zone with the sizes
    split evenly, which the autoscaler balances (it ignores the zone labels when comparing groups).
    """

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
            image_id=ami.insecure_value,  # a public AMI id: `value` would make it (and every diff) secret
            user_data=cp.join.apply(lambda join: user_data_for(cfg, join)),
            iam_instance_profile={"arn": args.node_role.profile.arn},
            **network_args(cfg, [cp.node_security_group_id, *self._efa_group(name, args, full)]),
            tag_specifications=[{"resource_type": r, "tags": instance_tags} for r in ("instance", "volume", "network-interface")],
            update_default_version=True,
            tags={"Name": full},
            opts=child,
            **launch_template_args(cfg),
        )
        # Cluster placement group: one zone (the config checks), nodes close together for MPI/NCCL traffic.
        self.placement_group = aws.ec2.PlacementGroup(
            f"{name}-pg", name=full, strategy="cluster", tags={"Name": full},  # a fixed name: delete the old one first
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True)) if cfg.uses_placement_group else None
        zones = sorted(args.zone_subnets)
        if cfg.per_zone:
            mins, maxs = zone_split(cfg.min_size, len(zones)), zone_split(cfg.max_size, len(zones))
            bases = zone_split(cfg.on_demand_base, len(zones))
            parts = [(f"{full}-{zone_label(z)}", f"{name}-{zone_label(z)}", [z], lo, hi, base)
                     for z, lo, hi, base in zip(zones, mins, maxs, bases, strict=True)]
        else:
            parts = [(full, name, zones, cfg.min_size, cfg.max_size, cfg.on_demand_base)]
        self.groups = [self._group(args, group, rid, [args.zone_subnets[z] for z in zs], lo, hi, base)
                       for group, rid, zs, lo, hi, base in parts]
        self.group_arns: dict[str, pulumi.Output[str]] = {p[0]: g.arn for p, g in zip(parts, self.groups, strict=True)}
        self.register_outputs({"autoScalingGroupNames": [p[0] for p in parts]})

    def _efa_group(self, name: str, args: NodeGroupArgs, full: str) -> list[pulumi.Output[str]]:
        """EFA's OS bypass needs a security group that allows all traffic to and from itself (EC2 user guide,
        create-efa: "all inbound and outbound traffic to and from the security group itself"); eksctl adds one."""
        if not args.config.efa:
            return []
        if args.vpc_id is None:
            raise ValueError(f"node group {args.config.name}: an EFA pool needs the VPC id for its security group")
        rule = {"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}
        sg = aws.ec2.SecurityGroup(f"{name}-efa", vpc_id=args.vpc_id, description=f"{full}: EFA traffic between its nodes",
                                   ingress=[{**rule, "description": "EFA from the pool"}],
                                   egress=[{**rule, "description": "EFA to the pool"}],
                                   tags={"Name": f"{full}-efa"}, opts=pulumi.ResourceOptions(parent=self))
        return [sg.id]

    def _group(self, args: NodeGroupArgs, group: str, rid: str, subnets: list[pulumi.Input[str]], lo: int, hi: int,
               base: int) -> aws.autoscaling.Group:
        cfg = args.config
        return aws.autoscaling.Group(
            f"{rid}-asg",
            name=group,
            min_size=lo,
            max_size=hi,
            vpc_zone_identifiers=subnets,
            capacity_rebalance=cfg.spot,
            placement_group=self.placement_group.name if self.placement_group else None,
            # The autoscaler decides where nodes go; AZRebalance would terminate busy nodes to even out
            # zones (kubernetes/autoscaler cloudprovider/aws/README.md, "Common Notes and Gotchas").
            suspended_processes=["AZRebalance"],
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": base,
                    "on_demand_percentage_above_base_capacity": 0 if cfg.spot else 100,
                    "spot_allocation_strategy": "price-capacity-optimized",
                },
                "launch_template": {
                    # An explicit version (not $Latest): a new template version is a visible change,
                    # and an instance refresh starts only then.
                    "launch_template_specification": {"launch_template_id": self.launch_template.id,
                                                      "version": self.launch_template.latest_version.apply(str)},
                    "overrides": [{"instance_type": t} for t in cfg.instance_types],
                },
            },
            instance_refresh={"strategy": "Rolling", "preferences": {
                "min_healthy_percentage": 100, "max_healthy_percentage": 200}} if cfg.instance_refresh else None,
            tags=asg_tags(cfg, args.cluster_name, args.stack_tags, group),
            # The Cluster Autoscaler owns the desired size; `pulumi up` must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"], depends_on=[args.node_role.access]),
        )
