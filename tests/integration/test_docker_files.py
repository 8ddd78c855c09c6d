"""The docker/ files. No Docker engine runs on the test machines, so each file
is checked with the tool that reads it, from Debian: the compose file with
docker-compose 1.29 (`config`), haproxy.cfg with `haproxy -c`, prometheus.yml
with promtool, the Grafana dashboard's queries with promtool and against what
a running plaza exposes on /metrics. The Dockerfile's build stage is replayed
outside Docker (the folders it copies, the make it runs), its package lists
are compared with the Makefile's and with what build/plaza links, and its
HEALTHCHECK command is run against a real plaza. test_cluster_topology.py
runs the compose topology itself as local processes."""

import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.request

import pytest

from topology import RedisServer, need, plaza_supports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = os.path.join(ROOT, "docker")
DASHBOARD = os.path.join(DOCKER, "grafana", "dashboards", "plaza.json")

# Metrics the Redis bus adds (being built now). A node without the bus does
# not expose them; the dashboard already charts them.
REDIS_BUS_METRICS = {"plaza_redis_reconnects_total", "plaza_redis_publishes_total",
                     "plaza_redis_messages_received_total", "plaza_redis_bad_messages_total"}


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def dockerfile_stages():
    """(build stage text, runtime stage text) of docker/Dockerfile."""
    text = re.sub(r"\\\n", " ", read("docker", "Dockerfile"))  # join continued lines
    build, run = text.split("FROM debian:12-slim")
    return build, run


# --- docker-compose -------------------------------------------------------

