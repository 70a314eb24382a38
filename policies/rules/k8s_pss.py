"""The Pod Security Standards' checks, as the Pod Security admission (policy version "latest", Kubernetes 1.35)
applies them to a pod spec and its metadata.

Each check follows kubernetes/kubernetes staging/src/k8s.io/pod-security-admission/policy/check_<id>.go (the field
paths and allowed values in each file's comment; see also kubernetes.io/docs/concepts/security/pod-security-standards/).
Containers are visited as visitor.go does: initContainers, containers and ephemeralContainers. Each violation reads
"<control>: <detail>". Values are read from plain dicts or from the policy engine's read-only proxies alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional

from policies.rules.common import get, is_list

# check_capabilities_baseline.go capabilities_allowed_1_0
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                         "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
# check_sysctls.go (1.0, 1.27: ip_local_reserved_ports, 1.29: tcp keepalive and fin timeout, 1.32: tcp_rmem/tcp_wmem;
# the kubelet's safe set, kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/)
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t"}  # check_seLinuxOptions.go
PROFILE_TYPES = {"RuntimeDefault", "Localhost"}  # check_seccompProfile_baseline.go, check_appArmorProfile.go
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# check_restrictedVolumes.go: the only volume sources restricted admits (`image` since kubernetes/kubernetes PR #130394,
# v1.33: "Allow ImageVolume for Restricted PSA profiles")
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                      "projected", "secret"}
CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")
LEVELS = ("privileged", "baseline", "restricted")


def _list(value: Any) -> list[Any]:
    return [v for v in value if isinstance(v, Mapping)] if is_list(value) else []


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if is_list(value) else []


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, container) for every container of the pod, init and ephemeral ones included."""
    for key in CONTAINER_KEYS:
        for c in _list(get(spec, key)):
            yield str(get(c, "name")), c


def _contexts(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """("pod" or "container 'x'", securityContext) of the pod and of each container."""
    yield "pod", get(spec, "securityContext")
    for name, c in containers(spec):
        yield f"container {name!r}", get(c, "securityContext")


def _host_endpoints(c: Mapping[str, Any]) -> list[str]:
    """Hosts set in probes and lifecycle handlers (check_hostProbesAndhostLifecycle.go, 1.34+)."""
    handlers = [get(c, p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    handlers += [get(c, "lifecycle", h) for h in ("postStart", "preStop")]
    return [str(get(h, kind, "host")) for h in handlers for kind in ("httpGet", "tcpSocket") if get(h, kind, "host")]


def _baseline_pod(spec: Mapping[str, Any], meta: Optional[Mapping[str, Any]]) -> list[str]:
    found = [f"hostNamespaces: {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if get(spec, k) is True]
    found += [f"hostPathVolumes: volume {get(v, 'name')!r}" for v in _list(get(spec, "volumes"))
              if get(v, "hostPath") is not None]
    found += [f"sysctls: {n}" for n in (str(get(s, "name")) for s in _list(get(spec, "securityContext", "sysctls")))
              if n not in SAFE_SYSCTLS]
    annotations = get(meta, "annotations")
    for key, value in (annotations.items() if isinstance(annotations, Mapping) else []):
        v = str(value)
        if str(key).startswith(APPARMOR_ANNOTATION) and not (v in ("", "runtime/default") or v.startswith("localhost/")):
            found.append(f"appArmor: annotation {key}={v!r}")
    for who, sc in _contexts(spec):
        if get(sc, "seccompProfile") is not None and get(sc, "seccompProfile", "type") not in PROFILE_TYPES:
            found.append(f"seccomp: {who} sets seccompProfile.type {get(sc, 'seccompProfile', 'type')!r}")
        if get(sc, "appArmorProfile") is not None and get(sc, "appArmorProfile", "type") not in PROFILE_TYPES:
            found.append(f"appArmor: {who} sets appArmorProfile.type {get(sc, 'appArmorProfile', 'type')!r}")
        selinux = get(sc, "seLinuxOptions")
        if selinux is not None and (str(get(selinux, "type") or "") not in SELINUX_TYPES
                                    or get(selinux, "user") or get(selinux, "role")):
            found.append(f"seLinux: {who} sets seLinuxOptions {dict(selinux) if isinstance(selinux, Mapping) else selinux}")
        if get(sc, "windowsOptions", "hostProcess") is True:
            found.append(f"windowsHostProcess: {who}")
    return found


def _baseline_containers(spec: Mapping[str, Any]) -> list[str]:
    found = []
    user_namespace = get(spec, "hostUsers") is False  # check_procMount_baseline.go 1.35: relaxed in a user namespace
    for name, c in containers(spec):
        sc = get(c, "securityContext")
        if get(sc, "privileged") is True:
            found.append(f"privileged: container {name!r}")
        extra = sorted(set(_strings(get(sc, "capabilities", "add"))) - BASELINE_CAPABILITIES)
        found += [f"capabilities: container {name!r} adds {cap}" for cap in extra]
        found += [f"hostPorts: container {name!r} uses hostPort {get(p, 'hostPort')}" for p in _list(get(c, "ports"))
                  if get(p, "hostPort") not in (None, 0)]
        proc = get(sc, "procMount")
        if proc is not None and proc != "Default" and not user_namespace:
            found.append(f"procMount: container {name!r} sets {proc}")
        found += [f"hostProbes: container {name!r} uses host {h!r}" for h in _host_endpoints(c)]
    return found


def _restricted(spec: Mapping[str, Any]) -> list[str]:
    found = [f"volumeTypes: volume {get(v, 'name')!r}" for v in _list(get(spec, "volumes"))
             if not set(v) - {"name"} <= RESTRICTED_VOLUMES]
    psc = get(spec, "securityContext")
    windows = get(spec, "os", "name") == "windows"
    if get(psc, "runAsUser") == 0:
        found.append("runAsUser: pod is 0")
    for name, c in containers(spec):
        sc = get(c, "securityContext")
        if get(sc, "allowPrivilegeEscalation") is not False and not windows:
            found.append(f"allowPrivilegeEscalation: container {name!r} does not set it false")
        non_root = get(sc, "runAsNonRoot")
        if non_root is False or (non_root is None and get(psc, "runAsNonRoot") is not True):
            found.append(f"runAsNonRoot: container {name!r}")
        if get(sc, "runAsUser") == 0:
            found.append(f"runAsUser: container {name!r} is 0")
        profile = get(sc, "seccompProfile", "type") if get(sc, "seccompProfile") is not None else \
            get(psc, "seccompProfile", "type")
        if profile not in PROFILE_TYPES:
            found.append(f"seccomp: container {name!r} sets no RuntimeDefault or Localhost profile")
        caps_add = set(_strings(get(sc, "capabilities", "add")))
        if "ALL" not in _strings(get(sc, "capabilities", "drop")) or caps_add - {"NET_BIND_SERVICE"}:
            found.append(f"capabilities: container {name!r} must drop ALL and add at most NET_BIND_SERVICE")
    return found


def violations(spec: Mapping[str, Any], level: str, meta: Optional[Mapping[str, Any]] = None) -> list[str]:
    """What the Pod Security admission would refuse at this level ("privileged" refuses nothing)."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}; one of {', '.join(LEVELS)}")
    if level == "privileged":
        return []
    found = _baseline_pod(spec, meta) + _baseline_containers(spec)
    return found + (_restricted(spec) if level == "restricted" else [])
