#!/usr/bin/env bash
# Installs what the real local stack needs, idempotently:
#   apt          Debian packages (podman, docker.io, docker-registry, ...)
#   venv         $MLDEPLOY_CACHE/venv from scripts/requirements.txt + constraints.txt
#   base-image   rootfs tarball (debootstrap, built once) imported into podman
#                as localhost/mldeploy-base:bookworm
#   docker-import  the same tarball into the docker engine at $DOCKER_HOST
#                (stack.sh start calls this once its dockerd is up)
#   podman-import  the same tarball into the podman service at $CONTAINER_HOST
#                (a remote engine's store, test/e2e/remote-engines.test.ts)
#   lint-tools   actionlint into $MLDEPLOY_CACHE/go/bin (the lint's workflow check), built
#                with the machine's Go from the Go module proxy
# Usage: scripts/setup-system.sh [all|apt|venv|base-image|docker-import|podman-import|lint-tools]...
#   (default: all = apt venv base-image lint-tools, plus docker-import if a daemon answers)
set -euo pipefail
LOG_PREFIX=setup
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQS="$MLDEPLOY_REPO/scripts/requirements.txt"
CONSTRAINTS="$MLDEPLOY_REPO/scripts/constraints.txt"
PYTHON="${MLDEPLOY_PYTHON:-python3}"
DEBIAN_MIRROR="${MLDEPLOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# --no-install-recommends keeps docker.io/podman lean. Running as root (kernel
# overlay or vfs storage, chroot isolation for builds), podman needs neither
# uidmap, slirp4netns nor fuse-overlayfs. runc: crun refuses this host's hybrid
# cgroups. containernetworking-plugins gives `podman run` its bridge network,
# catatonit its --init; iptables is needed by docker.io and the CNI bridge,
# iproute2 (ip) by stack.sh to make the private dockerd's bridge, nftables (nft) by its stop to
# drop the iptables-nft tables the engines made once they are empty. shellcheck: the lint's
# check of the scripts (scripts/lint-scripts.sh).
APT_PACKAGES=(
  podman runc containernetworking-plugins catatonit
  docker.io docker-registry apache2-utils debootstrap iptables
  curl ca-certificates iproute2 nftables shellcheck
)
# actionlint checks the README's release workflow (scripts/lint-scripts.sh); Debian has none.
ACTIONLINT_VERSION=v1.7.12
# Another apt or dpkg (unattended-upgrades, a second setup) holds its locks: wait this long for it,
# saying so, rather than failing at once. apt-get's own DPkg::Lock::Timeout covers dpkg's lock
# but not `apt-get update`'s lists lock, hence the wait below before every call.
APT_LOCK_TIMEOUT="${MLDEPLOY_APT_LOCK_TIMEOUT:-300}"
read -r -a APT_LOCKS <<< "${MLDEPLOY_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}"

# What goes into the base image. BentoML's generated Dockerfile (base_v2.j2) runs
#   apt-get update && apt-get install ca-certificates gnupg2 bash build-essential git
#   pip install uv (skipped when uv >= 0.13.4 is on PATH)
#   uv venv --python 3.11 (must find that Python: uv cannot download one here)
#   uv pip install -r requirements.txt
# Having all of it in the image makes the apt step a no-op and skips pip.
BASE_PACKAGES="python3,ca-certificates,gnupg2,build-essential,git"
# Extra CAs this host trusts (a TLS-intercepting egress proxy's, a corporate
# CA). Builds reach PyPI through the same proxy, so the image must trust them
# too, or `uv pip install` fails with "invalid peer certificate: UnknownIssuer".
EXTRA_CA_DIR="${MLDEPLOY_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
extra_cas() { find "$EXTRA_CA_DIR" -maxdepth 2 -name '*.crt' -type f 2>/dev/null | sort; }
extra_ca_hash() { extra_cas | xargs -r cat | sha256sum | cut -c1-16; }
# Bump v<N> when the recipe below changes: the tarball and imported images carry it.
BASE_RECIPE="v2;bookworm;minbase;$BASE_PACKAGES;uv=$(grep -E '^uv==' "$REQS");ca=$(extra_ca_hash)"

need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root"; }

