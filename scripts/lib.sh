# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this
# Shared bits of setup-system.sh and stack.sh. Sourced, never run.

MLDEPLOY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Everything downloaded or built goes under one folder (gitignored).
MLDEPLOY_CACHE="${MLDEPLOY_CACHE:-$MLDEPLOY_REPO/.cache}"
mkdir -p "$MLDEPLOY_CACHE"
MLDEPLOY_CACHE="$(cd "$MLDEPLOY_CACHE" && pwd)"
export MLDEPLOY_CACHE

VENV="$MLDEPLOY_CACHE/venv"
STATE="$MLDEPLOY_CACHE/stack"
BASE_DIR="$MLDEPLOY_CACHE/base"
BASE_IMAGE="${MLDEPLOY_BASE_IMAGE:-localhost/mldeploy-base:bookworm}"

# podman keeps its images under the cache too, so a fresh clone never mixes
# with a system-wide store; one store per storage driver (they can't share).
CONTAINERS_DIR="$MLDEPLOY_CACHE/containers"
STORAGE_CONF="$CONTAINERS_DIR/storage.conf"
CONTAINERS_CONF="$CONTAINERS_DIR/containers.conf"

# The private dockerd's data lives in the state folder; its sockets go there too
# unless the path is too long for a unix socket (108 bytes, and containerd puts
# its own socket a few levels below the exec-root).
DOCKER_DIR="$STATE/docker"
if [ "${#STATE}" -gt 60 ]; then
  DOCKER_RUN_DIR="/tmp/mldeploy-$(printf '%s' "$STATE" | sha256sum | cut -c1-10)"
else
  DOCKER_RUN_DIR="$DOCKER_DIR/run"
fi
DOCKER_SOCK="$DOCKER_RUN_DIR/docker.sock"

log() { printf '[%s] %s\n' "${LOG_PREFIX:-mldeploy}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a phase and print how long it took.
phase() {
  local name="$1"; shift
  local t0 t1 ms
  t0=$(date +%s%N)
  log "$name ..."
  "$@"
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  log "$name done in $((ms / 1000)).$(( (ms % 1000) / 100 ))s"
}

# overlay is much faster than vfs (vfs copies the whole tree for every layer:
# a fully cached BentoML containerize took 110 s on vfs) but needs a kernel
# overlay mount on the cache's filesystem. MLDEPLOY_STORAGE_DRIVER=vfs|overlay
# forces one; otherwise probe once and remember.
storage_driver() {
  if [ -n "${MLDEPLOY_STORAGE_DRIVER:-}" ]; then echo "$MLDEPLOY_STORAGE_DRIVER"; return; fi
  local f="$CONTAINERS_DIR/driver" d
  if [ -f "$f" ]; then cat "$f"; return; fi
  mkdir -p "$CONTAINERS_DIR"
  d="$(mktemp -d "$CONTAINERS_DIR/probe.XXXXXX")"
  mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    umount "$d/m"; echo overlay > "$f"
  else
    echo vfs > "$f"
  fi
  rm -rf "$d"
  cat "$f"
}

# ulimits for `podman run`: podman asks for nofile/nproc far above this
# sandbox's hard limits and crun/runc fail with "setrlimit ... Operation not
# permitted" (no CAP_SYS_RESOURCE); nproc above 32768 fails even under the hard limit.
container_ulimits() {
  local nofile nproc
  nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
  nproc="$(ulimit -Hu)"; { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  printf '"nofile=%s:%s", "nproc=%s:%s"' "$nofile" "$nofile" "$nproc" "$nproc"
}

write_storage_conf() {
  local driver
  driver="$(storage_driver)"
  mkdir -p "$CONTAINERS_DIR/storage-$driver" "$CONTAINERS_DIR/run-$driver"
  cat > "$STORAGE_CONF.tmp" <<EOF
# Written by scripts/lib.sh. Selected with CONTAINERS_STORAGE_CONF.
[storage]
driver = "$driver"
graphroot = "$CONTAINERS_DIR/storage-$driver"
runroot = "$CONTAINERS_DIR/run-$driver"
EOF
  mv "$STORAGE_CONF.tmp" "$STORAGE_CONF"
  # runc + cgroupfs: crun refuses this host's hybrid cgroup v1/v2 layout
  # ("cgroups in hybrid mode not supported").
  cat > "$CONTAINERS_CONF.tmp" <<EOF
# Written by scripts/lib.sh. Selected with CONTAINERS_CONF.
[containers]
default_ulimits = [ $(container_ulimits) ]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
}

# Environment for podman/buildah in this sandbox.
podman_env() {
  export CONTAINERS_STORAGE_CONF="$STORAGE_CONF"
  export CONTAINERS_CONF="$CONTAINERS_CONF"
  STORAGE_DRIVER="$(storage_driver)"
  export STORAGE_DRIVER
  export BUILDAH_ISOLATION=chroot
}

# Node MAJOR from the npm registry (node-linux-<arch>@MAJOR carries the binary in its package),
# installed once into $MLDEPLOY_CACHE/node<MAJOR>; prints the folder of its `node`, to put first on
# PATH. The machine's own node and npm (any version npm runs on) only do this install: the
# project's engines (>= 22.13) are not checked for a package installed under another prefix.
registry_node() {
  local major="$1" arch dir
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "no node-linux-* package for $(uname -m)"; return 1 ;;
  esac
  dir="$MLDEPLOY_CACHE/node$major"
  if [ ! -x "$dir/node_modules/node-linux-$arch/bin/node" ]; then
    log "setup: Node $major from the npm registry (node-linux-$arch@$major)"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund \
      --cache "$MLDEPLOY_CACHE/npm" "node-linux-$arch@$major" >/dev/null || return 1
  fi
  printf '%s\n' "$dir/node_modules/node-linux-$arch/bin"
}
