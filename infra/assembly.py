"""Stack assembly: one validated StackConfig in, the platform's components wired, outputs out."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.accelerators import DevicePlugins
from components.arkouda import Arkouda, ArkoudaArgs
from components.autoscaler import ClusterAutoscaler
from components.budget import StackBudget
from components.dask import CLUSTER as DASK_CLUSTER
from components.dask import DaskArgs, DaskCluster, DaskFederation
from components.eks import EksArgs, EksControlPlane
from components.federation import AcceptedSources, DaskReach, FederationAddons, FederationTargets, SourceAccess
from components.federation_network import (
    AcceptedPaths,
    FederationPaths,
    OwnNetwork,
    cni_peer_cidrs,
    source_egress,
    stack_references,
)
from components.image_repository import ImageRepository
from components.metrics_server import MetricsServer
from components.monitoring import Monitoring
from components.mpi_operator import MpiOperator
from components.namespaces import TeamNamespaces
from components.network import Network, NetworkArgs
from components.nodegroup import NodeGroup, NodeGroupArgs, NodeRole
from components.rbac import RbacPersonas
from components.secrets import ConfigSecrets
from components.storage import DataBuckets, DataBucketsArgs
from components.termination import NodeTerminationHandler
from infra.config.loader import load_secret_values
from infra.config.placement import arkouda_pool, dask_gpu_pool, dask_scheduler_pool, dask_worker_pool, pool_zones
from infra.config.quotas import arkouda_budget, dask_budget, has_local_delegates
from infra.config.stack import StackConfig
from infra.documents import naming
from infra.documents.budget import monthly_limit
from infra.documents.dask import tolerations
from infra.documents.monitoring import scrape_targets


def build_platform(cfg: StackConfig, max_hourly_usd: float) -> dict[str, Any]:
    """Register every resource of the stack and return its outputs (`max_hourly_usd`: the policy config's cap, which
    the monthly budget is derived from unless the stack sets one)."""
    # One explicit provider: region and cost tags in one place, no silent default provider.
    provider = aws.Provider(
        "aws",
        region=cfg.region,
        default_tags={"tags": naming.stack_tags(cfg)},
    )
    with_aws = pulumi.ResourceOptions(providers={"aws": provider})
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider))

    network = Network(
        "network",
        NetworkArgs(
            config=cfg.network,
            name_prefix=naming.prefix(cfg),
            cluster_name=naming.cluster_name(cfg),
            region=cfg.region,
        ),
        opts=with_aws,
    )
    storage = DataBuckets(
        "data",
        DataBucketsArgs(buckets=list(cfg.buckets), name_prefix=naming.prefix(cfg), account_id=identity.account_id),
        opts=with_aws,
    )
    outputs: dict[str, Any] = {}
    if cfg.budget.enabled:
        limit = monthly_limit(cfg.budget, max_hourly_usd)
        StackBudget("budget", cfg.budget, naming.stack_tags(cfg), naming.prefix(cfg), limit, opts=with_aws)
        outputs["monthlyBudgetUsd"] = limit
    if cfg.cluster is not None:
        outputs.update(build_cluster(cfg, network, storage, with_aws, identity.account_id))
    return {
        **outputs,
        "region": cfg.region,
        "vpcId": network.vpc_id,
        "vpcCidr": cfg.network.cidr,
        "egressCidrs": network.egress_cidrs,
        "availabilityZones": network.zone_names,
        "privateSubnetIds": network.private_subnet_ids,
        "publicSubnetIds": network.public_subnet_ids,
        "dataBuckets": storage.bucket_names,
    }


def build_cluster(cfg: StackConfig, network: Network, storage: DataBuckets,
                  with_aws: pulumi.ResourceOptions, account_id: pulumi.Output[str]) -> dict[str, Any]:
    """Control plane, node groups and the add-ons that scale and drain them."""
    assert cfg.cluster is not None
    name, prefix = naming.cluster_name(cfg), naming.prefix(cfg)
    refs = stack_references(cfg.federation, pulumi.ResourceOptions()) if cfg.federation else {}
    eks = EksControlPlane(
        "eks",
        EksArgs(config=cfg.cluster, cluster_name=name, region=cfg.region, vpc_id=network.vpc_id,
                subnet_ids=network.private_subnet_ids,
                api_peer_cidrs=source_egress(cfg.federation, refs) if cfg.federation else None,
                no_snat_cidrs=cni_peer_cidrs(cfg.federation, refs, cfg.stack) if cfg.federation else None),
        opts=with_aws,
    )
    role = NodeRole("nodes", eks, prefix, opts=with_aws)
    groups = [
        NodeGroup(
            f"pool-{g.name}",
            NodeGroupArgs(config=g, control_plane=eks, node_role=role,
                          zone_subnets={z: network.private_subnet_ids[z] for z in pool_zones(g, cfg.network)},
                          name_prefix=prefix, cluster_name=name, stack_tags=naming.stack_tags(cfg),
                          vpc_id=network.vpc_id),
            opts=with_aws.merge(pulumi.ResourceOptions(depends_on=eks.network_addons)),
        )
        for g in cfg.node_groups
    ]
    # Add-ons and workloads wait for the pools that must be up first: the always-on system
    # pools they run on (worker pools scale from zero and need nothing to wait for).
    system = [grp for g, grp in zip(cfg.node_groups, groups, strict=True) if g.role == "system"]
    eks.install_node_addons(depends_on=list(system))
    addon_opts = with_aws.merge(pulumi.ResourceOptions(depends_on=list(system)))
    ClusterAutoscaler("autoscaler", cfg.cluster.autoscaler, cfg.cluster.autoscaler_image, eks, name, cfg.region,
                      {g.name: list(grp.group_arns) for g, grp in zip(cfg.node_groups, groups, strict=True)},
                      opts=addon_opts)
    DevicePlugins("device-plugins", list(cfg.node_groups), eks.k8s_provider, opts=addon_opts)
    system_pool = next(g for g in cfg.node_groups if g.role == "system")  # the config checks guarantee one
    MetricsServer("metrics-server", cfg.cluster.version, eks.k8s_provider, tolerations(system_pool), opts=addon_opts)
    NodeTerminationHandler("nth", cfg.cluster.termination_handler, eks, name, cfg.region,
                           [n for grp in groups for n in grp.group_arns], prefix,
                           opts=addon_opts)
    paths = None
    if cfg.federation is not None:
        own = OwnNetwork(vpc_id=network.vpc_id, cidr=cfg.network.cidr, private_subnet_ids=network.private_subnet_ids,
                         private_route_table_ids=network.private_route_table_ids, region=cfg.region)
        paths = FederationPaths("federation-paths", cfg.federation, own, eks.node_security_group_id, refs, opts=with_aws)
        AcceptedPaths("federation-accepted", cfg.federation, own, eks.node_security_group_id, refs, cfg.stack,
                      eks.k8s_provider, opts=with_aws.merge(pulumi.ResourceOptions(depends_on=list(system))))
    outputs = build_workloads(cfg, eks, storage, list(system), with_aws, refs, paths, account_id)
    if paths is not None:
        outputs["federationNetwork"] = with_scheduler(paths.exports, outputs.get("daskSchedulerPeerHost"), cfg)
    return {
        **outputs,
        "clusterName": eks.cluster_name,
        "clusterEndpoint": eks.cluster.endpoint,
        "kubeconfig": eks.kubeconfig,
        "oidcProviderArn": eks.oidc_provider_arn,
        "nodeGroups": {g.name: sorted(grp.group_arns) for g, grp in zip(cfg.node_groups, groups, strict=True)},
    }


def build_workloads(cfg: StackConfig, eks: EksControlPlane, storage: DataBuckets, groups: list[NodeGroup],
                    with_aws: pulumi.ResourceOptions, refs: dict[str, pulumi.StackReference],
                    paths: Optional[FederationPaths], account_id: pulumi.Output[str]) -> dict[str, Any]:
    """Namespaces, RBAC personas, secrets, Dask, Arkouda, federation and monitoring, after the system pools."""
    opts = with_aws.merge(pulumi.ResourceOptions(depends_on=list(groups)))
    teams = TeamNamespaces("namespaces", list(cfg.namespaces), eks.k8s_provider, opts=opts)
    created = list(teams.namespaces.values())
    values = load_secret_values()
    outputs: dict[str, Any] = {}
    storage_class = eks.install_ebs_storage(list(groups), naming.stack_tags(cfg)) if cfg.needs_ebs_csi else None
    dask = None
    if cfg.dask is not None:
        dask, dask_outputs = build_dask(cfg, eks, storage, values, storage_class, with_aws, opts, paths)
        outputs.update(dask_outputs)
        created.append(dask)
    if cfg.arkouda is not None:
        ak = cfg.arkouda
        pool = arkouda_pool(ak, cfg.node_groups)
        assert pool is not None  # the config checks guarantee it
        arkouda = Arkouda("arkouda", ArkoudaArgs(config=ak, control_plane=eks, pool=pool,
                                                 bucket_arns=list(storage.bucket_arns.values()),
                                                 kms_key_arn=storage.kms_key_arn, storage_class=storage_class,
                                                 quota=ak.quota or arkouda_budget(ak).quota(),
                                                 client=jupyter_client(cfg, dask)), opts=opts)
        outputs["arkoudaConnect"] = arkouda.connect_address
        token = ", access_token=<pulumi stack output arkoudaToken --show-secrets>" if ak.authentication else ""
        outputs["arkoudaPortForward"] = (f"kubectl -n {ak.namespace} port-forward svc/arkouda-server "
                                         f"{ak.server_port}:{ak.server_port}, then ak.connect('localhost', {ak.server_port}{token})")
        if arkouda.token is not None:
            outputs["arkoudaToken"] = arkouda.token
        created.append(arkouda)
    if cfg.federation is not None:
        outputs.update(build_federation(cfg, eks, storage, created, values, opts, refs, dask))
    if cfg.mpi is not None:
        created.append(MpiOperator("mpi", cfg.mpi, eks.k8s_provider, opts=opts))
    if cfg.monitoring is not None:
        outputs.update(build_monitoring(cfg, eks, [*created, *([storage_class] if storage_class else [])], account_id, opts))
    RbacPersonas("rbac", cfg.rbac, eks.k8s_provider, depends_on=created, opts=opts)
    if cfg.secrets:
        ConfigSecrets("secrets", list(cfg.secrets), values, eks.k8s_provider, depends_on=created, opts=opts)
    return outputs


def build_monitoring(cfg: StackConfig, eks: EksControlPlane, created: list[pulumi.Resource],
                     account_id: pulumi.Output[str], opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """Prometheus, Grafana and OpenCost, once the namespaces they scrape exist; Grafana's address and password."""
    mon = cfg.monitoring
    assert mon is not None
    system = next(g for g in cfg.node_groups if g.role == "system")
    monitoring = Monitoring("monitoring", mon, eks, naming.cluster_name(cfg), cfg.region, account_id, system,
                            scrape_targets(cfg), cfg.arkouda, created, opts=opts)
    outputs: dict[str, Any] = {"grafanaAdminPassword": monitoring.grafana_password, "grafana": (
        f"kubectl -n {mon.namespace} port-forward svc/grafana 3000:80, then open http://localhost:3000 as admin with "
        "`pulumi stack output grafanaAdminPassword --show-secrets`")}
    if mon.opencost:
        outputs["opencost"] = f"kubectl -n {mon.namespace} port-forward svc/opencost 9003:9003 9090:9090 (README: Costs)"
    return outputs


