"""The contract of the upstream Arkouda-on-Kubernetes images, as data, and the launch scripts built from it.

Every value below was read in the pinned upstream sources; the component (components/arkouda.py) and
the tests (tests/test_arkouda_contract.py) are built from this one place. Sources:

- contrib = Bears-R-Us/arkouda-contrib at 246ce0a (2024-06-07, the last commit; the image build takes
  its scripts and arkouda_integration from this branch):
  arkouda-docker/chapel-gasnet-udp, arkouda-docker/arkouda-udp-server, arkouda-docker/scripts/*.sh,
  arkouda-helm-charts/arkouda-udp-{server,locale}/ (Chart.yaml appVersion v2024.04.19),
  arkouda_integration/client/scripts/pods.py, arkouda_integration/client/arkouda_integration/k8s.py
- arkouda = Bears-R-Us/arkouda at tag v2024.04.19: src/ServerConfig.chpl, src/ServerDaemon.chpl,
  src/Security.chpl, src/ExternalIntegration.chpl
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from infra.config.arkouda import ArkoudaConfig
from infra.config.base import bytes_of


@dataclass(frozen=True)
class ImageContract:
    """What the bearsrus images expect of the pods that run them (see the module docstring for sources)."""

    # contrib arkouda-docker/README.md and both charts' Chart.yaml: the release the pinned charts deploy.
    image: str = "bearsrus/arkouda-udp-server"
    release: str = "v2024.04.19"
    # contrib arkouda-helm-charts/arkouda-udp-locale/templates/deployment.yaml: locales run the *server*
    # image with the locale start script; no arkouda-udp-locale image exists in any contrib revision.
    # contrib arkouda-docker/chapel-gasnet-udp: `useradd -m ubuntu`, sudo NOPASSWD for %sudo, `USER ubuntu`.
    user: str = "ubuntu"
    home: str = "/home/ubuntu"
    # Both start scripts: `sudo service ssh start` (sshd runs as root, started through setuid sudo).
    sshd_start: str = "sudo service ssh start"
    # Both start scripts and both charts: the key pair is mounted at ~/ssh-keys, copied as `id_rsa*`,
    # and authorized_keys is built from id_rsa.pub (the chart README makes it with plain `ssh-keygen`: RSA).
    keys_dir: str = "/home/ubuntu/ssh-keys"
    private_key: str = "id_rsa"
    public_key: str = "id_rsa.pub"
    key_algorithm: str = "RSA"
    # contrib arkouda-docker/arkouda-udp-server: Arkouda is built in /opt/arkouda, the contrib checkout
    # (arkouda_integration) in /opt/arkouda-contrib, the working directory is /opt.
    server_binary: str = "/opt/arkouda/arkouda_server"
    pods_script: str = "/opt/arkouda-contrib/arkouda_integration/client/scripts/pods.py"
    # contrib pods.py __main__: reads exactly these variables (no command-line arguments).
    pods_env: tuple[str, ...] = ("CACERT_FILE", "SSL_TOKEN", "K8S_HOST", "POD_METHOD", "APP_NAME", "NAMESPACE")
    # contrib k8s.py InvocationMethod and KubernetesDao.get_pods: list pods in NAMESPACE whose label app == APP_NAME.
    pod_method: str = "GET_POD_IPS"
    # contrib arkouda-udp-server chart deployment.yaml + launch script: the service-account token and CA
    # are mounted at /opt/sa; the script exports SSL_TOKEN=$(cat sa/token), CACERT_FILE=/opt/sa/ca.crt.
    sa_dir: str = "/opt/sa"
    # arkouda src/Security.chpl getArkoudaToken: the server's token is the last line of
    # <cwd>/.arkouda/tokens.txt on locale 0 (ServerDaemon.initArkoudaDirectory: here.cwd()); only
    # when that file is missing or empty does it take ARKOUDA_SERVER_TOKEN or generate one.
    tokens_file: str = ".arkouda/tokens.txt"
    # contrib arkouda-docker/arkouda-udp-server: the last WORKDIR is /opt (chmod 777, owned by ubuntu); the
    # launcher's ssh command starts each locale with `cd <launcher cwd>` (GASNet amudp_spawn.cpp).
    workdir: str = "/opt"
    # arkouda src/ServerDaemon.chpl MetricsServerDaemon.init: the metrics socket's port (default 5556).
    metrics_port_env: str = "METRICS_SERVER_PORT"
    # contrib arkouda-udp-server chart: the app label values the server and locale pods carry,
    # APP_NAME for discovery; arkouda ServerDaemon.register names the app 'arkouda-server' otherwise.
    server_app: str = "arkouda-server"
    locale_app: str = "arkouda-locale"


CONTRACT = ImageContract()
SCRIPTS_DIR = "/opt/cloudviper"  # our launch scripts (ConfigMap), beside the image's own in /opt/arkouda
SERVER_SCRIPT, LOCALE_SCRIPT, FORWARD_SCRIPT = "start-arkouda-server.sh", "start-arkouda-locale.sh", "forward.py"
LOCALE0_POLL_SECONDS = 5
FILES_PATH = "/arkouda-files"  # pvc persistence: each pod's own volume
DISCOVERY_ATTEMPTS, DISCOVERY_WAIT_SECONDS = 30, 10
# Arkouda's own limit defaults to 90% of the node (ServerConfig.perLocaleMemLimit); inside a pod limit,
# 80% leaves room for what Chapel does not track (GASNet buffers, the runtime, sshd, python).
MEM_FRACTION = 0.8
TOKEN_DIR = "/var/run/secrets/arkouda"  # the client token Secret, in every pod


def server_args(cfg: ArkoudaConfig) -> list[str]:
    """arkouda_server's command line (config consts of the pinned release, `--Module.name=value`).

    - DEFAULT + METRICS daemons, not INTEGRATION: the stack owns the `arkouda-server` Services (with
      selectors), so the server must not register (and later fail to re-register) its own
      (ServerDaemon.getServerDaemon; ExternalIntegration.registerWithKubernetes POSTs a Service).
    - memMax: Chapel reads the *node's* memory (perLocaleMemLimit is a share of it), not the pod's
      limit; without it Arkouda would plan for more than the container may use and be OOM-killed.
    - serverInfoNoSplash: the splash prints `tcp://host:port?token=...` to stdout, i.e. the pod log
      (ServerDaemon.printServerSplashMessage); the config JSON printed instead has no token.
    """
    mem_max = int(bytes_of(cfg.memory_per_locale) * MEM_FRACTION)
    return [
        CONTRACT.server_binary, "-nl", str(cfg.locales),
        f"--ServerPort={cfg.server_port}",
        "--ServerDaemon.daemonTypes=ServerDaemonType.DEFAULT,ServerDaemonType.METRICS",
        "--memTrack=true", f"--memMax={mem_max}",
        f"--authenticate={str(cfg.authentication).lower()}",
        "--logLevel=LogLevel.INFO", "--serverInfoNoSplash=true",
    ]


def _setup_script(cfg: ArkoudaConfig) -> str:
    """Keys, token and files first, then sshd: an ssh login can only arrive once authorized_keys is there.

    The Secrets are mounted root-owned (0400): the image's user reads them through sudo, as the upstream
    scripts copy the keys. Every pod writes the client token where locale 0 (whichever pod it is) reads it.
    """
    c, ssh = CONTRACT, f"{CONTRACT.home}/.ssh"
    lines = [
        "trap 'exit 143' TERM INT",
        f"mkdir -p {ssh} && chmod 700 {ssh}",
        f"sudo cp {c.keys_dir}/{c.private_key} {c.keys_dir}/{c.public_key} {ssh}/",
        f"sudo chown {c.user}:{c.user} {ssh}/{c.private_key} {ssh}/{c.public_key}",
        f"chmod 600 {ssh}/{c.private_key} {ssh}/{c.public_key}",
        f"cat {ssh}/{c.public_key} > {ssh}/authorized_keys && chmod 600 {ssh}/authorized_keys",
    ]
    tokens = f"{c.workdir}/{c.tokens_file}"
    if cfg.authentication:
        lines += [f"mkdir -p {os.path.dirname(tokens)} && chmod 700 {os.path.dirname(tokens)}",
                  f"sudo cat {TOKEN_DIR}/token > {tokens} && chmod 600 {tokens}"]
    else:
        lines.append(f"rm -f {tokens}")
    if cfg.persistence.kind == "pvc":
        lines.append(f"sudo chown {c.user}:{c.user} {FILES_PATH}  # the volume is created root-owned")
    return "\n".join([*lines, c.sshd_start])


def locale_script(cfg: ArkoudaConfig) -> str:
    """Locales 1..n-1: keys and sshd, then wait for the server to ssh in (the upstream locale script).

    Waits in the background so that bash, as PID 1, still takes SIGTERM (a foreground `sleep` would not).
    """
    return "\n".join(["#!/bin/bash", "# cloudviper: Arkouda locale (see infra/documents/arkouda.py)", "set -eu",
                      _setup_script(cfg), "sleep infinity &", "wait", ""])


def server_script(cfg: ArkoudaConfig) -> str:
    """Locale 0: sshd and the keys, find the locale pods through the API, start arkouda_server over ssh.

    pods.py prints the addresses as a Python list without brackets and commas (`'10.0.1.5' '10.0.2.7'`);
    the quotes are stripped. A pod without an address yet prints `None`: the script waits until every
    locale has one, then gives up and exits (the kubelet restarts it).
    """
    c, want = CONTRACT, cfg.locales - 1
    discover = "\n".join([
        f"SSL_TOKEN=\"$(sudo cat {c.sa_dir}/token)\"",
        "[ -n \"$SSL_TOKEN\" ] || { echo 'no service-account token' >&2; exit 1; }",
        "export SSL_TOKEN",
        f"for attempt in $(seq {DISCOVERY_ATTEMPTS}); do",
        f"  LOCALE_IPS=\"$(python3 {c.pods_script} | tr -d \"',\")\"",
        "  found=$(echo $LOCALE_IPS | wc -w)",
        f"  if [ \"$found\" -eq {want} ] && ! echo \" $LOCALE_IPS \" | grep -q ' None '; then",
        # a pod has an address before its image is pulled and sshd listens: wait for every sshd too
        "    up=0; for ip in $LOCALE_IPS; do if listening \"$ip\" 22; then up=$((up + 1)); fi; done",
        f"    if [ \"$up\" -eq {want} ]; then break; fi",
        "  fi",
        f"  echo \"waiting for {want} locale pods with addresses and sshd (found $found)\"",
        f"  if [ \"$attempt\" -eq {DISCOVERY_ATTEMPTS} ]; then echo 'locale pods not found' >&2; exit 1; fi",
        f"  sleep {DISCOVERY_WAIT_SECONDS}",
        "done",
        "unset SSL_TOKEN  # arkouda_server does not call the API (no self-registration)",
    ]) if want else "LOCALE_IPS=''"
    ports = f"{cfg.server_port} {cfg.metrics_port}"
    return "\n".join([
        "#!/bin/bash", "# cloudviper: Arkouda server, the launcher (see infra/documents/arkouda.py)", "set -eu",
        "listening() { timeout 2 bash -c \": > /dev/tcp/$1/$2\" 2>/dev/null; }",
        _setup_script(cfg), f"cd {c.workdir}  # each locale starts in the launcher's directory: its tokens file",
        discover,
        # GASNet's ssh spawner starts one process per SSH_SERVERS entry, this pod included.
        "export SSH_SERVERS=\"$MY_IP $LOCALE_IPS\"",
        shlex.join(server_args(cfg)) + " &",
        "server=$!",
        "trap 'kill -TERM \"$server\" 2>/dev/null' TERM INT",
        # Locale 0 (where the client and metrics ports open) is the process that connects back to the
        # launcher first: GASNet assigns ranks in connect order (amudp_spmd.cpp), so it may be a locale
        # pod. Then this pod forwards both ports there, and the Services (which select this pod) still
        # reach Arkouda.
        "while kill -0 \"$server\" 2>/dev/null; do",
        f"  if listening 127.0.0.1 {cfg.server_port}; then break; fi",
        "  for ip in $LOCALE_IPS; do",
        f"    if listening \"$ip\" {cfg.server_port}; then",
        f"      echo \"locale 0 is $ip: forwarding ports {ports} there\"",
        f"      python3 {SCRIPTS_DIR}/{FORWARD_SCRIPT} \"$ip\" {ports} &",
        "      break 2",
        "    fi",
        "  done",
        f"  sleep {LOCALE0_POLL_SECONDS}",
        "done",
        "set +e",
        "wait \"$server\"; status=$?",
        "while kill -0 \"$server\" 2>/dev/null; do wait \"$server\"; status=$?; done",
        "kill $(jobs -p) 2>/dev/null",
        "exit $status", ""])


# A TCP forwarder for the server pod (python3 is in the image: the Arkouda client is installed there).
FORWARD_PY = """\
import asyncio, os, sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def forward(host, port):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
    return handle