def compose_config(*extra):
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed")
    yaml = pytest.importorskip("yaml")  # PyYAML comes with Debian's docker-compose
    r = subprocess.run([exe, "-f", "docker/compose.yml", *extra, "config"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_compose_file_is_valid():
    cfg = compose_config()
    svc = cfg["services"]
    assert set(svc) >= {"redis", "plaza", "haproxy"}, sorted(svc)
    plaza = svc["plaza"]
    # `--scale plaza=3` needs plaza without a fixed host port.
    assert "ports" not in plaza, f"plaza publishes {plaza['ports']}: replicas would collide"
    env = plaza["environment"]
    assert env["PLAZA_REDIS"] == "redis://redis:6379"
    assert "PLAZA_NODE_ID" not in env, \
        "one PLAZA_NODE_ID for every replica would give them the same ids"
    assert plaza["depends_on"]["redis"]["condition"] == "service_healthy"
    assert svc["redis"]["healthcheck"]["test"], "redis has no healthcheck to wait for"
    # The monitoring and TLS services only come with their profiles.
    for name, s in svc.items():
        want = {"prometheus": ["monitoring"], "grafana": ["monitoring"],
                "haproxy-tls": ["tls"]}.get(name)
        assert s.get("profiles") == want, f"{name}: profiles {s.get('profiles')}"


def published(service):
    """{(host port, host address): container port}; docker-compose 1.29
    prints "addr:published:target/tcp", compose v2 a mapping."""
    out = {}
    for p in service["ports"]:
        if isinstance(p, dict):
            out[(int(p["published"]), p.get("host_ip"))] = int(p["target"])
        else:
            host_ip, pub, target = p.split("/")[0].rsplit(":", 2)
            out[(int(pub), host_ip)] = int(target)
    return out


def volumes(service):
    """[(source, target, named volume?)] in either docker-compose's form."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out.append((v["source"], v["target"], v.get("type") == "volume"))
        else:
            src, target = v.split(":")[:2]
            out.append((src, target, not src.startswith(("/", "."))))
    return out


def test_compose_ports_come_from_variables_and_stay_off_make_runs():
    svc = compose_config()["services"]
    lb = svc["haproxy"]
    # Defaults: clients on 8000 (make run has 8080), stats on localhost.
    assert published(lb) == {(8000, "0.0.0.0"): 8080, (8404, "127.0.0.1"): 8404}, lb["ports"]
    assert published(svc["haproxy-tls"]) == {(8443, "0.0.0.0"): 8443}
    for name in ("prometheus", "grafana"):
        assert {ip for _, ip in published(svc[name])} == {"127.0.0.1"}, name
    # Each from its variable.
    env = dict(os.environ, LB_PORT="9100", LB_STATS_PORT="9101", LB_TLS_PORT="9102",
               LB_BIND="127.0.0.1", LB_SLOTS="200")
    r = subprocess.run([shutil.which("docker-compose"), "-f", "docker/compose.yml", "config"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    svc = pytest.importorskip("yaml").safe_load(r.stdout)["services"]
    assert published(svc["haproxy"]) == {(9100, "127.0.0.1"): 8080, (9101, "127.0.0.1"): 8404}
    assert published(svc["haproxy-tls"]) == {(9102, "127.0.0.1"): 8443}
    assert svc["haproxy"]["environment"]["HAPROXY_SLOTS"] == "200"


def test_compose_proxy_protocol_drain_and_redis_persistence():
    cfg = compose_config()
    svc = cfg["services"]
    env = svc["plaza"]["environment"]
    assert env["PLAZA_PROXY_PROTOCOL"] == "on"
    # The nodes trust exactly the two haproxy services' fixed addresses,
    # which lie in the compose network's subnet.
    import ipaddress
    net = ipaddress.ip_network(cfg["networks"]["default"]["ipam"]["config"][0]["subnet"])
    lbs = {svc[n]["networks"]["default"]["ipv4_address"] for n in ("haproxy", "haproxy-tls")}
    assert all(ipaddress.ip_address(a) in net for a in lbs), (lbs, net)
    assert set(env["PLAZA_TRUSTED_PROXIES"].split(",")) == {f"{a}/32" for a in lbs}
    # haproxy sends PROXY v2 to every replica slot.
    assert re.search(r"^\s*server-template\s.*\bsend-proxy-v2\b", read("docker", "haproxy.cfg"),
                     re.M)
    # docker stop: the drain delay and the closing fit in the grace period.
    grace = svc["plaza"]["stop_grace_period"]
    grace_s = float(grace[:-1]) if isinstance(grace, str) else grace / 1e9
    assert grace_s * 1000 >= int(env["PLAZA_DRAIN_DELAY_MS"]) + 3000 + 2000, grace
    # haproxy takes a draining replica out (fall 2 x fastinter after one
    # inter) before the delay ends.
    assert int(env["PLAZA_DRAIN_DELAY_MS"]) > 2500
    # Redis keeps an append-only file on a named volume.
    cmd = svc["redis"]["command"]
    assert cmd[cmd.index("--appendonly") + 1] == "yes", cmd
    assert ("redis-data", "/data", True) in volumes(svc["redis"]), svc["redis"]["volumes"]
    assert "redis-data" in cfg["volumes"]


def test_compose_file_is_valid_with_the_monitoring_and_tls_profiles(tmp_path):
    # docker-compose 1.29 takes --profile (from 1.28), as docker compose v2 does.
    pem = tmp_path / "plaza.pem"
    pem.write_text("a certificate and key\n")
    os.environ["LB_TLS_CERT"] = str(pem)
    try:
        cfg = compose_config("--profile", "monitoring", "--profile", "tls")
    finally:
        del os.environ["LB_TLS_CERT"]
    svc = cfg["services"]
    assert {"prometheus", "grafana", "haproxy-tls"} <= set(svc), sorted(svc)
    # Every file the services mount is in the repository (or given).
    for name, s in svc.items():
        for src, _, named in volumes(s):
            assert named or os.path.exists(src), f"{name} mounts {src}, which does not exist"
    tls = svc["haproxy-tls"]
    mounted = {target: src for src, target, _ in volumes(tls)}
    assert mounted[tls["environment"]["HAPROXY_TLS_CERT"]] == str(pem)


def test_the_files_name_the_compose_services():
    """haproxy, Prometheus and Grafana find plaza and each other by compose
    service name and port: a rename in one file must show up here."""
    svc = set(compose_config("--profile", "monitoring")["services"])
    hx = read("docker", "haproxy.cfg")
    m = re.search(r'^\s*server-template\s+\S+\s+"\$\{HAPROXY_SLOTS-(\d+)\}"\s+(\w+):(\d+)\s',
                  hx, re.M)
    assert m and m.group(2) in svc and m.group(3) == "8080", m and m.group(0)
    # The default slots cover a good --scale; the compose default agrees.
    cfg = compose_config()
    assert cfg["services"]["haproxy"]["environment"]["HAPROXY_SLOTS"] == m.group(1)
    assert int(m.group(1)) >= 32
    prom = pytest.importorskip("yaml").safe_load(read("docker", "prometheus.yml"))
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    sd = jobs["plaza"]["dns_sd_configs"][0]
    assert sd["names"] == ["plaza"] and sd["port"] == 8080, sd
    assert "plaza" in svc
    ds = read("docker", "grafana", "provisioning", "datasources", "prometheus.yml")
    host = re.search(r"url:\s*http://([\w-]+):9090", ds)
    assert host and host.group(1) in svc, ds


# --- Dockerfile -------------------------------------------------------------

def test_dockerfile_builds_with_the_makefile_packages():
    make = read("Makefile")
    m = re.search(r"^RUN_DEBS := (.*?)(?<!\\)\n", make, re.S | re.M)
    assert m, "RUN_DEBS not found in the Makefile"
    run_debs = set(m.group(1).replace("\\", " ").split())
    build_stage, _ = dockerfile_stages()
    missing = sorted(p for p in run_debs if p not in build_stage)
    assert not missing, f"Dockerfile build stage lacks {missing}"


def test_dockerfile_copies_everything_the_build_needs(tmp_path):
    """Replay the build stage without Docker: copy what its COPY lines copy
    (minus .dockerignore) into an empty folder and run its make there. A
    folder the build needs but the Dockerfile forgets fails here (as clients/
    once did)."""
    build_stage, run_stage = dockerfile_stages()
    ignore = [ln.strip().rstrip("/") for ln in read(".dockerignore").splitlines()
              if ln.strip() and not ln.startswith("#")]

    def ignored(rel):
        return any(rel == pat or rel.startswith(pat + "/") for pat in ignore)

    copies = re.findall(r"^COPY\s+(?!--)(.+)$", build_stage, re.M)
    assert copies, "no COPY in the build stage"
    for line in copies:
        *srcs, dest = line.split()
        for src in srcs:
            assert not os.path.isabs(src)
            to = tmp_path / (src if dest in ("./", ".") else dest)
            if os.path.isdir(os.path.join(ROOT, src)):
                for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, src)):
                    rel_dir = os.path.relpath(dirpath, ROOT)
                    dirnames[:] = [d for d in dirnames if not ignored(os.path.join(rel_dir, d))]
                    for f in filenames:
                        rel = os.path.relpath(os.path.join(dirpath, f), os.path.join(ROOT, src))
                        os.makedirs(to / os.path.dirname(rel), exist_ok=True)
                        shutil.copy2(os.path.join(dirpath, f), to / rel)
            else:
                shutil.copy2(os.path.join(ROOT, src), to)

    make = re.search(r"^RUN\s+make\s+(.*)$", build_stage, re.M)
    assert make, "no `RUN make` in the build stage"
    targets = [w for w in shlex.split(make.group(1)) if not w.startswith("-")]
    assert targets, make.group(0)
    # -O0: the point is that it compiles and links, not how fast it runs.
    r = subprocess.run(["make", "-j2", "OPT=-O0", *targets], cwd=tmp_path,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"make {' '.join(targets)} failed in the copied tree:\n" \
        f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    # The runtime stage copies what that make produced.
    for line in re.findall(r"^COPY\s+--from=build\s+(.+)$", run_stage, re.M):
        for src in line.split()[:-1]:
            rel = os.path.relpath(src, "/src")  # WORKDIR of the build stage
            assert "WORKDIR /src" in build_stage
            assert (tmp_path / rel).is_file(), f"the runtime stage copies {src}, not built"


# In debian:12-slim whatever the Dockerfile installs: the C and C++ runtimes
# (apt itself needs them), besides every package of priority `required`.
SLIM_BASE = {"libc6", "libgcc-s1", "libstdc++6"}


def test_runtime_stage_installs_every_library_plaza_links():
    """ldd build/plaza and build/plaza-cli: each shared library must come from
    a package the runtime stage installs or one debian:12-slim has."""
    _, run_stage = dockerfile_stages()
    m = re.search(r"apt-get install[^&]*?--no-install-recommends\s+([^&|]+)", run_stage)
    assert m, "no apt-get install in the runtime stage"
    installed = set(m.group(1).split())
    libs = {}  # resolved path -> the programs linking it
    for prog in ("plaza", "plaza-cli"):
        path = os.path.join(ROOT, "build", prog)
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: run make first", pytrace=False)
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
        for lib in re.findall(r"=>\s+(/\S+)", out):
            libs.setdefault(os.path.realpath(lib), []).append(prog)
    assert libs, "ldd found no shared libraries"
    # One dpkg -S for all (it reads the whole database each time). Debian 12
    # is merged-/usr: the package lists /lib/..., ldd may say /usr/lib/...
    owners = {}
    paths = {p: {p, p.removeprefix("/usr")} for p in libs}
    r = subprocess.run(["dpkg", "-S", *{q for qs in paths.values() for q in qs}],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        pkgs, _, file = line.partition(": ")
        for p, qs in paths.items():
            if file in qs:
                owners[p] = pkgs.split(",")[0].split(":")[0].strip()
    unowned = sorted(set(libs) - set(owners))
    assert not unowned, f"libraries of no Debian package: {unowned}"
    prio = dict(ln.split(" ", 1) for ln in subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Priority}\n", *set(owners.values())],
        capture_output=True, text=True).stdout.splitlines())
    missing = {owners[p]: f"{p} ({', '.join(progs)})" for p, progs in libs.items()
               if owners[p] not in installed | SLIM_BASE and prio.get(owners[p]) != "required"}
    assert not missing, f"the runtime stage does not install {missing}"


def test_healthcheck_command_reports_a_live_node(plaza):
    """The HEALTHCHECK line, run as Docker runs it (sh -c, the image's
    environment), passes against a live plaza and fails without one."""
    need("curl")
    _, run_stage = dockerfile_stages()
    m = re.search(r"^HEALTHCHECK\s+(?:--\S+\s+)*CMD\s+(.+)$", run_stage, re.M)
    assert m, "no HEALTHCHECK in the runtime stage"
    cmd = m.group(1).strip()
    assert not cmd.startswith("["), "exec form cannot read PLAZA_PORT; keep the shell form"
    assert "/readyz" in cmd
    user = re.findall(r"^USER\s+(\S+)", run_stage, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), f"runs as {user}"

    srv = plaza()
    env = dict(os.environ, PLAZA_PORT=str(srv.port))
    r = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"healthcheck failed against a live node: {r.stderr}"
    srv.stop()
    r = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode != 0, "healthcheck passed with the node stopped"


# --- haproxy, Prometheus ----------------------------------------------------

def haproxy_check(**env):
    # -dW: warnings fail too. The `resolvers docker` nameserver (Docker's DNS,
    # 127.0.0.11) is only queried at run time, and init-addr none spares the
    # start-up lookup of `plaza`, so the file checks as is outside Docker.
    return subprocess.run([need("haproxy"), "-dW", "-c", "-f", "docker/haproxy.cfg"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30,
                          env=dict({k: v for k, v in os.environ.items()
                                    if not k.startswith("HAPROXY_")}, **env))


def test_haproxy_config_is_valid(tmp_path):
    r = haproxy_check()
    assert r.returncode == 0, r.stdout + r.stderr
    # As the compose services run it: the stats login, more slots, and the
    # TLS bind with a real certificate.
    from test_tls import make_cert
    cert, key = make_cert(str(tmp_path))
    pem = tmp_path / "plaza.pem"
    pem.write_text(open(cert).read() + open(key).read())
    r = haproxy_check(HAPROXY_STATS_USER="admin", HAPROXY_STATS_PASSWORD="s3cret",
                      HAPROXY_SLOTS="128", HAPROXY_TLS_CERT=str(pem))
    assert r.returncode == 0, r.stdout + r.stderr
    # A certificate that is not there fails the check: the TLS bind is real.
    r = haproxy_check(HAPROXY_TLS_CERT=str(tmp_path / "missing.pem"))
    assert r.returncode != 0


def test_prometheus_config_is_valid():
    r = subprocess.run([need("promtool"), "check", "config", "docker/prometheus.yml"],
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


# --- the Grafana dashboard ----------------------------------------------------

def dashboard_exprs():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        exprs.append(q["query"] if isinstance(q, dict) else q)
    assert len(exprs) >= 10, exprs
    return exprs


def dashboard_metric_names():
    names = set()
    for e in dashboard_exprs():
        names |= set(re.findall(r"\b(plaza_[a-z0-9_]+)", e))
    return names


def exposed_samples(srv):
    """The sample names a plaza's /metrics exposes, as written: a histogram
    appears as its _bucket, _sum and _count, which is what a query must use."""
    with urllib.request.urlopen(srv.http_url("/metrics"), timeout=5) as r:
        text = r.read().decode()
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", ln).group(0)
            for ln in text.splitlines() if ln and not ln.startswith("#")}


def test_dashboard_queries_are_valid_promql(tmp_path):
    """Each panel's query, with Grafana's variables given values, as a
    Prometheus recording rule: promtool parses every expression."""
    rules = []
    for i, e in enumerate(dashboard_exprs()):
        if e.startswith("label_values("):
            continue  # a Grafana function, not PromQL
        e = e.replace("$__rate_interval", "1m").replace("$instance", ".*")
        rules.append({"record": f"dashboard:expr_{i}", "expr": e})
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = subprocess.run([need("promtool"), "check", "rules", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dashboard_metrics_exist_on_a_node(plaza):
    srv = plaza()
    exposed = exposed_samples(srv)
    wanted = dashboard_metric_names() - REDIS_BUS_METRICS
    missing = sorted(wanted - exposed)
    assert not missing, f"the dashboard queries {missing}, which /metrics does not expose"
    # The panels the brief asks for are there.
    for name in ("plaza_connections", "plaza_rooms", "plaza_messages_in_total",
                 "plaza_messages_out_total", "plaza_tick_duration_seconds_bucket",
                 "plaza_redis_link_up", "plaza_dropped_frames_total"):
        assert name in wanted, f"no panel queries {name}"
    assert REDIS_BUS_METRICS <= dashboard_metric_names()


@pytest.mark.skipif(not plaza_supports("--redis"),
                    reason="build/plaza --help lists no --redis: the Redis bus has not "
                           "landed, so the redis_* counters cannot be checked yet")
def test_dashboard_redis_metrics_exist_on_a_clustered_node(plaza, tmp_path):
    redis = RedisServer()
    try:
        srv = plaza(redis=redis.url)
        missing = sorted(dashboard_metric_names() - exposed_samples(srv))
        assert not missing, f"the dashboard queries {missing}, which a node with --redis " \
            "does not expose"
        srv.stop()
    finally:
        redis.stop()
        redis.cleanup()
