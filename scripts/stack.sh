#!/usr/bin/env bash
# The local stand-ins for what mldeploy talks to, all on 127.0.0.1:
#   moto      ECR + STS API (GetAuthorizationToken, CreateRepository, ...)
#   registry  Debian's docker-registry with htpasswd auth, password = moto's ECR password
#   mlflow    tracking server (sqlite + proxied artifacts), the VPN-only server's stand-in
#   dockerd   a private Docker engine on a bridge of its own; STACK_DOCKER=0 skips it
# State (pids, logs, data, config) lives in $MLDEPLOY_CACHE/stack/.
#
# Usage: scripts/stack.sh start|stop|restart|status|env|create-repo NAME|purge|host-state
#   stop         also removes what the stack and its containers added to the machine since start
#                (bridges, iptables chains and rules, forwarding, /run/netns: scripts/host.sh)
#   env          prints `export K=V` lines (also written to $MLDEPLOY_CACHE/stack/env.sh)
#   create-repo  creates an ECR repository in moto (idempotent)
#   purge        stop, then delete all state (registry blobs, mlflow db, docker data)
#   host-state   prints the machine's network objects (what stop must leave as start found it)
set -euo pipefail
LOG_PREFIX=stack
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=host.sh
. "$(dirname "${BASH_SOURCE[0]}")/host.sh"

# Below Linux's ephemeral range (32768-60999): a test server on port 0 or an outgoing connection
# running beside the stack never takes one of these (47002 was taken so once, and mlflow could not bind).
MOTO_PORT="${MLDEPLOY_MOTO_PORT:-27000}"
REGISTRY_PORT="${MLDEPLOY_REGISTRY_PORT:-27001}"
MLFLOW_PORT="${MLDEPLOY_MLFLOW_PORT:-27002}"
STACK_DOCKER="${STACK_DOCKER:-1}"
STACK_DOCKER_NETWORK="${STACK_DOCKER_NETWORK:-bridge}"
DOCKER_NETWORK="$STACK_DOCKER_NETWORK"
# Our own bridge (not docker0), so a system dockerd is left alone, and one per
# state folder (name and /24 derived from its path), so two stacks with
# different MLDEPLOY_CACHE can run side by side.
_state_hash="$(printf '%s' "$STATE" | sha256sum)"
DOCKER_BRIDGE="${MLDEPLOY_DOCKER_BRIDGE:-mld${_state_hash:0:8}}"
DOCKER_BIP="${MLDEPLOY_DOCKER_BIP:-172.30.$((16#${_state_hash:8:2})).1/24}"
# moto's account (its default) and the region the stand-in answers for.
ACCOUNT_ID=123456789012
REGION="${MLDEPLOY_STACK_REGION:-us-east-1}"
# A server that exits is reported at once (wait_until); this only bounds one that hangs. A fresh
# machine's first mlflow start imports (and byte-compiles) mlflow: ~50 s at a load of 5 here.
START_TIMEOUT="${MLDEPLOY_STACK_TIMEOUT:-300}"

REGISTRY="127.0.0.1:$REGISTRY_PORT"
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
MLFLOW_URL="http://127.0.0.1:$MLFLOW_PORT"
REGISTRIES_CONF="$STATE/registries.conf"
ENV_FILE="$STATE/env.sh"

# ---------------------------------------------------------------- helpers

