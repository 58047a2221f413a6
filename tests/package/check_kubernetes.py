#!/usr/bin/env python3
"""The Kubernetes manifests (deploy/kubernetes/) and systemd units against the binary.

usage: check_kubernetes.py BINARY SOURCE_DIR VERSION

- yamllint (strict) passes on deploy/kubernetes;
- every kustomization's resources exist, and every manifest belongs to a kustomization;
- the Deployment: one replica, probes on /livez and /readyz, non-root, a read-only root
  filesystem, every capability dropped; the CronJob: concurrencyPolicy Forbid, --run-once, and
  --metrics-file or --push-metrics; the password from a Secret;
- every flag the manifests and the systemd units pass is an option of `BINARY --help`, every
  variable of base/batch_cleanup.env is one the binary reads, and every port the manifests name
  is the one --http-listen gives;
- every probe path and the ServiceMonitor's path answer (not 404) on a daemon started with
  --http-listen (SQLite, loopback);
- the PrometheusRule holds exactly deploy/prometheus/batch_cleanup_alerts.yml's groups, and the
  image tag is VERSION.
Every failed assertion is listed before the exit.

Until the observability work (issue 14) is merged, the binary has neither --metrics-file nor
--push-metrics, nor /livez and /readyz. While --help shows neither batch-metrics flag, the
failures that name exactly those four are reported and the test is skipped (exit 77); every
other assertion still fails the test. Once either flag exists, all of them are enforced.
"""
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

binary, source, version = sys.argv[1:4]
kube = os.path.join(source, "deploy", "kubernetes")
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, env={}).stdout
flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))
env_names = set(re.findall(r"\(Env:([A-Z0-9_]+)\)", help_text))

lint = subprocess.run(["yamllint", "-s", "-c", os.path.join(kube, ".yamllint"), kube],
                      capture_output=True, text=True)
check(lint.returncode == 0, f"yamllint: {lint.stdout}{lint.stderr}")

# Kustomizations and their resources.
referenced = set()
manifests = {}
for k in glob.glob(os.path.join(kube, "**", "kustomization.yaml"), recursive=True):
    base = os.path.dirname(k)
    doc = load_all(k)[0]
    for resource in doc.get("resources", []):
        path = os.path.normpath(os.path.join(base, resource))
        if check(os.path.exists(path), f"{k}: resource {resource} does not exist"):
            referenced.add(path)
    for generator in doc.get("configMapGenerator", []):
        for env_file in generator.get("envs", []):
            path = os.path.join(base, env_file)
            if check(os.path.exists(path), f"{k}: env file {env_file} does not exist"):
                referenced.add(path)
    for image in doc.get("images", []):
        check(str(image.get("newTag")) == version,
              f"{k}: image tag {image.get('newTag')} is not the version {version}")
for path in glob.glob(os.path.join(kube, "**", "*.yaml"), recursive=True):
    if os.path.basename(path) == "kustomization.yaml":
        continue
    check(path in referenced, f"{path}: no kustomization lists it")
    for doc in load_all(path):
        manifests.setdefault(doc["kind"], []).append(doc)

for kind in ("Deployment", "CronJob", "Service", "ServiceMonitor", "PrometheusRule"):
    check(len(manifests.get(kind, [])) == 1, f"expected one {kind}, found {len(manifests.get(kind, []))}")


