"""Arkouda follows the upstream images' real contract: keys, user, sshd, discovery, token, commands, Services.

The upstream facts are written here as literals, each with the file it was read in, so a change to the
contract data (infra/documents/arkouda.py) or to the component that does not match upstream fails.
contrib = Bears-R-Us/arkouda-contrib at 246ce0a; arkouda = Bears-R-Us/arkouda at v2024.04.19.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest

from infra.config.arkouda import ArkoudaConfig
from infra.documents import arkouda as doc
from infra.plan.manifests import manifests
from infra.plan.secret_values import unwrap
from tests.pod_security import violations

# contrib arkouda-helm-charts/arkouda-udp-{server,locale}/Chart.yaml: appVersion v2024.04.19; the locale
# chart's deployment.yaml runs `bearsrus/arkouda-udp-server:{{ .Values.releaseVersion }}` for locales too.
IMAGE = "bearsrus/arkouda-udp-server:v2024.04.19"
# contrib arkouda-docker/chapel-gasnet-udp: `useradd -m ubuntu` ... `USER ubuntu`.
USER, HOME = "ubuntu", "/home/ubuntu"
# contrib arkouda-docker/scripts/start-arkouda-{server,locale}.sh and both charts' launch-script ConfigMaps:
# `sudo service ssh start`; `sudo cp ~/ssh-keys/id_rsa* ~/.ssh/`; `cat ~/.ssh/id_rsa.pub > ~/.ssh/authorized_keys`;
# the charts mount the key Secret at "/home/ubuntu/ssh-keys" (deployment.yaml volumeMounts).
SSHD_START, KEYS_DIR, PRIVATE, PUBLIC = "sudo service ssh start", "/home/ubuntu/ssh-keys", "id_rsa", "id_rsa.pub"
# contrib arkouda_integration/client/scripts/pods.py `__main__`: os.environ[...] for these six names.
PODS_ENV = {"CACERT_FILE", "SSL_TOKEN", "K8S_HOST", "POD_METHOD", "APP_NAME", "NAMESPACE"}
PODS_SCRIPT = "/opt/arkouda-contrib/arkouda_integration/client/scripts/pods.py"  # contrib arkouda-docker/arkouda-udp-server
# contrib arkouda-helm-charts/arkouda-udp-server/templates/deployment.yaml (`sa` volume at /opt/sa) and the
# launch script (`export SSL_TOKEN=$(cat sa/token)`, `export CACERT_FILE=/opt/sa/ca.crt`).
SA_DIR = "/opt/sa"
SERVER_BINARY = "/opt/arkouda/arkouda_server"  # contrib arkouda-docker/arkouda-udp-server: built in /opt/arkouda
# arkouda src/Security.chpl getArkoudaToken: reads the last line of <arkDirectory>/tokens.txt when it exists;
# src/ServerDaemon.chpl initArkoudaDirectory: arkDirectory = here.cwd() + '/.arkouda'.
TOKENS_FILE = ".arkouda/tokens.txt"
WORKDIR = "/opt"  # contrib arkouda-docker/arkouda-udp-server: last `WORKDIR /opt`; /opt chmod 777 and chown ubuntu
METRICS_PORT_ENV = "METRICS_SERVER_PORT"  # arkouda src/ServerDaemon.chpl MetricsServerDaemon.init
# arkouda src/ServerConfig.chpl (config const ServerPort, authenticate, serverInfoNoSplash) and
# src/ServerDaemon.chpl (private config const daemonTypes; enum ServerDaemonType {DEFAULT,INTEGRATION,METRICS,STATUS}).
SERVER_FLAGS = {"--ServerPort", "--ServerDaemon.daemonTypes", "--memTrack", "--memMax", "--authenticate", "--logLevel",
                "--serverInfoNoSplash"}


def test_the_contract_data_is_what_upstream_says():
    c = doc.CONTRACT
    assert f"{c.image}:{c.release}" == IMAGE and ArkoudaConfig.model_validate({}).image == IMAGE
    assert (c.user, c.home, c.sshd_start, c.keys_dir) == (USER, HOME, SSHD_START, KEYS_DIR)
    assert (c.private_key, c.public_key, c.key_algorithm) == (PRIVATE, PUBLIC, "RSA")
    assert set(c.pods_env) == PODS_ENV and c.pods_script == PODS_SCRIPT and c.sa_dir == SA_DIR
    assert (c.server_binary, c.metrics_port_env) == (SERVER_BINARY, METRICS_PORT_ENV)
    assert (c.tokens_file, c.workdir) == (TOKENS_FILE, WORKDIR)
    assert c.pod_method == "GET_POD_IPS"  # contrib arkouda_integration/client/arkouda_integration/k8s.py InvocationMethod


@pytest.fixture
def docs(stack_capture) -> list[dict[str, Any]]:
    return manifests(stack_capture("arkouda"))


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (d,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return d


def pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {"server": find(docs, "Deployment", "arkouda-server")["spec"]["template"]["spec"],
            "locale": find(docs, "StatefulSet", "arkouda-locale")["spec"]["template"]["spec"]}


def test_both_pods_run_the_server_image_with_our_launch_scripts(docs):
    launch = find(docs, "ConfigMap", "arkouda-launch")["data"]
    for role, pod in pods(docs).items():
        (c,) = pod["containers"]
        assert c["image"] == IMAGE
        script = c["command"][-1]
        assert c["command"] == ["bash", script] and os.path.basename(script) in launch
        mount = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mount["launch"] == os.path.dirname(script)
        text = launch[os.path.basename(script)]
        assert SSHD_START in text and f"{KEYS_DIR}/{PRIVATE}" in text and f"{HOME}/.ssh/authorized_keys" in text
        assert ("arkouda_server" in text) is (role == "server") and c["workingDir"] == WORKDIR
        # keys (and the token) are in place before sshd can take a login
        assert text.index(f"{HOME}/.ssh/authorized_keys") < text.index(SSHD_START)
        assert text.index(f"{WORKDIR}/{TOKENS_FILE}") < text.index(SSHD_START)
        assert pod["enableServiceLinks"] is False  # the launcher puts its whole environment on each ssh command


def test_the_key_pair_is_rsa_under_the_names_the_scripts_copy(stack_capture, docs):
    cap = stack_capture("arkouda")
    assert cap.one("tls:index/privateKey:PrivateKey").props["algorithm"] == "RSA"
    secret = cap.one("kubernetes:core/v1:Secret", "arkouda-ssh")
    data = unwrap(secret.inputs)["stringData"]
    assert set(data) == {PRIVATE, PUBLIC} and data[PUBLIC].startswith("ssh-rsa ")
    for pod in pods(docs).values():
        (vol,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "arkouda-ssh"]
        (c,) = pod["containers"]
        assert {"name": vol["name"], "mountPath": KEYS_DIR, "readOnly": True} in c["volumeMounts"]


def test_sshd_may_start_through_sudo_and_nothing_more(docs):
    """allowPrivilegeEscalation: false sets no_new_privs, and setuid sudo then refuses to run (the image starts
    sshd with `sudo service ssh start`); the capability set is what sudo + the key copy + sshd were found to
    need (components/arkouda.py SSHD_CAPABILITIES, `make arkouda-sshd-check`)."""
    for pod in pods(docs).values():
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
        (c,) = pod["containers"]
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is True and not sc.get("privileged")
        assert sc["capabilities"] == {"drop": ["ALL"], "add": ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "NET_BIND_SERVICE",
                                                               "SETGID", "SETUID", "SYS_CHROOT"]}
        assert "runAsUser" not in sc and "runAsUser" not in pod["securityContext"]  # the image's own user (ubuntu)
        # baseline admits it; restricted refuses exactly the escalation, the added capabilities and root-capable user
        assert violations(pod, "baseline") == []
        assert {v.split(":")[0] for v in violations(pod, "restricted")} == {
            "allowPrivilegeEscalation", "capabilities", "runAsNonRoot"}
    labels = find(docs, "Namespace", "arkouda")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_the_server_has_the_api_identity_discovery_reads(docs):
    server = pods(docs)["server"]
    (c,) = server["containers"]
    assert server["automountServiceAccountToken"] is False  # one copy of the token, where the script reads it
    (sa,) = [v for v in server["volumes"] if v["name"] == "sa"]
    sources = sa["projected"]["sources"]
    assert {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}} in sources
    # the token root's only (read with sudo), the public CA readable by the image's user (pods.py opens it)
    assert sa["projected"]["defaultMode"] == 0o400
    assert {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt", "mode": 0o444}]}} in sources
    assert {"name": "sa", "mountPath": SA_DIR, "readOnly": True} in c["volumeMounts"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    # every variable pods.py reads is set: SSL_TOKEN by the script (from the token file), the rest by the pod
    assert PODS_ENV - {"SSL_TOKEN"} <= set(env) and env["CACERT_FILE"] == f"{SA_DIR}/ca.crt"
    assert f'SSL_TOKEN="$(sudo cat {SA_DIR}/token)"' in find(docs, "ConfigMap", "arkouda-launch")["data"][
        doc.SERVER_SCRIPT]  # mounted 0400 root: the image's user reads it through sudo, like the keys
    assert env["GASNET_SPAWNFN"] == "S" and "BatchMode=yes" in env["GASNET_SSH_OPTIONS"]
    assert env["APP_NAME"] == "arkouda-locale" and env["NAMESPACE"] == "arkouda"
    assert pods(docs)["locale"].get("automountServiceAccountToken") is False
    assert not [v for v in pods(docs)["locale"]["volumes"] if v["name"] == "sa"]


def test_the_servers_flags_are_the_releases_config_consts():
    args = doc.server_args(ArkoudaConfig.model_validate({"locales": 3, "memoryPerLocale": "10Gi", "serverPort": 6000}))
    assert args[:3] == [SERVER_BINARY, "-nl", "3"]
    flags = dict(a.split("=", 1) for a in args[3:])
    assert set(flags) == SERVER_FLAGS
    assert "INTEGRATION" not in flags["--ServerDaemon.daemonTypes"]  # no self-registration (see below)
    assert flags["--ServerPort"] == "6000" and flags["--serverInfoNoSplash"] == "true"  # no token in the pod log
    assert int(flags["--memMax"]) == int(10 * 2**30 * 0.8) < 10 * 2**30


def test_a_restarted_server_is_reachable_again(docs):
    """The Services are the stack's and select the server pod by label: the endpoints controller points them
    at whichever pod is ready (a restart changes the address). The server registers nothing: no INTEGRATION
    daemon, and no rights to create Services or Endpoints that would point at a dead address."""
    template = find(docs, "Deployment", "arkouda-server")["spec"]["template"]
    ports = {p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
    for name, port in (("arkouda-server", 5555), ("arkouda-server-metrics", 5556)):
        spec = find(docs, "Service", name)["spec"]
        assert spec["selector"].items() <= template["metadata"]["labels"].items()
        assert [(p["port"], p["targetPort"]) for p in spec["ports"]] == [(port, port)] and port in ports
    assert not [d for d in docs if d["kind"] in ("Endpoints", "EndpointSlice")]
    (role,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "arkouda-server"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]


# ---- the launch scripts, run -----------------------------------------------------------------------------

STUBS = {
    # sudo: drop `-u USER`, run the rest as ourselves; chown/service: record only (no user ubuntu here)
    "sudo": '#!/bin/bash\n[ "$1" = -u ] && shift 2\nexec "$@"\n',
    "service": '#!/bin/bash\necho "service $* keys=$(test -s "$AUTH_KEYS" && echo yes)" >> "$LOG"\n',
    "chown": '#!/bin/bash\necho "chown $*" >> "$LOG"\n',
    "sleep": '#!/bin/bash\necho "sleep $*" >> "$LOG"\n/bin/sleep 0.05\n',
    # pods.py: record what it was given, answer from a file of answers (one line per call); other
    # scripts (the forwarder) run with the real interpreter
    "python3": '#!/bin/bash\nif [ "$1" != "$PODS" ]; then exec "$REAL_PYTHON" "$@"; fi\n'
               '{ echo "python3 $*"; env | grep -E "^(CACERT_FILE|SSL_TOKEN|K8S_HOST|POD_METHOD|APP_NAME|NAMESPACE)=" '
               '| sort; } >> "$LOG"\nn=$(grep -c "^python3 " "$LOG")\nsed -n "${n}p" "$ANSWERS"\n',
    # arkouda_server: record, then be locale 0 on $LOCALE0 (an echo server on the client port) for a while
    "arkouda_server": '#!/bin/bash\n{ echo "arkouda_server $*"; echo "SSH_SERVERS=$SSH_SERVERS"; '
                      'echo "SSL_TOKEN=${SSL_TOKEN-unset}"; echo "TOKEN=${ARKOUDA_SERVER_TOKEN-unset}"; echo "PWD=$PWD"; } >> "$LOG"\n'
                      'exec "$REAL_PYTHON" -c "$ECHO_SERVER"\n',
}
ECHO_SERVER = """
import os, socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["LOCALE0"], int(os.environ["PORT"]))); s.listen(); s.settimeout(float(os.environ["SERVE_SECONDS"]))
end = time.time() + float(os.environ["SERVE_SECONDS"])
while time.time() < end:
    try:
        c, _ = s.accept()
    except OSError:
        continue
    c.sendall(b"locale0:" + c.recv(100)); c.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sshds:
    """Something listening on the ssh port at each locale address (loopback aliases 127.0.0.x)."""

    def __init__(self, ips: list[str]) -> None:
        self.port = free_port()
        self.sockets = []
        for ip in ips:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, self.port))
            s.listen(16)
            self.sockets.append(s)

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def run_script(tmp_path: Path, docs: list[dict[str, Any]], role: str, answers: list[str], port: int = 5555,
               locale0: str = "127.0.0.1", serve_seconds: float = 0.5, ssh_port: int = 22,
               while_running: Optional[Callable[[], None]] = None) -> tuple[int, str, Path]:
    """Run the rendered script with the pod's env, the contract's paths moved under tmp_path, commands stubbed."""
    launch = find(docs, "ConfigMap", "arkouda-launch")["data"]
    (c,) = pods(docs)[role]["containers"]
    root, bin_dir = tmp_path / "root", tmp_path / "bin"
    moves: dict[str, Path] = {
        SERVER_BINARY: bin_dir / "arkouda_server", doc.SCRIPTS_DIR: root / doc.SCRIPTS_DIR.lstrip("/"),
        SA_DIR: root / SA_DIR.lstrip("/"), doc.TOKEN_DIR: root / doc.TOKEN_DIR.lstrip("/"),
        HOME: root / HOME.lstrip("/"), f"{WORKDIR}/.arkouda": root / "opt" / ".arkouda"}
    for d in (root / KEYS_DIR.lstrip("/"), moves[SA_DIR], moves[doc.TOKEN_DIR], moves[doc.SCRIPTS_DIR], bin_dir):
        d.mkdir(parents=True)
    (root / KEYS_DIR.lstrip("/") / PRIVATE).write_text("PRIVATE KEY\n")
    (root / KEYS_DIR.lstrip("/") / PUBLIC).write_text("ssh-rsa AAAA test\n")
    (moves[SA_DIR] / "token").write_text("sa-token-123")
    (moves[doc.TOKEN_DIR] / "token").write_text("client-token-456")
    for name, body in STUBS.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(stat.S_IRWXU)
    for name, text in launch.items():
        for path, target in moves.items():
            text = text.replace(path, str(target))
        text = text.replace(f"cd {WORKDIR} ", f"cd {root / 'opt'} ")
        text = text.replace("=5555", f"={port}").replace(" 5555", f" {port}").replace('"$ip" 22;', f'"$ip" {ssh_port};')
        (moves[doc.SCRIPTS_DIR] / name).write_text(text.replace("sleep infinity &", 'echo locale-ready >> "$LOG"; true &'))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(tmp_path / "log"), "ANSWERS": str(tmp_path / "answers"),
           "PODS": PODS_SCRIPT, "REAL_PYTHON": sys.executable, "ECHO_SERVER": ECHO_SERVER, "LOCALE0": locale0,
           "PORT": str(port), "SERVE_SECONDS": str(serve_seconds), "FORWARD_BIND": "127.0.0.1",
           "AUTH_KEYS": str(moves[HOME] / ".ssh" / "authorized_keys")}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = "10.0.0.4"  # status.podIP
        else:
            raise AssertionError(f"unexpected env source {e}")
    (tmp_path / "answers").write_text("".join(a + "\n" for a in answers))
    (tmp_path / "log").write_text("")
    script = moves[doc.SCRIPTS_DIR] / os.path.basename(c["command"][-1])
    proc = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if while_running:
        while_running()
    out, _ = proc.communicate(timeout=90)
    return proc.returncode, (tmp_path / "log").read_text() + out, root


