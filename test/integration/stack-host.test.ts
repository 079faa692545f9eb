import {existsSync} from 'node:fs'
import path from 'node:path'

import {execa, execaSync} from 'execa'
import {describe, expect, it} from 'vitest'

import {REPO_ROOT, tempDir} from '../helpers/cli.js'

// Issue 22 §8: `scripts/stack.sh stop` removes what the stack and its containers added to the
// machine since `start` recorded it (scripts/host.sh), and nothing that was there before or that
// someone else added. Each case runs in a network and pid namespace of its own (`unshare`): its
// own links, iptables, forwarding and process list, so the machine's (and a stack running beside
// the test) are never touched. What the engines do is played by hand with ip and iptables, as
// they were seen doing it: dockerd (--iptables=true on the stack's bridge) and podman's CNI
// plugins (bridge, firewall, portmap). The real stack is checked by the end-to-end tests' global
// teardown (test/e2e/global-setup.ts).
const STACK = path.join(REPO_ROOT, 'scripts/stack.sh')
const HOST = path.join(REPO_ROOT, 'scripts/host.sh')
const LIB = path.join(REPO_ROOT, 'scripts/lib.sh')

const tools = ['unshare', 'ip', 'iptables', 'ip6tables', 'nft', 'pgrep']
const usable =
  process.getuid?.() === 0 &&
  tools.every((tool) => execaSync('sh', ['-c', `command -v ${tool}`], {reject: false}).exitCode === 0) &&
  execaSync('unshare', ['--net', '--pid', '--fork', '--mount-proc', 'true'], {reject: false}).exitCode === 0

const BRIDGE = 'mldtest0'

/** Runs `script` in fresh namespaces; returns its output and the paths folder it was given. */
async function inNamespaces(
  script: string,
): Promise<{stdout: string; stderr: string; exitCode?: number; dir: string}> {
  const dir = tempDir('stack-host')
  const paths = ['pre', 'new-empty', 'new-full'].map((name) => path.join(dir, 'paths', name))
  const env = {
    MLDEPLOY_CACHE: path.join(dir, 'cache'),
    MLDEPLOY_DOCKER_BRIDGE: BRIDGE,
    MLDEPLOY_DOCKER_BIP: '172.30.250.1/24',
    MLDEPLOY_HOST_PATHS: paths.join(' '),
    STACK,
    HOST,
    LIB,
    P_PRE: paths[0]!,
    P_EMPTY: paths[1]!,
    P_FULL: paths[2]!,
  }
  const prelude = `set -euo pipefail
LOG_PREFIX=test
. "$LIB"; . "$HOST"
state() { bash "$STACK" host-state; }
`
  const result = await execa(
    'unshare',
    ['--net', '--pid', '--fork', '--mount-proc', 'bash', '-c', prelude + script],
    {
      env,
      reject: false,
    },
  )
  return {stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode, dir}
}

// What the machine has before the stack: a system firewall rule, a system Docker's DOCKER-USER
// chain, a folder of the engines' that exists already.
const MACHINE = `
iptables -A FORWARD -i eth9 -j ACCEPT
iptables -N DOCKER-USER; iptables -A DOCKER-USER -j RETURN
mkdir -p "$P_PRE"
`
// What the stack and its containers did after start, as seen on this machine.
const STACK_RAN = `
ip link add ${BRIDGE} type bridge
ip link add cni-podman0 type bridge
echo 1 > /proc/sys/net/ipv4/ip_forward
# dockerd on its bridge
iptables -P FORWARD DROP
iptables -N DOCKER; iptables -N DOCKER-ISOLATION-STAGE-1; iptables -N DOCKER-ISOLATION-STAGE-2
iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1
iptables -A FORWARD -o ${BRIDGE} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -o ${BRIDGE} -j DOCKER
iptables -A DOCKER-ISOLATION-STAGE-1 -i ${BRIDGE} ! -o ${BRIDGE} -j DOCKER-ISOLATION-STAGE-2
iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN
iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN
iptables -A DOCKER-USER -i ${BRIDGE} -j RETURN
iptables -t nat -N DOCKER
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A POSTROUTING -s 172.30.250.0/24 ! -o ${BRIDGE} -j MASQUERADE
iptables -t nat -A DOCKER -i ${BRIDGE} -j RETURN
# podman run: CNI's firewall and portmap plugins (a container's own chains go with it)
iptables -N CNI-FORWARD; iptables -N CNI-ADMIN
iptables -I FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
iptables -A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
iptables -t nat -N CNI-HOSTPORT-MASQ; iptables -t nat -N CNI-HOSTPORT-DNAT
iptables -t nat -A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
iptables -t nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
ip6tables -t nat -L >/dev/null
mkdir -p "$P_EMPTY" "$P_FULL"; touch "$P_FULL/kept"
# someone else, meanwhile
iptables -A FORWARD -i eth8 -j ACCEPT
`