# The pid holding a lock (apt's are fcntl locks, listed in /proc/locks) on FILE, if any.
lock_holder() {
  local file="$1" dev
  [ -e "$file" ] || return 0
  dev="$(printf '%02x:%02x:%s' "$(stat -c %Hd "$file")" "$(stat -c %Ld "$file")" "$(stat -c %i "$file")")"
  awk -v dev="$dev" '$2 != "->" && $6 == dev { print $5; exit }' /proc/locks
}

# Returns once every apt/dpkg lock is free; fails at APT_DEADLINE (APT_LOCK_TIMEOUT after the first call).
wait_apt_locks() {
  local lock pid said=""
  while :; do
    pid=""
    for lock in "${APT_LOCKS[@]}"; do
      pid="$(lock_holder "$lock")"
      [ -z "$pid" ] || break
    done
    [ -n "$pid" ] || return 0
    if [ -z "$said" ]; then
      log "apt: waiting up to ${APT_LOCK_TIMEOUT} s for another apt/dpkg to finish (pid $pid $(cat "/proc/$pid/comm" 2>/dev/null) holds $lock)"
      said=1
    fi
    if [ "$(date +%s)" -ge "$APT_DEADLINE" ]; then
      die "apt: pid $pid still holds $lock after ${APT_LOCK_TIMEOUT} s: let it finish and run this again (MLDEPLOY_APT_LOCK_TIMEOUT=<seconds> waits longer)"
    fi
    sleep 0.5
  done
}

# apt-get once no other apt holds its locks; apt itself waits out what time is left for dpkg's.
apt_get() {
  wait_apt_locks
  local left=$((APT_DEADLINE - $(date +%s)))
  [ "$left" -gt 0 ] || left=1
  DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$left" "$@"
}

do_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt: all packages present"
    return
  fi
  need_root "apt-get install"
  log "apt: installing ${missing[*]}"
  APT_DEADLINE=$(($(date +%s) + APT_LOCK_TIMEOUT))
  apt_get update -q
  apt_get install -y -q --no-install-recommends "${missing[@]}"
}