# A pid file counts only if its process is alive and is still what we started
# (after a reboot or a killed session the number may belong to someone else).
pid_alive() {
  local pid
  [ -f "$1" ] || return 1
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null || return 1
  [ -f "$1.cmd" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$(cat "$1.cmd")"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until NAME CMD...: poll CMD until it succeeds or START_TIMEOUT passes.
wait_until() {
  local name="$1"; shift
  local i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -f "$STATE/$name.pid" ] && ! pid_alive "$STATE/$name.pid"; then
      tail -n 5 "$STATE/$name.log" >&2 || true
      rm -f "$STATE/$name.pid" "$STATE/$name.pid.cmd"
      die "$name exited during start (see $STATE/$name.log)"
    fi
    sleep 0.25
  done
  die "$name did not come up in ${START_TIMEOUT}s (see $STATE/$name.log)"
}

# launch NAME PROG CMD...: start CMD in its own session (so stop can signal its
# whole process group: mlflow's workers, dockerd's containerd), log to
# STATE/NAME.log; PROG is what its command line must contain to count as ours.
launch() {
  local name="$1" prog="$2"; shift 2
  local pidfile="$STATE/$name.pid"
  if pid_alive "$pidfile"; then
    log "$name already running (pid $(cat "$pidfile"))"
    return 1
  fi
  setsid "$@" >>"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  echo "$prog" > "$pidfile.cmd"
  log "$name started (pid $!)"
}

stop_one() {
  local name="$1" pidfile="$STATE/$1.pid" pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile" "$pidfile.cmd"
    return 0
  fi
  pid="$(cat "$pidfile")"
  # The whole process group (launch made pid its leader): mlflow's uvicorn
  # child outlives its parent for a moment and keeps the port otherwise.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop on TERM, killing"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" "$pidfile.cmd"
  log "$name stopped"
}

check_port_free() {
  local name="$1" port="$2"
  if ! pid_alive "$STATE/$name.pid" && port_open "$port"; then
    die "port $port for $name is taken by another process (set MLDEPLOY_${name^^}_PORT)"
  fi
}

need_setup() {
  [ -x "$VENV/bin/moto_server" ] || die "no venv at $VENV: run scripts/setup-system.sh first"
  command -v docker-registry >/dev/null || die "docker-registry missing: run scripts/setup-system.sh first"
  command -v htpasswd >/dev/null || die "htpasswd missing: run scripts/setup-system.sh first"
}

# The password moto's GetAuthorizationToken hands out (base64 of AWS:<password>),
# asked for live so the registry always matches what the CLI will log in with.
moto_password() {
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
    "$VENV/bin/python" - "$MOTO_URL" "$REGION" <<'EOF'
import base64, sys, boto3
ecr = boto3.client("ecr", endpoint_url=sys.argv[1], region_name=sys.argv[2])
token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
user, _, password = base64.b64decode(token).decode().partition(":")
assert user == "AWS", user
print(password)
EOF
}

# ---------------------------------------------------------------- services

start_moto() {
  check_port_free moto "$MOTO_PORT"
  launch moto moto_server "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" || return 0
  wait_until moto curl -fsS "$MOTO_URL/moto-api/data.json"
}

start_registry() {
  if pid_alive "$STATE/registry.pid"; then
    log "registry already running (pid $(cat "$STATE/registry.pid"))"
    return 0
  fi
  check_port_free registry "$REGISTRY_PORT"
  local dir="$STATE/registry" password
  mkdir -p "$dir/data"
  password="$(moto_password)"
  echo "$password" > "$dir/password"
  # bcrypt: the only hash distribution's htpasswd auth accepts.
  htpasswd -Bbn AWS "$password" > "$dir/htpasswd"
  cat > "$dir/config.yml" <<EOF
# Written by scripts/stack.sh. CNCF distribution v2.8 (Debian's docker-registry).
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  secret: mldeploy-local-registry
auth:
  htpasswd:
    realm: mldeploy-local-registry
    path: $dir/htpasswd
EOF
  # distribution reads REGISTRY_* variables as config overrides: a sourced
  # env.sh's REGISTRY_AUTH_FILE (podman's login file) would become `auth.file`.
  local unset_vars=() v
  for v in $(compgen -e | grep '^REGISTRY_' || true); do unset_vars+=(-u "$v"); done
  launch registry docker-registry env "${unset_vars[@]}" docker-registry serve "$dir/config.yml" || return 0
  # 401 without credentials = up and enforcing auth.
  wait_until registry bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$REGISTRY/v2/)\" = 401 ]"
}

start_mlflow() {
  check_port_free mlflow "$MLFLOW_PORT"
  local dir="$STATE/mlflow"
  mkdir -p "$dir/artifacts"
  # --serve-artifacts: clients upload through the server (mlflow-artifacts:/),
  # as with the team's remote server; one worker is plenty here.
  # Job execution (huey consumers, ~8 extra processes) is not needed here.
  launch mlflow mlflow env MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true "$VENV/bin/mlflow" server \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --artifacts-destination "$dir/artifacts" --serve-artifacts || return 0
  wait_until mlflow curl -fsS "$MLFLOW_URL/health"
}