def test_the_locale_script_sets_up_the_keys_the_token_then_sshd(tmp_path, docs):
    code, log, root = run_script(tmp_path, docs, "locale", [])
    assert code == 0, log
    ssh = root / HOME.lstrip("/") / ".ssh"
    assert (ssh / "authorized_keys").read_text() == "ssh-rsa AAAA test\n"
    assert stat.S_IMODE((ssh / PRIVATE).stat().st_mode) == 0o600 and stat.S_IMODE(ssh.stat().st_mode) == 0o700
    # where locale 0 reads the token if this pod becomes locale 0
    assert (root / "opt" / TOKENS_FILE).read_text() == "client-token-456"
    assert "service ssh start keys=yes" in log and "locale-ready" in log and "python3" not in log


def test_the_server_script_finds_the_locales_and_starts_arkouda(tmp_path, docs):
    # pods.py output format: str(list).strip('[]').replace(',', '') (contrib k8s.py get_pod_ips pretty_print);
    # the first answer misses a locale, the second has one without an address yet, the third is complete
    ips = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
    sshds = Sshds(ips)
    answers = ["'127.0.0.11' '127.0.0.12'", "'127.0.0.11' '127.0.0.12' None", " ".join(f"'{ip}'" for ip in ips)]
    try:
        code, log, root = run_script(tmp_path, docs, "server", answers, port=free_port(), ssh_port=sshds.port)
    finally:
        sshds.close()
    assert code == 0, log
    assert log.count(f"python3 {PODS_SCRIPT}") == 3 and log.count("sleep 10") == 2
    assert "SSL_TOKEN=sa-token-123" in log and f"CACERT_FILE={SA_DIR}/ca.crt" in log  # what pods.py was given
    assert "K8S_HOST=https://kubernetes.default.svc" in log and "APP_NAME=arkouda-locale" in log
    assert "SSH_SERVERS=10.0.0.4 127.0.0.11 127.0.0.12 127.0.0.13" in log  # the launcher's pod too, quotes gone
    assert "SSL_TOKEN=unset" in log and "TOKEN=unset" in log  # no token on any ssh command line
    assert f"PWD={root / 'opt'}" in log and (root / "opt" / TOKENS_FILE).read_text() == "client-token-456"
    (line,) = [x for x in log.splitlines() if x.startswith("arkouda_server ")]
    assert line.split()[1:3] == ["-nl", "4"] and "--authenticate=true" in line
    assert "forwarding" not in log  # locale 0 came up in this pod


