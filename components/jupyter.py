"""JupyterLab next to the Dask scheduler: a persistent encrypted home, the token from config, an idle culler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_objects import digest_of, meta
from components.secrets import secret_data
from infra.config.arkouda import ArkoudaConfig
from infra.config.dask import DaskConfig
from infra.config.pools import NodeGroupConfig
from infra.config.quotas import CULLER_POD
from infra.documents import arkouda
from infra.documents import jupyter as lab
from infra.documents.dask import TMP_MOUNT, pod_spec
from infra.documents.pods import restricted_security_context

NAME = "jupyter"
TOKEN_SECRET = "jupyter-token"


@dataclass(frozen=True)
class JupyterArgs:
    """What JupyterLab is built from."""

    config: DaskConfig
    pool: NodeGroupConfig
    image: pulumi.Input[str]
    scheduler_address: str
    service_account: pulumi.Resource  # `jupyter`, bound by IRSA to the stack's buckets
    secret_values: pulumi.Output[dict[str, str]]
    storage_class: Optional[pulumi.Resource]
    arkouda: Optional[ArkoudaConfig] = None  # Arkouda's address and client token for notebooks


class JupyterLab(pulumi.ComponentResource):
    """Deployment (Recreate: one server, one volume), Service, token Secret, home volume, culler.

    The Deployment, Service and Secret keep the names they had as children of the DaskCluster (aliases),
    so upgrading a stack updates them in place.
    """

    def __init__(self, name: str, args: JupyterArgs, opts: pulumi.ResourceOptions) -> None:
        super().__init__("cloudviper:k8s:JupyterLab", name, None, opts)
        cfg, j = args.config, args.config.jupyter
        ns = cfg.namespace
        k = opts.merge(pulumi.ResourceOptions(parent=self))
        moved = k.merge(pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=opts.parent)]))
        sa = args.service_account
        # Stripped: the server uses the file verbatim, a header cannot carry a newline.
        token_data: pulumi.Output[dict[str, str]] = secret_data(  # still a secret Output
            args.secret_values, {"token": j.token_secret_value}).apply(lambda d: {"token": d["token"].strip()})
        token = k8s.core.v1.Secret(f"{name}-token", metadata=meta(TOKEN_SECRET, ns), type="Opaque",
                                   string_data=token_data, opts=moved)
        # The server reads the token once at start: a new token must restart it (a digest, not the token).
        token_digest = pulumi.Output.unsecret(
            token_data.apply(lambda d: digest_of(d["token"])))
        volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                                         lab.token_volume(TOKEN_SECRET)]
        after: list[pulumi.Resource] = [sa, token]
        if j.keeps_home:
            # gp3, encrypted, reclaim policy Retain: `pulumi destroy` deletes the claim, the volume (and the notebooks) stay.
            home = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-home", metadata=meta("jupyter-home", ns), spec={
                    "accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-encrypted",
                    "resources": {"requests": {"storage": j.home}}},
                opts=k.merge(pulumi.ResourceOptions(depends_on=[args.storage_class] if args.storage_class else [])))
            volumes.append({"name": "home", "persistentVolumeClaim": {"claimName": "jupyter-home"}})
            after.append(home)
        else:
            volumes.append({"name": "home", "emptyDir": {"sizeLimit": "5Gi"}})
        ak_env: list[dict[str, str]] = []
        ak_mounts: list[dict[str, Any]] = []
        if args.arkouda is not None:
            ak_env = arkouda.client_env(args.arkouda)
            if args.arkouda.authentication:
                volumes.append(arkouda.client_volume())
                ak_mounts = [arkouda.CLIENT_MOUNT]
        container = {
            "name": NAME, "image": args.image, "imagePullPolicy": "IfNotPresent", "args": lab.lab_args(j.idle_minutes),
            "env": [lab.TOKEN_ENV, {"name": "DASK_SCHEDULER_ADDRESS", "value": args.scheduler_address},
                    {"name": "HOME", "value": lab.HOME}, *ak_env],
            "ports": [{"name": "http", "containerPort": lab.PORT}],
            "resources": {"requests": {"cpu": j.cpu, "memory": j.memory}, "limits": {"cpu": j.cpu, "memory": j.memory}},
            "readinessProbe": lab.READINESS,  # no liveness: a busy kernel must not restart the server
            "securityContext": restricted_security_context(j.uid, j.gid),
            "volumeMounts": [*TMP_MOUNT["volumeMounts"], lab.TOKEN_MOUNT, {"name": "home", "mountPath": lab.HOME}, *ak_mounts],
        }
        pod = pod_spec(NAME, args.pool, [container], j.uid, j.gid, "2Gi")
        pod["volumes"] = volumes
        # fsGroup otherwise makes the kubelet walk the whole home at every start and add group rw to every
        # file (SSH keys then 0660, which ssh refuses); only when the volume's root is not yet ours.
        pod["securityContext"]["fsGroupChangePolicy"] = "OnRootMismatch"
        k8s.apps.v1.Deployment(
            name, metadata=meta(NAME, ns),
            spec={"replicas": 1, "strategy": {"type": "Recreate"},
                  "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": NAME},
                                            "annotations": {"cloudviper.io/token-digest": token_digest}},
                               "spec": pod}},
            # the culler (or a user) scales it to zero and back; `pulumi up` leaves that alone
            opts=moved.merge(pulumi.ResourceOptions(depends_on=after, ignore_changes=["spec.replicas"])))
        k8s.core.v1.Service(name, metadata=meta(NAME, ns), spec={
            "selector": {"app.kubernetes.io/name": NAME},
            "ports": [{"name": "http", "port": lab.PORT, "targetPort": lab.PORT}]}, opts=moved)
        k8s.networking.v1.NetworkPolicy(f"{name}-ingress", metadata=meta("jupyter-ingress", ns), spec={
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": lab.PORT}]}]}, opts=k)
        if j.idle_minutes:
            self._culler(name, cfg, args.pool, args.image, k.merge(pulumi.ResourceOptions(depends_on=[token])))
        self.register_outputs({})

    def _culler(self, name: str, cfg: DaskConfig, pool: NodeGroupConfig, image: pulumi.Input[str],
                k: pulumi.ResourceOptions) -> None:
        """A CronJob that scales JupyterLab to zero after idleMinutes without activity."""
        ns, j = cfg.namespace, cfg.jupyter
        culler = "jupyter-culler"
        k8s.core.v1.ServiceAccount(f"{name}-culler-sa", metadata=meta(culler, ns), opts=k)
        k8s.rbac.v1.Role(f"{name}-culler-role", metadata=meta(culler, ns), rules=[
            {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"], "resourceNames": [NAME]},
        ], opts=k)
        k8s.rbac.v1.RoleBinding(f"{name}-culler-rb", metadata=meta(culler, ns), role_ref={
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": culler},
            subjects=[{"kind": "ServiceAccount", "name": culler, "namespace": ns}], opts=k)
        res = {"cpu": CULLER_POD.cpu_request, "memory": CULLER_POD.memory}
        container = {
            "name": "cull", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["python", "-c", lab.CULL_SCRIPT],
            "env": [{"name": "JUPYTER_URL", "value": f"http://{NAME}.{ns}.svc.cluster.local:{lab.PORT}"},
                    lab.TOKEN_ENV, {"name": "IDLE_MINUTES", "value": str(j.idle_minutes)},
                    {"name": "NAMESPACE", "value": ns}, {"name": "DEPLOYMENT", "value": NAME}],
            "resources": {"requests": res, "limits": {"cpu": CULLER_POD.cpu_limit, "memory": CULLER_POD.memory}},
            "securityContext": restricted_security_context(j.uid, j.gid),
            "volumeMounts": [*TMP_MOUNT["volumeMounts"], lab.TOKEN_MOUNT],
        }
        pod = pod_spec(culler, pool, [container], j.uid, j.gid, "64Mi", restartPolicy="Never")
        pod["volumes"].append(lab.token_volume(TOKEN_SECRET))
        pod["automountServiceAccountToken"] = True  # it calls the Kubernetes API
        k8s.batch.v1.CronJob(f"{name}-culler", metadata=meta(culler, ns), spec={
            "schedule": lab.CULL_EVERY, "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"backoffLimit": 0, "activeDeadlineSeconds": 300, "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": culler}}, "spec": pod}}}}, opts=k)