start_dockerd() {
  local dir="$DOCKER_DIR" driver
  # Same choice as podman's (lib.sh storage_driver): overlay2 when the kernel
  # allows overlay mounts here, else vfs. One data-root per driver.
  driver="$(storage_driver)"; [ "$driver" = overlay ] && driver=overlay2
  mkdir -p "$dir/data-$driver" "$DOCKER_RUN_DIR/exec"
  # A config file of its own so /etc/docker/daemon.json (if any) is not read; the engine's key
  # stays with its data (by default dockerd 20.10 writes /etc/docker/key.json).
  printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" > "$dir/daemon.json"
  # Left behind when a session was killed: dockerd refuses a live-looking one.
  pid_alive "$STATE/dockerd.pid" || rm -f "$DOCKER_RUN_DIR/dockerd.pid" "$DOCKER_SOCK"
  local net=()
  case "$DOCKER_NETWORK" in
    # docker0 + NAT rules: build steps (apt-get, uv pip install) and containers
    # reach the outside like on a normal engine.
    bridge)
      if ! ip link show "$DOCKER_BRIDGE" >/dev/null 2>&1; then
        ip link add "$DOCKER_BRIDGE" type bridge
        ip addr add "$DOCKER_BIP" dev "$DOCKER_BRIDGE"
        ip link set "$DOCKER_BRIDGE" up
      fi
      net=(--iptables=true --ip6tables=false --bridge "$DOCKER_BRIDGE") ;;
    # Leaves the host's netfilter alone, but then containers have no network at
    # all: `docker build` RUN steps cannot resolve names (BentoML's uv step
    # fails) unless the build is given --network host.
    none) net=(--iptables=false --ip6tables=false --bridge=none) ;;
    *) die "STACK_DOCKER_NETWORK must be bridge or none" ;;
  esac
  if launch dockerd dockerd dockerd \
    --config-file "$dir/daemon.json" \
    --storage-driver "$driver" "${net[@]}" \
    --data-root "$dir/data-$driver" --exec-root "$DOCKER_RUN_DIR/exec" \
    --pidfile "$DOCKER_RUN_DIR/dockerd.pid" -H "unix://$DOCKER_SOCK"; then
    wait_until dockerd docker -H "unix://$DOCKER_SOCK" version
  fi
  # The base image for BentoML's Dockerfile (no Docker Hub here).
  DOCKER_HOST="unix://$DOCKER_SOCK" "$MLDEPLOY_REPO/scripts/setup-system.sh" docker-import
}

write_registries_conf() {
  # Plain-http loopback registry: podman/buildah need `insecure` for it
  # (docker treats 127.0.0.0/8 as insecure by itself).
  cat > "$REGISTRIES_CONF" <<EOF
# Written by scripts/stack.sh; selected with CONTAINERS_REGISTRIES_CONF.
unqualified-search-registries = []

[[registry]]
location = "127.0.0.1:$REGISTRY_PORT"
insecure = true

[[registry]]
location = "localhost:$REGISTRY_PORT"
insecure = true
EOF
}

# ---------------------------------------------------------------- env

print_env() {
  local path="$VENV/bin:${PATH}"
  # Avoid piling up the venv when env.sh is sourced repeatedly.
  path="$VENV/bin:$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$VENV/bin" | paste -sd: -)"
  emit() { printf "export %s='%s'\n" "$1" "$2"; }
  echo "# mldeploy local stack (scripts/stack.sh env)"
  emit MLDEPLOY_CACHE "$MLDEPLOY_CACHE"
  emit MLDEPLOY_STACK_DIR "$STATE"
  emit MLDEPLOY_VENV "$VENV"
  emit MLDEPLOY_PYTHON "$VENV/bin/python"
  emit MLDEPLOY_BASE_IMAGE "$BASE_IMAGE"
  # AWS SDK (JS v3, boto3, aws CLI) -> moto
  emit AWS_ENDPOINT_URL "$MOTO_URL"
  emit AWS_ACCESS_KEY_ID testing
  emit AWS_SECRET_ACCESS_KEY testing
  emit AWS_REGION "$REGION"
  emit AWS_DEFAULT_REGION "$REGION"
  emit AWS_EC2_METADATA_DISABLED true
  emit MLDEPLOY_STACK_ACCOUNT_ID "$ACCOUNT_ID"
  # where images really go (moto is no registry)
  emit MLDEPLOY_REGISTRY "$REGISTRY"
  emit MLDEPLOY_REGISTRY_PASSWORD "$(cat "$STATE/registry/password" 2>/dev/null || echo "$ACCOUNT_ID-auth-token")"
  # logins kept out of ~/.docker and /run/containers
  emit REGISTRY_AUTH_FILE "$STATE/auth/podman-auth.json"
  emit DOCKER_CONFIG "$STATE/auth/docker"
  # podman / buildah in this sandbox
  emit CONTAINERS_REGISTRIES_CONF "$REGISTRIES_CONF"
  emit CONTAINERS_STORAGE_CONF "$STORAGE_CONF"
  emit CONTAINERS_CONF "$CONTAINERS_CONF"
  emit STORAGE_DRIVER "$(storage_driver)"
  emit BUILDAH_ISOLATION chroot
  # docker (legacy builder: Debian ships no buildx)
  if [ "$STACK_DOCKER" != 0 ]; then emit DOCKER_HOST "unix://$DOCKER_SOCK"; fi
  emit DOCKER_BUILDKIT 0
  # bentoml + mlflow
  emit BENTOML_HOME "$MLDEPLOY_CACHE/bentoml"
  emit BENTOML_DO_NOT_TRACK true
  # bentoml build locks the requirements with uv: its cache goes with the others, not to ~/.cache/uv
  emit UV_CACHE_DIR "$MLDEPLOY_CACHE/uv"
  emit MLFLOW_TRACKING_URI "$MLFLOW_URL"
  # no usage reports (and no ~/.config/mlflow/telemetry.json) from train.py and the model import
  emit MLFLOW_DISABLE_TELEMETRY true
  # podman, buildah, bentoml and the servers keep their temp files with the stack, not in the
  # test run's TMPDIR (scripts/test.sh fails a run that leaves anything there)
  emit TMPDIR "$STATE/tmp"
  emit PATH "$path"
}