def jupyter_client(cfg: StackConfig, dask: Optional[DaskCluster]) -> Optional[tuple[str, pulumi.Resource]]:
    """JupyterLab's namespace and the component creating it, when notebooks should reach Arkouda."""
    ok = dask is not None and cfg.dask is not None and cfg.dask.jupyter.enabled
    return (cfg.dask.namespace, dask) if ok and cfg.dask is not None and dask is not None else None


def build_dask(cfg: StackConfig, eks: EksControlPlane, storage: DataBuckets, values: pulumi.Output[dict[str, str]],
               storage_class: Optional[pulumi.Resource], with_aws: pulumi.ResourceOptions,
               opts: pulumi.ResourceOptions, paths: Optional[FederationPaths]) -> tuple[DaskCluster, dict[str, Any]]:
    """The Dask cluster (and the stack's image repository, when asked for) and its outputs."""
    assert cfg.dask is not None
    dcfg = cfg.dask
    worker_pool = dask_worker_pool(dcfg, cfg.node_groups)
    scheduler_pool = dask_scheduler_pool(dcfg, cfg.node_groups)
    assert worker_pool is not None and scheduler_pool is not None  # the config checks guarantee both
    outputs: dict[str, Any] = {}
    resolve: Any = lambda ref: ref  # noqa: E731 (no repository: images are as configured)
    if dcfg.image_repository:
        repo = ImageRepository("images", naming.image_repository_name(cfg), opts=with_aws)
        resolve = repo.image
        outputs["daskImageRepository"] = repo.url
    dask = DaskCluster("dask", DaskArgs(
        config=dcfg, control_plane=eks, scheduler_pool=scheduler_pool, worker_pool=worker_pool,
        bucket_arns=list(storage.bucket_arns.values()), kms_key_arn=storage.kms_key_arn, secret_values=values,
        region=cfg.region, quota=dcfg.quota or dask_budget(dcfg, has_local_delegates(cfg)).quota(),
        image=resolve(dcfg.image), jupyter_image=resolve(dcfg.jupyter_image), storage_class=storage_class,
        federation=dask_federation(cfg, paths), arkouda=cfg.arkouda,
        gpu_pool=dask_gpu_pool(dcfg, cfg.node_groups)), opts=opts)
    outputs["daskSchedulerAddress"] = dask.scheduler_address
    if dask.gpu_scheduler_address is not None:
        outputs["daskGpuSchedulerAddress"] = dask.gpu_scheduler_address
    if dask.peer_scheduler_host is not None:
        outputs["daskSchedulerPeerHost"] = dask.peer_scheduler_host
        outputs["daskSchedulerPeerAddress"] = dask.peer_scheduler_host.apply(lambda h: f"tcp://{h}:8786")
    outputs["daskDashboard"] = (f"kubectl -n {dcfg.namespace} port-forward svc/dask-scheduler 8786:8786 8787:8787, "
                                "then Client('tcp://localhost:8786') and open http://localhost:8787")
    if dcfg.jupyter.enabled:
        outputs["jupyter"] = (f"kubectl -n {dcfg.namespace} port-forward svc/jupyter 8888:8888, "
                              "then open http://localhost:8888 with the token from cloudviper:secretValues")
    return dask, outputs