def pod_spec(kind):
    doc = manifests[kind][0]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def check_pod(kind):
    spec = pod_spec(kind)
    check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{kind}: not runAsNonRoot")
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{kind}: root filesystem not read-only")
        check(sc.get("allowPrivilegeEscalation") is False, f"{kind}: privilege escalation allowed")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{kind}: capabilities not dropped")
        secret = [e for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
        check(any(e["name"] == "PGPASSWORD" for e in secret), f"{kind}: no PGPASSWORD from a Secret")
    return spec["containers"][0]


used_flags = {}  # flag -> where
deployment = check_pod("Deployment")
cronjob = check_pod("CronJob")
for kind, container in (("Deployment", deployment), ("CronJob", cronjob)):
    for arg in container.get("args", []):
        if arg.startswith("--"):
            used_flags.setdefault(arg.split("=", 1)[0], f"{kind} args")

check(manifests["Deployment"][0]["spec"].get("replicas") == 1, "Deployment: replicas is not 1")
probes = {p: deployment.get(p, {}).get("httpGet", {}) for p in ("livenessProbe", "readinessProbe")}
check(probes["livenessProbe"].get("path") == "/livez", "Deployment: livenessProbe is not /livez")
check(probes["readinessProbe"].get("path") == "/readyz", "Deployment: readinessProbe is not /readyz")
cron = manifests["CronJob"][0]["spec"]
check(cron.get("concurrencyPolicy") == "Forbid", "CronJob: concurrencyPolicy is not Forbid")
cron_flags = {a.split("=", 1)[0] for a in cronjob.get("args", [])}
check("--run-once" in cron_flags, "CronJob: no --run-once")
check(bool(cron_flags & {"--metrics-file", "--push-metrics"}),
      "CronJob: neither --metrics-file nor --push-metrics")

# Ports: the one --http-listen gives is the container port, which the probes, the Service and the
# ServiceMonitor name.
listen = [a.split("=", 1)[1] for a in deployment["args"] if a.startswith("--http-listen=")]
if check(len(listen) == 1, "Deployment: no --http-listen=HOST:PORT argument"):
    port = int(listen[0].rsplit(":", 1)[1])
    named = {p["name"]: p["containerPort"] for p in deployment.get("ports", [])}
    check(named.get("http") == port, f"Deployment: container port http is not {port}: {named}")
    for probe in probes.values():
        check(probe.get("port") in named, f"Deployment: probe port {probe.get('port')} is not named")
    service = manifests["Service"][0]["spec"]["ports"]
    check([p.get("targetPort") for p in service] == ["http"], "Service: targetPort is not http")
    endpoints = manifests["ServiceMonitor"][0]["spec"]["endpoints"]
    check({e["port"] for e in endpoints} <= {p["name"] for p in service},
          "ServiceMonitor: endpoint port not a Service port")

# The systemd units' flags too.
for unit in glob.glob(os.path.join(source, "deploy", "systemd", "*.service")):
    text = open(unit).read().replace("\\\n", " ")
    for line in re.findall(r"^ExecStart=(.*)$", text, re.M):
        for arg in line.split()[1:]:
            if arg.startswith("--"):
                used_flags.setdefault(arg.split("=", 1)[0], os.path.basename(unit))
for flag, where in sorted(used_flags.items()):
    check(flag in flags, f"{where}: {flag} is not an option of batch_cleanup --help")

libpq_env = re.compile(r"^PG[A-Z]+$")
with open(os.path.join(kube, "base", "batch_cleanup.env")) as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith("#"):
            name = line.split("=", 1)[0]
            check(name in env_names or libpq_env.match(name),
                  f"base/batch_cleanup.env: {name} is not a variable batch_cleanup reads")

rules = yaml.safe_load(open(os.path.join(source, "deploy", "prometheus", "batch_cleanup_alerts.yml")))
check(manifests["PrometheusRule"][0]["spec"].get("groups") == rules["groups"],
      "PrometheusRule: not deploy/prometheus/batch_cleanup_alerts.yml's groups "
      "(run scripts/kubernetes_rules.sh)")

# The paths, asked of a running daemon.
paths = [p["path"] for p in probes.values() if p.get("path")]
paths += [e.get("path", "/metrics") for e in manifests["ServiceMonitor"][0]["spec"]["endpoints"]]
with tempfile.TemporaryDirectory() as work:
    db = os.path.join(work, "demo.db")
    subprocess.run([binary, "demo", "--rows", "100", "--path", db], check=True,
                   capture_output=True, env={})
    log = open(os.path.join(work, "daemon.log"), "w+")
    daemon = subprocess.Popen([binary, "--daemon", "--interval", "1h", "--database-url",
                               f"sqlite:{db}", "--http-listen", "127.0.0.1:0"],
                              stdout=log, stderr=subprocess.STDOUT, env={})
    try:
        address = None
        for _ in range(100):
            log.seek(0)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", log.read())
            if m:
                address = m.group(1)
                break
            time.sleep(0.1)
        if check(address is not None, "the daemon did not say where it listens"):
            for path in paths:
                try:
                    status = urllib.request.urlopen(address + path, timeout=5).status
                except urllib.error.HTTPError as e:
                    status = e.code
                check(status != 404, f"GET {path} on the daemon: 404 (the manifests probe it)")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)

ISSUE_14 = ("--push-metrics is not an option", "--metrics-file is not an option",
            "GET /livez on the daemon: 404", "GET /readyz on the daemon: 404")
before_issue_14 = not flags & {"--metrics-file", "--push-metrics"}
waiting = [f for f in failures if before_issue_14 and any(name in f for name in ISSUE_14)]
failures = [f for f in failures if f not in waiting]
for message in failures:
    print("FAIL:", message)
if failures:
    sys.exit(1)
if waiting:
    for message in waiting:
        print("WAITING for issue 14 (observability):", message)
    print("skipped: the binary has no --metrics-file/--push-metrics yet; everything else passed")
    sys.exit(77)
print(f"kubernetes manifests OK: {len(used_flags)} flags, {len(paths)} paths, port and rules checked")