# env.sh points REGISTRY_AUTH_FILE and DOCKER_CONFIG here: podman refuses to run or push when
# that file is missing (as on a fresh machine), so both start empty.
ensure_auth_files() {
  mkdir -p "$STATE/auth/docker"
  [ -f "$STATE/auth/podman-auth.json" ] || echo '{"auths": {}}' > "$STATE/auth/podman-auth.json"
}

write_env() {
  ensure_auth_files
  print_env > "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  need_setup
  mkdir -p "$STATE" "$STATE/tmp"
  # Before anything is started: stop removes what was not there (scripts/host.sh).
  host_record "$STATE/host"
  export TMPDIR="$STATE/tmp"
  ensure_auth_files
  write_storage_conf
  write_registries_conf
  phase moto start_moto
  phase registry start_registry
  phase mlflow start_mlflow
  if [ "$STACK_DOCKER" != 0 ]; then
    command -v dockerd >/dev/null || die "dockerd missing: run scripts/setup-system.sh first"
    phase dockerd start_dockerd
  fi
  write_env
  log "ready: source $ENV_FILE"
}

cmd_stop() {
  local s
  for s in dockerd mlflow registry moto; do stop_one "$s"; done
  rm -f "$DOCKER_SOCK" "$DOCKER_RUN_DIR/dockerd.pid"
  host_restore "$STATE/host"
}

cmd_status() {
  local s port rc=0
  for s in moto registry mlflow dockerd; do
    case "$s" in
      moto) port="$MOTO_URL" ;;
      registry) port="http://$REGISTRY" ;;
      mlflow) port="$MLFLOW_URL" ;;
      dockerd)
        port="unix://$DOCKER_SOCK network=$DOCKER_NETWORK"
        if [ "$DOCKER_NETWORK" = bridge ]; then port+=" ($DOCKER_BRIDGE $DOCKER_BIP)"; fi ;;
    esac
    if pid_alive "$STATE/$s.pid"; then
      printf '%-9s running  pid %-7s %s\n' "$s" "$(cat "$STATE/$s.pid")" "$port"
    elif [ "$s" = dockerd ] && [ "$STACK_DOCKER" = 0 ]; then
      printf '%-9s skipped  (STACK_DOCKER=0)\n' "$s"
    else
      printf '%-9s stopped\n' "$s"; rc=3
    fi
  done
  [ -f "$STATE/registry/password" ] && printf 'registry login: AWS / %s\n' "$(cat "$STATE/registry/password")"
  return "$rc"
}

cmd_create_repo() {
  local name="${1:?usage: stack.sh create-repo NAME [--immutable]}" mut=MUTABLE
  [ "${2:-}" = --immutable ] && mut=IMMUTABLE
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
    "$VENV/bin/python" - "$MOTO_URL" "$REGION" "$name" "$mut" <<'EOF'
import sys, boto3
url, region, name, mut = sys.argv[1:]
ecr = boto3.client("ecr", endpoint_url=url, region_name=region)
try:
    repo = ecr.create_repository(repositoryName=name, imageTagMutability=mut)["repository"]
    print(f"created {repo['repositoryUri']}")
except ecr.exceptions.RepositoryAlreadyExistsException:
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    print(f"exists {repo['repositoryUri']}")
EOF
}

cmd_purge() {
  cmd_stop
  # An engine killed hard can leave overlay mounts behind; rm can't cross them.
  awk -v d="$STATE/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf "$STATE"
  [ "$DOCKER_RUN_DIR" = "$DOCKER_DIR/run" ] || rm -rf "$DOCKER_RUN_DIR"
  if ip link show "$DOCKER_BRIDGE" >/dev/null 2>&1; then ip link delete "$DOCKER_BRIDGE"; fi
  log "state removed"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env) mkdir -p "$STATE"; write_env; cat "$ENV_FILE" ;;
  create-repo) shift; cmd_create_repo "$@" ;;
  purge) cmd_purge ;;
  host-state) host_state ;;
  -h|--help|help) sed -n '2,15p' "$0" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