def with_scheduler(exports: pulumi.Output[dict[str, Any]], host: Optional[pulumi.Output[str]],
                   cfg: StackConfig) -> pulumi.Output[dict[str, Any]]:
    """What each target stack reads from us, plus where our scheduler is: it writes the ExternalName Service of the
    scheduler's name in its namespace (with its own credentials: Admiralty's source role cannot)."""
    if host is None or cfg.dask is None:
        return exports
    where = {"namespace": cfg.dask.namespace, "service": f"{DASK_CLUSTER}-scheduler"}
    return pulumi.Output.all(exports, host).apply(
        lambda v: {k: {**e, "scheduler": {**where, "host": v[1]}} for k, e in v[0].items()})


def dask_federation(cfg: StackConfig, paths: Optional[FederationPaths]) -> Optional[DaskFederation]:
    """Where federated Dask workers may go, and whether any target reaches the scheduler over a network path."""
    dcfg, fed = cfg.dask, cfg.federation
    if dcfg is None or fed is None or not dcfg.workers.federated:
        return None
    targets = [t for t in fed.targets if t.namespace in (None, dcfg.namespace)]
    remote = any(t.path in ("peering", "transitGateway", "vpn") for t in targets)
    return DaskFederation(weights={t.name: t.weight for t in targets},
                          cluster_targets=frozenset(t.name for t in targets if t.namespace is None),
                          peer_cidrs=paths.peer_cidrs if paths is not None and remote else None)