describe.skipIf(!usable)('stack.sh stop: what start recorded comes back, the rest goes', () => {
  it('removes the bridges, chains, rules, tables, forwarding and paths the stack added, and only those', async () => {
    const {stdout, stderr, exitCode, dir} = await inNamespaces(`
${MACHINE}
state > "$MLDEPLOY_CACHE/before"
host_record "$STATE/host"
${STACK_RAN}
bash "$STACK" stop
echo "record kept: $([ -e "$STATE/host" ] && echo yes || echo no)"
state > "$MLDEPLOY_CACHE/after"
diff "$MLDEPLOY_CACHE/before" "$MLDEPLOY_CACHE/after" || true
`)
    expect(exitCode, stderr).toBe(0)
    // Exactly two differences: the rule another program added meanwhile, and the folder that was
    // not empty; the record goes once everything is restored.
    const changes = stdout.split('\n').filter((line) => /^[<>] /.test(line))
    expect(changes).toEqual([
      '> -A FORWARD -i eth8 -j ACCEPT',
      `> ${path.join(dir, 'paths', 'new-full')} present`,
    ])
    expect(stdout).toContain('record kept: no')
    expect(existsSync(path.join(dir, 'paths', 'pre'))).toBe(true)
    expect(existsSync(path.join(dir, 'paths', 'new-empty'))).toBe(false)
  })

  it('leaves what another engine still uses: a running dockerd, a container on cni-podman0', async () => {
    const {stdout, stderr, exitCode} = await inNamespaces(`
${MACHINE}
host_record "$STATE/host"
${STACK_RAN}
ip link add veth-c type veth peer name veth-h; ip link set veth-c master cni-podman0
# another Docker engine (only its name matters to stop)
mkdir -p "$MLDEPLOY_CACHE/bin"; cp "$(command -v sleep)" "$MLDEPLOY_CACHE/bin/dockerd"
"$MLDEPLOY_CACHE/bin/dockerd" 60 & other=$!
bash "$STACK" stop
kill "$other"
echo "record kept: $([ -e "$STATE/host" ] && echo yes || echo no)"
state
`)
    expect(exitCode, stderr).toBe(0)
    expect(stderr).toContain('another dockerd runs: its DOCKER chains stay')
    expect(stderr).toContain('a container is still on cni-podman0: podman')
    const section = (name: string): string[] =>
      stdout
        .split(/^## /m)
        .find((part) => part.startsWith(`${name}\n`))!
        .split('\n')
        .slice(1)
        .filter(Boolean)
    const rules = section('iptables')
    // The stack's own bridge and subnet are gone everywhere...
    expect(section('links')).not.toContain(BRIDGE)
    expect(rules.filter((rule) => rule.includes(BRIDGE) || rule.includes('172.30.250.'))).toEqual([])
    // ...the shared chains stay for the engines that use them, as does forwarding...
    expect(rules).toEqual(
      expect.arrayContaining([
        ':DOCKER -',
        ':DOCKER-ISOLATION-STAGE-1 -',
        ':CNI-FORWARD -',
        '-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD',
        ':FORWARD DROP',
      ]),
    )
    expect(section('links')).toContain('cni-podman0')
    expect(section('forwarding')).toContain('ipv4 1')
    // ...and so does the record, for the stop that finds them idle.
    expect(stdout).toContain('record kept: yes')
  })
})
