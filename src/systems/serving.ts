/**
 * Issue 24 §2: the backend commands of the local contract run (podman and docker take the same
 * arguments) and the probe that runs inside the container.
 */

/** Every contract-run container carries it, so a leftover can be found (`ps -a --filter label=...`). */
export const SERVING_LABEL = 'io.mldeploy.serving'

/**
 * The probe, run by the image's python inside the container (`exec -i`): `ping <seconds>` polls
 * GET /ping until 200 (exit 3 when it never comes), `invoke <content-type>` posts stdin to
 * /invocations and prints `HTTP <status> <content-type>` then the answer's start (exit 4 unless 2xx).
 * http.client, not urllib: no proxy variable of the image can send it elsewhere.
 */
export const SERVING_PROBE = `import http.client, sys, time
def call(method, path, body=None, headers={}, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", 8080, timeout=timeout)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.getheader("Content-Type"), r.read()
if sys.argv[1] == "ping":
    deadline, shown, last = time.time() + float(sys.argv[2]), 0, None
    while True:
        try:
            last = call("GET", "/ping")[0]
        except OSError as error:
            last = type(error).__name__
        if last == 200:
            print("GET /ping: 200", flush=True)
            sys.exit(0)
        if time.time() > deadline:
            print("GET /ping never answered 200 in %s s (last: %s)." % (sys.argv[2], last), flush=True)
            sys.exit(3)
        if time.time() - shown >= 5:
            print("waiting for GET /ping (last: %s)" % last, flush=True)
            shown = time.time()
        time.sleep(0.5)
status, kind, answer = call("POST", "/invocations", sys.stdin.buffer.read(), {"Content-Type": sys.argv[2]}, 60)
print("HTTP %d %s" % (status, kind))
print(answer[:4096].decode("utf-8", "replace"), flush=True)
sys.exit(0 if 200 <= status < 300 else 4)
`

export function pullArgs(image: string): string[] {
  return ['pull', image]
}

/** As SageMaker starts it: `serve`, no network beyond the container's loopback, a memory limit. */
export function runServingArgs(options: {name: string; image: string; memory: string}): string[] {
  return [
    'run',
    '--detach',
    '--name',
    options.name,
    '--label',
    `${SERVING_LABEL}=${options.name}`,
    '--network',
    'none',
    '--memory',
    options.memory,
    options.image,
    'serve',
  ]
}

export function execArgs(name: string, probeArgs: readonly string[]): string[] {
  return ['exec', '-i', name, 'python3', '-c', SERVING_PROBE, ...probeArgs]
}

/** `<status> <exit code>`, e.g. `exited 137`. */
export function containerStateArgs(name: string): string[] {
  return ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]
}

export function containerLogsArgs(name: string, lines: number): string[] {
  return ['logs', '--tail', String(lines), name]
}

export function removeContainerArgs(name: string): string[] {
  return ['rm', '--force', name]
}