def test_the_server_waits_for_sshd_in_every_locale(tmp_path, docs):
    sshds = Sshds(["127.0.0.11", "127.0.0.12"])  # the third locale's sshd is not up yet
    try:
        code, log, _ = run_script(tmp_path, docs, "server", ["'127.0.0.11' '127.0.0.12' '127.0.0.13'"] * 2,
                                  ssh_port=sshds.port)
    finally:
        sshds.close()
    assert code == 1 and "arkouda_server" not in log and "found 3" in log


def test_when_locale_0_is_a_locale_pod_the_server_pod_forwards_to_it(tmp_path, docs):
    """GASNet numbers processes in the order they connect back (amudp_spmd.cpp), so locale 0 (the client
    port) may open in a locale pod; the Services select the server pod, which then forwards there."""
    port, got = free_port(), []
    ips = ["127.0.0.11", "127.0.0.2", "127.0.0.13"]
    sshds = Sshds(ips)

    def connect_through_the_server_pod() -> None:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"hello")
                    got.append(s.recv(100))
                    return
            except OSError:
                time.sleep(0.05)

    # 127.0.0.2 plays the locale pod that got rank 0 (loopback; the forwarder binds 127.0.0.1 here)
    try:
        code, log, _ = run_script(tmp_path, docs, "server", [" ".join(f"'{ip}'" for ip in ips)], port=port,
                                  locale0="127.0.0.2", serve_seconds=3, ssh_port=sshds.port,
                                  while_running=connect_through_the_server_pod)
    finally:
        sshds.close()
    assert code == 0, log
    assert f"locale 0 is 127.0.0.2: forwarding ports {port} 5556 there" in log
    assert got == [b"locale0:hello"]


def test_the_server_script_gives_up_when_locales_are_missing(tmp_path, docs):
    code, log, _ = run_script(tmp_path, docs, "server", ["'10.0.1.5'"] * doc.DISCOVERY_ATTEMPTS)
    assert code == 1 and "locale pods not found" in log and "arkouda_server" not in log
    assert log.count("python3 ") == doc.DISCOVERY_ATTEMPTS
