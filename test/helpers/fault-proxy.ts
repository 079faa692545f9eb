import {
  type ClientRequest,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http'

export interface FaultProxy {
  url: string
  /** Requests seen per AWS operation (X-Amz-Target or the Query API's Action). */
  counts: Map<string, number>
  close(): Promise<void>
}

export interface FaultRule {
  /** e.g. 'GetAuthorizationToken', 'GetCallerIdentity'. */
  operation: string
  /** How many calls fail (after `after`). */
  times: number
  /** How many calls pass before the failing ones (default 0). */
  after?: number
  status: number
  body: string
}

/** Send `incoming` on to host:port and its answer back; the caller writes or pipes the body. */
export function forward(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  host: string,
  port: string,
): ClientRequest {
  const upstream = request(
    {host, port, method: incoming.method, path: incoming.url, headers: incoming.headers},
    (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers)
      response.pipe(outgoing)
    },
  )
  upstream.on('error', () => outgoing.destroy())
  return upstream
}

/** Listen on a free port of 127.0.0.1; returns the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return typeof address === 'object' && address ? address.port : 0
}

function operationOf(target: string | undefined, body: string): string {
  if (target !== undefined) return target.split('.').at(-1) ?? target
  return /(?:^|&)Action=([^&]+)/.exec(body)?.[1] ?? 'unknown'
}

/**
 * An AWS stand-in in front of moto on loopback that answers the first calls of an operation with
 * an error (throttling, 5xx), then forwards everything to moto: how the SDK's retries are shown.
 */
export async function startFaultProxy(motoUrl: string, rules: FaultRule[]): Promise<FaultProxy> {
  const target = new URL(motoUrl)
  const counts = new Map<string, number>()
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const body = Buffer.concat(chunks)
      const operation = operationOf(incoming.headers['x-amz-target'] as string | undefined, body.toString())
      const count = (counts.get(operation) ?? 0) + 1
      counts.set(operation, count)
      const rule = rules.find(
        (each) =>
          each.operation === operation &&
          count > (each.after ?? 0) &&
          count <= (each.after ?? 0) + each.times,
      )
      if (rule !== undefined) {
        outgoing.writeHead(rule.status, {'content-type': 'application/x-amz-json-1.1'})
        outgoing.end(rule.body)
        return
      }
      forward(incoming, outgoing, target.hostname, target.port).end(body)
    })
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

// --- push-only roles (issue 12) ---

/** AWS's documented push policy for ECR, plus sts:GetCallerIdentity (which needs no permission). */
export const PUSH_POLICY = [
  'GetAuthorizationToken',
  'BatchCheckLayerAvailability',
  'InitiateLayerUpload',
  'UploadLayerPart',
  'CompleteLayerUpload',
  'PutImage',
  'BatchGetImage',
  'GetCallerIdentity',
]

/** The ECR operations mldeploy may call: what a policy that grants only some of them denies. */
const ECR_OPERATIONS = [
  'DescribeRepositories',
  'CreateRepository',
  'DescribeImages',
  'BatchGetImage',
  'PutImage',
  'GetAuthorizationToken',
  'GetDownloadUrlForLayer',
]

/**
 * Rules that answer every call of an operation outside `allowed` as IAM does: HTTP 400
 * AccessDeniedException naming the action — an ECR stand-in that grants exactly that policy.
 */
export function grantOnly(allowed: readonly string[]): FaultRule[] {
  return ECR_OPERATIONS.filter((operation) => !allowed.includes(operation)).map((operation) => ({
    operation,
    times: Number.POSITIVE_INFINITY,
    status: 400,
    body: JSON.stringify({
      __type: 'AccessDeniedException',
      message: `User: arn:aws:iam::123456789012:user/ci-push is not authorized to perform: ecr:${operation} on resource: arn:aws:ecr:us-east-1:123456789012:repository/modela/v1 because no identity-based policy allows the ecr:${operation} action`,
    }),
  }))
}
