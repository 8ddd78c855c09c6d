"""docker/k8s, without a cluster: `kubectl kustomize` renders it, every
object validates offline against the Kubernetes schemas (tests/k8s: the
JSON schemas and TypeScript interfaces of kubernetes-models, pinned in its
lock file, so a misspelt field fails as well as a wrong type), and what
matters is asserted: the probes point at /readyz and /livez on plaza's
port, the preStop hook drains and the grace period covers the drain, the
pods run as the image's non-root user on a read-only root, the PDB, HPA and
Service select the plaza pods, Redis keeps an append-only file.

The preStop hook itself is run as Kubernetes runs it: plaza as PID 1 of its
own PID namespace, the hook's command executed inside that namespace while
a client is connected.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import PLAZA_BIN, ROOT, free_port
from plaza_client import Client, async_test

K8S = os.path.join(ROOT, "docker", "k8s")
VALIDATOR = os.path.join(ROOT, "tests", "k8s")
LINGER_MS = 3000  # how long plaza waits for clients to answer its close


def kubectl():
    exe = shutil.which("kubectl")
    if exe is None:
        pytest.fail("kubectl is not installed (make test-deps installs kubernetes-client)",
                    pytrace=False)
    return exe


@pytest.fixture(scope="module")
def objects():
    yaml = pytest.importorskip("yaml")
    r = subprocess.run([kubectl(), "kustomize", K8S], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert docs, "kubectl kustomize rendered nothing"
    return docs


def one(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and
             (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} objects"
    return found[0]


def validate(docs):
    if not os.path.isdir(os.path.join(VALIDATOR, "node_modules", "kubernetes-models")):
        pytest.fail("tests/k8s/node_modules is missing: `make k8s-validate-deps` (npm ci)",
                    pytrace=False)
    return subprocess.run(["node", os.path.join(VALIDATOR, "validate.mjs")],
                          input=json.dumps(docs), capture_output=True, text=True, timeout=180)


def test_every_object_validates_against_the_kubernetes_schemas(objects):
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(K8S, "ingress-example.yaml")) as f:
        ingress = yaml.safe_load(f)
    r = validate(objects + [ingress])
    assert r.returncode == 0, r.stdout + r.stderr
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(["Namespace", "ConfigMap", "Secret", "Deployment", "Service",
                            "PodDisruptionBudget", "HorizontalPodAutoscaler", "Service",
                            "StatefulSet", "NetworkPolicy"]), kinds
    # Everything lands in the one namespace.
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} \
        == {"plaza"}


def test_the_validator_refuses_what_it_should(objects):
    """The validation above means something: a misspelt field and a wrong
    type are each refused."""
    deploy = json.loads(json.dumps(one(objects, "Deployment")))
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    c["readinessProbe"]["periodSecond"] = c["readinessProbe"].pop("periodSeconds")
    r = validate([deploy])
    assert r.returncode == 1 and "periodSecond" in r.stdout, r.stdout
    deploy = json.loads(json.dumps(one(objects, "Deployment")))
    deploy["spec"]["replicas"] = "3"
    r = validate([deploy])
    assert r.returncode == 1 and "replicas" in r.stdout, r.stdout


def plaza_env(objects):
    """The PLAZA_* environment a plaza pod gets (ConfigMap and Secret)."""
    deploy = one(objects, "Deployment")
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for src in c["envFrom"]:
        if "configMapRef" in src:
            env.update(one(objects, "ConfigMap", src["configMapRef"]["name"])["data"])
        else:
            import base64
            sec = one(objects, "Secret", src["secretRef"]["name"])
            env.update({k: base64.b64decode(v).decode() for k, v in sec["data"].items()})
    return env


def test_probes_and_port(objects):
    c = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = plaza_env(objects)
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    assert int(env["PLAZA_PORT"]) == port
    ready, live = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
    assert ready["path"] == "/readyz" and ready["port"] in ("http", port)
    assert live["path"] == "/livez" and live["port"] in ("http", port)
    # The readiness probe notices a drain well within the drain delay.
    rp = c["readinessProbe"]
    assert rp["periodSeconds"] * rp["failureThreshold"] * 1000 < int(env["PLAZA_DRAIN_DELAY_MS"])
    # Liveness is slower to act than a stall is to be found (5 s).
    lp = c["livenessProbe"]
    assert lp["periodSeconds"] * lp["failureThreshold"] >= 10


def test_prestop_drains_within_the_grace_period(objects):
    spec = one(objects, "Deployment")["spec"]["template"]["spec"]
    c = spec["containers"][0]
    cmd = c["lifecycle"]["preStop"]["exec"]["command"]
    assert cmd == ["/bin/sh", "-c", "kill -TERM 1"], cmd
    drain_ms = int(plaza_env(objects)["PLAZA_DRAIN_DELAY_MS"])
    assert drain_ms >= 3000, "too short for endpoints to be updated"
    # The grace period counts from the hook: the delay, the closing, and
    # room for writing the sessions to Redis.
    assert spec["terminationGracePeriodSeconds"] * 1000 >= drain_ms + LINGER_MS + 5000
    # Sessions outlive a drain: clients resume on another pod.
    assert int(plaza_env(objects)["PLAZA_RESUME_GRACE_MS"]) > drain_ms + LINGER_MS


def test_security_context_and_resources(objects):
    spec = one(objects, "Deployment")["spec"]["template"]["spec"]
    pod = spec["securityContext"]
    c = spec["containers"][0]
    sc = c["securityContext"]
    with open(os.path.join(ROOT, "docker", "Dockerfile")) as f:
        user = re.findall(r"^USER\s+(\d+)", f.read(), re.M)[-1]
    assert pod["runAsNonRoot"] is True and str(pod["runAsUser"]) == user
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    res = c["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"]
    assert res["limits"]["cpu"] and res["limits"]["memory"]
    # One worker per CPU of the limit (plaza would count the node's).
    assert int(plaza_env(objects)["PLAZA_WORKERS"]) == int(res["limits"]["cpu"])
    assert spec["automountServiceAccountToken"] is False
    ns = one(objects, "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # Redis too: non-root, read-only root, its data on the volume.
    rs = one(objects, "StatefulSet")["spec"]["template"]["spec"]
    assert rs["securityContext"]["runAsNonRoot"] is True
    assert rs["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def test_spread_pdb_hpa_and_service_select_the_plaza_pods(objects):
    deploy = one(objects, "Deployment")
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    redis_labels = one(objects, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert selects(deploy["spec"]["selector"]["matchLabels"], labels)
    strategy = deploy["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0 and strategy["maxSurge"] >= 1

    spread = deploy["spec"]["template"]["spec"]["topologySpreadConstraints"]
    keys = {s["topologyKey"] for s in spread}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, keys
    assert all(selects(s["labelSelector"]["matchLabels"], labels) for s in spread)

    pdb = one(objects, "PodDisruptionBudget")
    sel = pdb["spec"]["selector"]["matchLabels"]
    assert selects(sel, labels) and not selects(sel, redis_labels)
    assert pdb["spec"]["maxUnavailable"] == 1

    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deploy["metadata"]["name"]}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2

    svc = one(objects, "Service", "plaza")
    assert selects(svc["spec"]["selector"], labels)
    assert not selects(svc["spec"]["selector"], redis_labels)
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    assert svc["spec"].get("sessionAffinity", "None") == "None"


def test_secrets_and_redis_persistence(objects):
    env = plaza_env(objects)
    # The secrets exist, and none ships with a value anyone could know.
    for k in ("PLAZA_JWT_SECRET", "PLAZA_ADMIN_TOKEN", "PLAZA_REDIS"):
        assert k in env, k
    assert env["PLAZA_JWT_SECRET"] == "" and env["PLAZA_ADMIN_TOKEN"] == ""
    # PLAZA_REDIS names the Redis Service.
    redis_svc = one(objects, "Service", "plaza-redis")
    host = re.match(r"redis://(?:[^@]*@)?([^:/]+):(\d+)", env["PLAZA_REDIS"])
    assert host and host.group(1) == "plaza-redis" and \
        int(host.group(2)) == redis_svc["spec"]["ports"][0]["port"]
    assert redis_svc["spec"]["clusterIP"] == "None"
    sts = one(objects, "StatefulSet")
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes", args
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    data_dir = args[args.index("--dir") + 1]
    claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert {"name": claim, "mountPath": data_dir} in mounts
    # Only plaza's pods may reach it.
    np_ = one(objects, "NetworkPolicy")
    peer = np_["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert selects(peer, one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"])
    # Every PLAZA_* variable is a flag plaza knows (a typo would be ignored).
    help_text = subprocess.run([PLAZA_BIN, "--help"], capture_output=True, text=True).stdout
    for k in env:
        assert k in help_text, f"{k} is not one of plaza's variables"


def test_ingress_example_is_websocket_ready_and_sticky_free():
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(K8S, "ingress-example.yaml")) as f:
        ing = yaml.safe_load(f)
    ann = ing["metadata"]["annotations"]
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(ann["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert not [k for k in ann if "affinity" in k], ann
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "plaza", "port": {"name": "http"}}


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


@async_test
async def test_prestop_hook_drains_plaza_running_as_pid_1(objects):
    """The hook's command, run inside the PID namespace where plaza is PID
    1 (as in its container), then the kubelet's SIGTERM: /readyz turns 503
    at once, the client is still served and is closed with 1001 only after
    the drain delay, and plaza exits 0."""
    if os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("needs root for a PID namespace (unshare)")
    c = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    hook = c["lifecycle"]["preStop"]["exec"]["command"]
    drain_ms = 2000  # the pod's is longer; the hook reads whatever is set
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    env.update(PLAZA_DRAIN_DELAY_MS=str(drain_ms), PLAZA_PORT=str(port),
               PLAZA_HOST="127.0.0.1", PLAZA_WORKERS="2")
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", PLAZA_BIN],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while readyz(port) != 200:
            assert time.monotonic() < deadline and proc.poll() is None, "plaza did not start"
            time.sleep(0.05)
        # plaza's pid outside: the child of unshare's forked child.
        inner = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                               text=True).stdout.split()
        target = int(inner[0])
        with open(f"/proc/{target}/status") as f:
            nspid = [ln for ln in f if ln.startswith("NSpid:")][0].split()
        assert nspid[-1] == "1", f"plaza is not PID 1 in its namespace: {nspid}"

        class Srv:
            def ws_url(self, path="/ws"):
                return f"ws://127.0.0.1:{port}{path}"
        client = await Client.joined(Srv(), "lobby", name="rolling")
        t0 = time.monotonic()
        hook_proc = await asyncio.create_subprocess_exec(
            "nsenter", "-t", str(target), "-p", "-m", "--", *hook,
            env=dict(env, PATH=os.environ.get("PATH", "/usr/bin:/bin")))
        loop = asyncio.get_running_loop()
        st = None
        while time.monotonic() - t0 < 1.0 and st != 503:
            st = await loop.run_in_executor(None, readyz, port)
        assert st == 503, "/readyz did not turn 503 when the hook ran"
        assert await asyncio.wait_for(hook_proc.wait(), 10) == 0
        os.kill(target, signal.SIGTERM)  # the kubelet's, after the hook
        await client.ping()  # still served during the delay
        await client.expect_close(1001, timeout=drain_ms / 1000 + 5)
        closed_after = time.monotonic() - t0
        assert closed_after >= drain_ms / 1000 * 0.9, closed_after
        assert proc.wait(10) == 0
        out = proc.stdout.read().decode()
        assert "draining" in out and "stopped" in out, out
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
