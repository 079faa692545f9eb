# shellcheck shell=bash
# What the local stack changes on the machine outside its state folder, and how its stop undoes it.
# Sourced by stack.sh, never run.
#
# The stack's dockerd gets a bridge of the stack's own (made with `ip link`) and, with
# --iptables=true, writes its DOCKER* chains and NAT rules, turns on IPv4 forwarding and sets the
# FORWARD policy to DROP; it removes none of that when it exits. `podman run` on the default CNI
# network makes the cni-podman0 bridge, the CNI-* chains (firewall and portmap plugins), an ip6
# nat table, /run/netns (a bind mount) and /var/lib/cni; removing a container removes only its
# own rules. `stack.sh start` records what the machine had first (host_record); `stack.sh stop`
# removes what was not there then (host_restore), and leaves what another engine still uses: the
# DOCKER* chains while any other dockerd runs, the CNI objects while any container is on
# cni-podman0.
#
# Uses DOCKER_BRIDGE and DOCKER_BIP from stack.sh.

# Paths the engines make at run time (directories are removed only when empty, but for CNI's
# state). MLDEPLOY_HOST_PATHS replaces the list (test/integration/stack-host.test.ts).
read -r -a HOST_PATHS <<< "${MLDEPLOY_HOST_PATHS:-/run/netns /var/lib/cni /run/runc /run/containerd/s /run/containerd /run/docker/plugins /run/docker}"
CNI_BRIDGE=cni-podman0

# iptables-save without comments and counters (what the rules are, not how often they matched),
# and without tables that hold nothing (no rule, no chain of their own, every policy ACCEPT): the
# first iptables call makes its table, empty, and an empty table filters nothing.
_ipt_save() {
  "$1-save" 2>/dev/null | awk '
    /^#/ { next }
    { sub(/ \[[0-9]+:[0-9]+\]$/, "") }
    /^\*/ { buf = $0; keep = 0; next }
    /^COMMIT$/ { if (keep) print buf "\n" $0; next }
    /^:/ && $2 != "ACCEPT" { keep = 1 }
    /^-/ { keep = 1 }
    { buf = buf "\n" $0 }' || true
}
_links() { ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort; }
_forwarding() {
  printf 'ipv4 %s\n' "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)"
  printf 'ipv6 %s\n' "$(cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null)"
}
_paths() {
  local p
  for p in "${HOST_PATHS[@]}"; do
    if mountpoint -q "$p" 2>/dev/null; then echo "$p mount"
    elif [ -e "$p" ]; then echo "$p present"
    fi
  done
}

# host_state: the machine's network objects and the engines' run-time paths, one text, sorted
# where the order means nothing. The end-to-end tests compare it before start and after stop.
host_state() {
  echo '## links'; _links
  echo '## forwarding'; _forwarding
  echo '## iptables'; _ipt_save iptables
  echo '## ip6tables'; _ipt_save ip6tables
  if command -v nft >/dev/null; then echo '## nft tables'; nft list tables 2>/dev/null | sort; fi
  echo '## paths'; _paths
}

# host_record DIR: what the machine has before the stack starts. Kept across starts until a stop
# has restored it (a start after a failed stop must not take the leftovers for the machine's own),
# but only within one boot: nothing of it survives a reboot.
host_record() {
  local dir="$1" boot
  boot="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
  if [ -f "$dir/boot_id" ] && [ "$(cat "$dir/boot_id")" = "$boot" ]; then return 0; fi
  rm -rf "$dir" && mkdir -p "$dir"
  _links > "$dir/links"
  _forwarding > "$dir/forwarding"
  _ipt_save iptables > "$dir/iptables"
  _ipt_save ip6tables > "$dir/ip6tables"
  if command -v nft >/dev/null; then nft list tables 2>/dev/null > "$dir/nft-tables"; fi
  _paths > "$dir/paths"
  echo "$boot" > "$dir/boot_id"
}