async def main(host, ports):
    bind = os.environ.get("FORWARD_BIND", "0.0.0.0")
    servers = [await asyncio.start_server(forward(host, p), bind, p) for p in ports]
    await asyncio.gather(*(s.serve_forever() for s in servers))


asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
"""


def launch_scripts(cfg: ArkoudaConfig) -> dict[str, str]:
    """The ConfigMap's data: both start scripts and the forwarder."""
    return {SERVER_SCRIPT: server_script(cfg), LOCALE_SCRIPT: locale_script(cfg), FORWARD_SCRIPT: FORWARD_PY}


def role_scripts(cfg: ArkoudaConfig, server: bool) -> dict[str, str]:
    """What one role runs: its digest in the pod template restarts only the pods whose script changed."""
    scripts = launch_scripts(cfg)
    return {k: scripts[k] for k in ((SERVER_SCRIPT, FORWARD_SCRIPT) if server else (LOCALE_SCRIPT,))}


# What a notebook needs to reach Arkouda: the in-cluster address and the token as a file (a copy of the
# token Secret in the notebook's namespace, mounted optionally: the notebook starts before Arkouda does).
CLIENT_SECRET, CLIENT_DIR = "arkouda-client", "/var/run/secrets/arkouda"


def client_env(cfg: ArkoudaConfig) -> list[dict[str, str]]:
    """ak.connect(os.environ['ARKOUDA_SERVER'], int(os.environ['ARKOUDA_PORT']), access_token=<the file's text>)."""
    env = [{"name": "ARKOUDA_SERVER", "value": f"{CONTRACT.server_app}.{cfg.namespace}.svc.cluster.local"},
           {"name": "ARKOUDA_PORT", "value": str(cfg.server_port)}]
    if cfg.authentication:
        env.append({"name": "ARKOUDA_TOKEN_FILE", "value": f"{CLIENT_DIR}/token"})
    return env


def client_volume() -> dict[str, object]:
    """The client token, readable by the notebook's group (fsGroup) only; absent until Arkouda is deployed."""
    return {"name": "arkouda", "secret": {"secretName": CLIENT_SECRET, "defaultMode": 0o440, "optional": True}}


CLIENT_MOUNT = {"name": "arkouda", "mountPath": CLIENT_DIR, "readOnly": True}