def build_federation(cfg: StackConfig, eks: EksControlPlane, storage: DataBuckets, namespaces: list[pulumi.Resource],
                     values: pulumi.Output[dict[str, str]], opts: pulumi.ResourceOptions,
                     refs: dict[str, pulumi.StackReference], dask: Optional[DaskCluster]) -> dict[str, Any]:
    """Admiralty add-ons, the sources this cluster accepts and the targets it sends to."""
    assert cfg.federation is not None
    fed = cfg.federation
    system = [g for g in cfg.node_groups if g.role == "system"]
    addons = FederationAddons("federation", fed, eks.k8s_provider, namespaces, tolerations(system[0]) if system else [],
                              opts=opts)
    after = [addons.admiralty, *namespaces]
    outputs: dict[str, Any] = {}
    if fed.sources:
        accepted = AcceptedSources("sources", list(fed.sources), SourceAccess(
            eks, eks.cluster.endpoint, eks.cluster.certificate_authority.data, list(storage.bucket_arns.values()),
            storage.kms_key_arn), after, opts=opts)
        outputs["federationKubeconfigs"] = accepted.kubeconfigs
        outputs["federationServiceAccounts"] = accepted.service_accounts
    if fed.targets:
        reach = None
        if dask is not None and cfg.dask is not None and cfg.dask.workers.federated:
            reach = DaskReach(namespace=cfg.dask.namespace, service_account="dask")
        FederationTargets("targets", list(fed.targets), cfg.stack, values, eks.k8s_provider, after, refs, reach, opts=opts)
    return outputs