# Is anything still using podman's CNI network? A port on its bridge or a container's own chains.
_cni_busy() {
  [ -n "$(ip -o link show master "$CNI_BRIDGE" 2>/dev/null)" ] && return 0
  { _ipt_save iptables; _ipt_save ip6tables; } | grep -qE '^:CNI-(DN-)?[0-9a-f]{8,} '
}
# Another dockerd (not the stack's: stop has ended that one) shares the DOCKER* chains.
_docker_busy() { pgrep -x dockerd >/dev/null 2>&1; }

# _restore_table FAMILY TABLE BASEFILE CURFILE OWN_RE DOCKER_IDLE CNI_IDLE: prints an
# iptables-restore --noflush script that deletes, in TABLE, the rules added since BASEFILE that
# name the stack's bridge or subnet (OWN_RE), and the DOCKER*/CNI-* chains added since (with the
# rules that jump to them) when their engine is idle.
_restore_table() {
  local table="$2" base="$3" cur="$4" own="$5" docker_idle="$6" cni_idle="$7"
  awk -v table="$table" -v own="$own" -v docker_idle="$docker_idle" -v cni_idle="$cni_idle" '
    { file = (FILENAME == ARGV[1]) ? 1 : 2 }
    /^\*/ { t = substr($0, 2); next }
    t != table { next }
    /^:/ { name = substr($1, 2); if (file == 1) basechain[name] = 1; else { chains[++nc] = name } ; next }
    /^-A / { if (file == 1) baserule[$0] = 1; else rules[++nr] = $0 }
    END {
      for (i = 1; i <= nc; i++) {
        c = chains[i]
        if (c in basechain) continue
        if ((c ~ /^DOCKER/ && docker_idle) || (c ~ /^CNI-/ && cni_idle)) drop[c] = 1
      }
      n = 0
      for (i = 1; i <= nr; i++) {
        r = rules[i]
        if (r in baserule) continue
        nf = split(r, f, " ")
        if (f[2] in drop) continue            # flushed with its chain below
        jump = ""
        for (k = 3; k < nf; k++) if (f[k] == "-j" || f[k] == "-g") jump = f[k + 1]
        if (r ~ own || jump in drop) { out[++n] = "-D " substr(r, 4) }
      }
      for (c in drop) { out[++n] = "-F " c }
      for (c in drop) { out[++n] = "-X " c }
      if (n == 0) exit
      print "*" table
      for (i = 1; i <= n; i++) print out[i]
      print "COMMIT"
    }' "$base" "$cur"
}

# _restore_family iptables|ip6tables BASEFILE DOCKER_IDLE CNI_IDLE
_restore_family() {
  local cmd="$1" base="$2" docker_idle="$3" cni_idle="$4" cur script table own
  command -v "$cmd-restore" >/dev/null || return 0
  cur="$(mktemp)"
  _ipt_save "$cmd" > "$cur"
  # The bridge as an interface name, the subnet as an address (172.30.116.1/24 → 172.30.116.x);
  # [.] rather than \. (awk -v would eat the backslash).
  local subnet="${DOCKER_BIP%.*/*}."
  own="-[io] ${DOCKER_BRIDGE}( |\$)|${subnet//./[.]}"
  script=""
  while read -r table; do
    script+="$(_restore_table "$cmd" "$table" "$base" "$cur" "$own" "$docker_idle" "$cni_idle")"$'\n'
  done < <(sed -n 's/^\*//p' "$cur")
  if [ -n "${script//$'\n'/}" ]; then
    printf '%s' "$script" | "$cmd-restore" --noflush || log "$cmd: could not remove every rule the stack added"
  fi
  # Builtin chain policies back to what they were (dockerd turns FORWARD to DROP), once no engine
  # needs them; a table that did not exist had ACCEPT everywhere.
  if [ "$docker_idle" = 1 ] && [ "$cni_idle" = 1 ]; then
    _ipt_save "$cmd" | awk -v base="$base" '
      BEGIN { while ((getline l < base) > 0) { if (l ~ /^\*/) t = substr(l, 2); else if (l ~ /^:/) { split(l, f, " "); pol[t, substr(f[1], 2)] = f[2] } } }
      /^\*/ { t = substr($0, 2); next }
      /^:/ { split($0, f, " "); c = substr(f[1], 2); if (f[2] == "-") next
             want = ((t, c) in pol) ? pol[t, c] : "ACCEPT"
             if (want != f[2]) print t, c, want }' |
      while read -r table chain policy; do "$cmd" -t "$table" -P "$chain" "$policy" || true; done
  fi
  rm -f "$cur"
}

