"""JupyterLab: its command line, and the idle culler that scales a forgotten notebook to zero (pure).

jupyter_server (2.17 in the default image) reports activity at `GET /api/status` (token needed;
`last_activity` in ISO 8601, and polling it does not count as activity); `GET /api` needs no token
and serves as the readiness probe. A kernel running a long cell that prints nothing does not move
`last_activity` (kernel activity is recorded on its messages), so the culler also asks
`GET /api/kernels?no_track_activity=1` and leaves the server alone while any kernel is `busy`. Kernels are culled by MappingKernelManager.cull_idle_timeout. A
server that stops itself would be restarted by its Deployment, so the culler scales the Deployment
to zero through the Kubernetes API instead; `kubectl -n <ns> scale deploy/jupyter --replicas 1`
brings it back.
"""

from __future__ import annotations

# The token reaches the server as a file (jupyter_server 2.17 auth/identity.py reads JUPYTER_TOKEN_FILE),
# not an environment variable that every process of the notebook (and `/proc`) would see.
TOKEN_DIR = "/etc/jupyter-token"
TOKEN_FILE = f"{TOKEN_DIR}/token"
HOME = "/home/jovyan"  # the notebook user's home in the Pangeo and jupyter/docker-stacks images
PORT = 8888
READINESS = {"httpGet": {"path": "/api", "port": PORT}, "periodSeconds": 10}
CULL_EVERY = "*/10 * * * *"  # the culler's schedule (a CronJob)

CULL_SCRIPT = (
    "import datetime, json, os, ssl, urllib.error, urllib.request\n"
    "token = open(os.environ['JUPYTER_TOKEN_FILE']).read().strip()\n"
    "def lab(path):\n"
    "    req = urllib.request.Request(os.environ['JUPYTER_URL'] + path, headers={'Authorization': 'token ' + token})\n"
    "    return json.load(urllib.request.urlopen(req, timeout=20))\n"
    "try:\n"
    "    status = lab('/api/status')\n"
    "    kernels = lab('/api/kernels?no_track_activity=1')\n"
    "except urllib.error.HTTPError:\n"
    "    raise  # it answered, but not to our token: a failed Job shows it\n"
    "except OSError as exc:\n"
    "    print('JupyterLab not reachable (scaled to zero?):', exc); raise SystemExit(0)\n"
    "busy = [k['id'] for k in kernels if k.get('execution_state') == 'busy']\n"
    "if busy:\n"
    "    print('kernels running a cell:', ', '.join(busy)); raise SystemExit(0)\n"
    "last = datetime.datetime.fromisoformat(status['last_activity'].replace('Z', '+00:00'))\n"
    "idle = (datetime.datetime.now(datetime.timezone.utc) - last).total_seconds() / 60\n"
    "print('idle for %.0f minutes' % idle)\n"
    "if idle < float(os.environ['IDLE_MINUTES']):\n"
    "    raise SystemExit(0)\n"
    "sa = '/var/run/secrets/kubernetes.io/serviceaccount/'\n"
    "api = os.environ.get('KUBERNETES_API', 'https://kubernetes.default.svc')\n"
    "path = '/apis/apps/v1/namespaces/%s/deployments/%s/scale' % (os.environ['NAMESPACE'], os.environ['DEPLOYMENT'])\n"
    "patch = urllib.request.Request(api + path, data=json.dumps({'spec': {'replicas': 0}}).encode(), method='PATCH',\n"
    "    headers={'Content-Type': 'application/merge-patch+json',\n"
    "             'Authorization': 'Bearer ' + open(os.environ.get('TOKEN_FILE', sa + 'token')).read().strip()})\n"
    "context = ssl.create_default_context(cafile=os.environ.get('CA_FILE', sa + 'ca.crt'))\n"
    "print(urllib.request.urlopen(patch, timeout=20, context=context).read().decode())\n"
    "print('scaled %s to zero' % os.environ['DEPLOYMENT'])\n"
)


def token_volume(secret: str) -> dict[str, object]:
    """The token Secret as a read-only volume, readable by the pod's group (fsGroup) only."""
    return {"name": "token", "secret": {"secretName": secret, "defaultMode": 0o440}}


TOKEN_MOUNT = {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True}
TOKEN_ENV = {"name": "JUPYTER_TOKEN_FILE", "value": TOKEN_FILE}


def lab_args(idle_minutes: int) -> list[str]:
    """`jupyter lab` on all interfaces; idle kernels are culled too when the server is culled."""
    args = ["jupyter", "lab", "--ip=0.0.0.0", f"--port={PORT}", "--no-browser", f"--ServerApp.root_dir={HOME}"]
    if idle_minutes:
        args += [f"--MappingKernelManager.cull_idle_timeout={idle_minutes * 60}",
                 "--MappingKernelManager.cull_interval=300", "--MappingKernelManager.cull_connected=True"]
    return args