reqs_hash() {
  { cat "$REQS" "$CONSTRAINTS" 2>/dev/null; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16
}

do_venv() {
  local want have
  want="$(reqs_hash)"
  have="$(cat "$VENV/.mldeploy-stamp" 2>/dev/null || true)"
  if [ "$want" = "$have" ] && [ -x "$VENV/bin/bentoml" ]; then
    log "venv: up to date ($VENV)"
    return
  fi
  log "venv: (re)creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # uv installs the ~150 packages in seconds where pip takes minutes; it is
  # pinned in requirements.txt, so bootstrap that exact version with pip first.
  local uv_pin
  uv_pin="$(grep -E '^uv==' "$REQS")"
  PIP_CACHE_DIR="$MLDEPLOY_CACHE/pip" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$VENV/bin/pip" install -q "$uv_pin"
  local cargs=()
  [ -f "$CONSTRAINTS" ] && cargs=(-c "$CONSTRAINTS")
  UV_CACHE_DIR="$MLDEPLOY_CACHE/uv" "$VENV/bin/uv" pip install --quiet \
    --python "$VENV/bin/python" -r "$REQS" "${cargs[@]}"
  echo "$want" > "$VENV/.mldeploy-stamp"
}

recipe_hash() { printf '%s' "$BASE_RECIPE" | sha256sum | cut -c1-16; }

# The rootfs tarball is the slow part (~2-3 min): built once, kept in the cache.
do_rootfs() {
  local tarball="$BASE_DIR/rootfs.tar" want
  want="$(recipe_hash)"
  if [ -f "$tarball" ] && [ "$(cat "$tarball.stamp" 2>/dev/null)" = "$want" ]; then
    log "base: rootfs tarball cached ($tarball)"
    return
  fi
  need_root debootstrap
  [ -x "$VENV/bin/uv" ] || die "base: run the venv phase first (uv comes from it)"
  mkdir -p "$BASE_DIR"
  local root="$BASE_DIR/rootfs.tmp"
  rm -rf "$root"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$root" "$DEBIAN_MIRROR"
  # uv for BentoML's Dockerfile: the same static binary the venv uses.
  install -m 0755 "$VENV/bin/uv" "$root/usr/local/bin/uv"
  local ca
  mkdir -p "$root/usr/local/share/ca-certificates/mldeploy-host"
  for ca in $(extra_cas); do
    install -m 0644 "$ca" "$root/usr/local/share/ca-certificates/mldeploy-host/"
  done
  chroot "$root" update-ca-certificates >/dev/null
  # Keep the image small (podman's vfs driver copies the whole tree for every
  # layer): no apt lists (the build runs `apt-get update` itself), no docs.
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/log/*.log
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    > "$root/etc/dpkg/dpkg.cfg.d/mldeploy-nodoc"
  # Leave no host-specific resolver config behind (the engines inject their own).
  : > "$root/etc/resolv.conf"
  chroot "$root" python3 --version
  chroot "$root" /usr/local/bin/uv --version
  tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  echo "$want" > "$tarball.stamp"
  rm -rf "$root"
}

# $1 = podman|docker. Import the tarball unless the image with this recipe is there.
import_into() {
  local engine="$1" want have
  want="$(recipe_hash)"
  have="$("$engine" image inspect --format '{{ index .Config.Labels "mldeploy.base.recipe" }}' "$BASE_IMAGE" 2>/dev/null || true)"
  if [ "$have" = "$want" ]; then
    log "base: $BASE_IMAGE already in $engine"
    return
  fi
  local old_id
  old_id="$("$engine" image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)"
  log "base: importing $BASE_IMAGE into $engine"
  local quiet=()
  [ "$engine" = podman ] && quiet=(--quiet)
  "$engine" import "${quiet[@]}" \
    --change "LABEL mldeploy.base.recipe=$want" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV UV_SYSTEM_CERTS=true' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' \
    "$BASE_DIR/rootfs.tar" "$BASE_IMAGE" >/dev/null
  # Drop the outdated import (it stays if a built image still uses it).
  if [ -n "$old_id" ]; then "$engine" rmi "$old_id" >/dev/null 2>&1 || true; fi
}

do_base_image() {
  do_rootfs
  write_storage_conf
  podman_env
  import_into podman
}

docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Go's folders all in the cache (GOPATH, its build and module caches): cached across runs, nothing
# in ~. -modcacherw: Go makes its module cache read-only, which `rm -rf .cache` trips over.
do_lint_tools() {
  local bin="$MLDEPLOY_CACHE/go/bin/actionlint" go
  if [ -x "$bin" ] && [ "$("$bin" -version | head -n 1)" = "$ACTIONLINT_VERSION" ]; then
    log "lint-tools: actionlint $ACTIONLINT_VERSION present"
    return
  fi
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || die "lint-tools: no Go to build actionlint with (go on PATH or /usr/local/go/bin/go)"
  log "lint-tools: actionlint $ACTIONLINT_VERSION with $("$go" version)"
  GOPATH="$MLDEPLOY_CACHE/go" GOCACHE="$MLDEPLOY_CACHE/go/build-cache" GOMODCACHE="$MLDEPLOY_CACHE/go/mod" \
    GOFLAGS=-modcacherw GOTOOLCHAIN=local \
    "$go" install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}

do_docker_import() {
  [ -f "$BASE_DIR/rootfs.tar" ] || do_rootfs
  docker_up || die "docker-import: no docker daemon at ${DOCKER_HOST:-the default socket} (start it with scripts/stack.sh start)"
  import_into docker
}

do_podman_import() {
  [ -f "$BASE_DIR/rootfs.tar" ] || do_rootfs
  [ -n "${CONTAINER_HOST:-}" ] || die "podman-import: set CONTAINER_HOST to the podman service (podman system service)"
  # CONTAINER_HOST makes podman a remote client: the import lands in that service's store.
  import_into podman
}

main() {
  local phases=("$@")
  [ "${#phases[@]}" -gt 0 ] || phases=(all)
  local t0 p
  t0=$(date +%s)
  for p in "${phases[@]}"; do
    case "$p" in
      all)
        phase apt do_apt
        phase venv do_venv
        phase base-image do_base_image
        phase lint-tools do_lint_tools
        if [ -n "${DOCKER_HOST:-}" ] && docker_up; then phase docker-import do_docker_import; fi
        ;;
      apt) phase apt do_apt ;;
      venv) phase venv do_venv ;;
      base-image) phase base-image do_base_image ;;
      docker-import) phase docker-import do_docker_import ;;
      podman-import) phase podman-import do_podman_import ;;
      lint-tools) phase lint-tools do_lint_tools ;;
      -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
      *) die "unknown phase '$p' (all|apt|venv|base-image|docker-import|podman-import|lint-tools)" ;;
    esac
  done
  log "total $(( $(date +%s) - t0 ))s"
}

main "$@"