# Tables that iptables-nft made for the stack and that are empty again (nft, when installed).
_drop_empty_tables() {
  local dir="$1" family table
  command -v nft >/dev/null && [ -f "$dir/nft-tables" ] || return 0
  nft list tables 2>/dev/null | while read -r _ family table; do
    grep -qxF "table $family $table" "$dir/nft-tables" && continue
    # Empty: nothing but base chains with an accept policy and no rules.
    if ! nft list table "$family" "$table" 2>/dev/null | grep -vE '^\s*(table .*\{|chain .*\{|type .* hook .*policy accept;|\}|)$' | grep -q .; then
      nft delete table "$family" "$table" || true
    fi
  done
}

# host_restore DIR: stop has ended the stack's services; remove what it left on the machine.
host_restore() {
  local dir="$1" docker_idle=1 cni_idle=1 p state
  if [ ! -f "$dir/links" ]; then
    # No record (a stack started before records were kept): remove only our own bridge.
    if ip link show "$DOCKER_BRIDGE" >/dev/null 2>&1; then ip link delete "$DOCKER_BRIDGE" || true; fi
    return 0
  fi
  if _docker_busy; then docker_idle=0; log "another dockerd runs: its DOCKER chains stay"; fi
  if _cni_busy; then cni_idle=0; log "a container is still on $CNI_BRIDGE: podman's network stays"; fi
  _restore_family iptables "$dir/iptables" "$docker_idle" "$cni_idle"
  _restore_family ip6tables "$dir/ip6tables" "$docker_idle" "$cni_idle"
  _drop_empty_tables "$dir"
  if ! grep -qxF "$DOCKER_BRIDGE" "$dir/links" && ip link show "$DOCKER_BRIDGE" >/dev/null 2>&1; then
    ip link delete "$DOCKER_BRIDGE" || log "could not delete the bridge $DOCKER_BRIDGE"
  fi
  if [ "$cni_idle" = 1 ] && ! grep -qxF "$CNI_BRIDGE" "$dir/links" && ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    ip link delete "$CNI_BRIDGE" || log "could not delete the bridge $CNI_BRIDGE"
  fi
  if [ "$docker_idle" = 1 ] && [ "$cni_idle" = 1 ]; then
    local v4 v6
    v4="$(awk '$1 == "ipv4" {print $2}' "$dir/forwarding")"
    v6="$(awk '$1 == "ipv6" {print $2}' "$dir/forwarding")"
    [ -z "$v4" ] || [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$v4" ] || echo "$v4" > /proc/sys/net/ipv4/ip_forward
    [ -z "$v6" ] || [ "$(cat /proc/sys/net/ipv6/conf/all/forwarding)" = "$v6" ] ||
      echo "$v6" > /proc/sys/net/ipv6/conf/all/forwarding
  fi
  for p in "${HOST_PATHS[@]}"; do
    state="$(awk -v p="$p" '$1 == p {print $2}' "$dir/paths")"
    [ "$state" = mount ] && continue
    # podman bind-mounts /run/netns onto itself to hold the containers' namespaces.
    if mountpoint -q "$p" 2>/dev/null && [ -z "$(ls -A "$p" 2>/dev/null)" ]; then umount "$p" || true; fi
    [ -n "$state" ] && continue
    if [ "${p%/lib/cni}" != "$p" ]; then
      # host-local IPAM's leases and CNI's cached results: nothing while no container is on it.
      if [ "$cni_idle" = 1 ]; then rm -rf "$p"; fi
    elif [ -d "$p" ]; then
      rmdir "$p" 2>/dev/null || true
    fi
  done
  if [ "$docker_idle" = 1 ] && [ "$cni_idle" = 1 ]; then rm -rf "$dir"; fi
}
