"""The Pod Security Standards' controls, as the Pod Security admission checks a pod spec (Linux pods).

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the Baseline and Restricted
tables: field paths and allowed values). Each violation reads "<control>: <detail>".
"""

from __future__ import annotations

from typing import Any

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                         "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                      "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]


def _baseline(pod: dict[str, Any]) -> list[str]:
    found = [f"hostNamespaces: {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    found += [f"hostPathVolumes: {v['name']}" for v in pod.get("volumes", []) if "hostPath" in v]
    psc = pod.get("securityContext", {})
    found += [f"sysctls: {s['name']}" for s in psc.get("sysctls", []) if s["name"] not in SAFE_SYSCTLS]
    for sc in [psc, *(c.get("securityContext", {}) for c in _containers(pod))]:
        if sc.get("seccompProfile", {}).get("type") == "Unconfined":
            found.append("seccomp: Unconfined")
        if sc.get("seLinuxOptions", {}).get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t"):
            found.append("seLinux: type")
        if sc.get("appArmorProfile", {}).get("type") == "Unconfined":
            found.append("appArmor: Unconfined")
    for c in _containers(pod):
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            found.append(f"privileged: {c['name']}")
        extra = set(sc.get("capabilities", {}).get("add", [])) - BASELINE_CAPABILITIES
        found += [f"capabilities: {c['name']} adds {cap}" for cap in sorted(extra)]
        found += [f"hostPorts: {c['name']}" for p in c.get("ports", []) if p.get("hostPort")]
        if sc.get("procMount", "Default") != "Default":
            found.append(f"procMount: {c['name']}")
    return found


def _restricted(pod: dict[str, Any]) -> list[str]:
    found = [f"volumeTypes: {v['name']}" for v in pod.get("volumes", [])
             if not set(v) - {"name"} <= RESTRICTED_VOLUMES]
    psc = pod.get("securityContext", {})
    for c in _containers(pod):
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"allowPrivilegeEscalation: {c['name']}")
        if not sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            found.append(f"runAsNonRoot: {c['name']}")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            found.append(f"runAsUser: {c['name']} is 0")
        if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"seccomp: {c['name']} not set")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"capabilities: {c['name']} must drop ALL and add at most NET_BIND_SERVICE")
    return found


def violations(pod: dict[str, Any], level: str) -> list[str]:
    """What the Pod Security admission would refuse at this level ("privileged" refuses nothing)."""
    if level == "privileged":
        return []
    return _baseline(pod) + (_restricted(pod) if level == "restricted" else [])
