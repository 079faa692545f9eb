import type {Readable} from 'node:stream'

import type {DeserializeHandlerOutput, DeserializeMiddleware, HandlerExecutionContext} from '@smithy/types'

import {recordAction} from '../../ledger.js'
import {EndpointAnswerError} from './errors.js'

/**
 * The most any ECR/STS answer mldeploy asks for can need: a manifest is at most 4 MiB, JSON
 * escaping can nearly double it. Anything larger is not an answer to read into memory.
 */
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024
const SHOWN_BYTES = 200

interface RawResponse {
  statusCode?: number
  headers?: Record<string, string | undefined>
  body?: unknown
}

function header(response: RawResponse, name: string): string | undefined {
  for (const [key, value] of Object.entries(response.headers ?? {}))
    if (key.toLowerCase() === name) return value
  return undefined
}

function operationOf(context: HandlerExecutionContext): string {
  return (context.commandName ?? 'Unknown').replace(/Command$/, '')
}

/**
 * Runs once per attempt actually sent (it sits inside the deserializer, after signing and
 * retries): records the call in the step's ledger, then reads the body with a cap and refuses
 * what is not an AWS answer before the SDK tries to parse it ("failed: Unknown", 1 GB of heap).
 */
export function responseGuard(
  service: string,
  limitBytes = MAX_RESPONSE_BYTES,
): DeserializeMiddleware<object, object> {
  return (next, context) => async (args) => {
    recordAction({kind: 'aws', call: `aws:${service}:${operationOf(context)}`})
    const result: DeserializeHandlerOutput<object> = await next(args)
    const response = result.response as RawResponse
    const body = response.body
    // node:stream when a response arrives (the SDK has loaded it by then), not at start-up.
    const {Readable} = process.getBuiltinModule('node:stream')
    if (!(body instanceof Readable)) return result
    const status = response.statusCode ?? 0
    const contentType = header(response, 'content-type') ?? ''
    const declared = Number(header(response, 'content-length'))
    if (Number.isFinite(declared) && declared > limitBytes) {
      const start = await firstBytes(body)
      throw new EndpointAnswerError('too-large', status, contentType, start, limitBytes)
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buffer.length
      chunks.push(buffer)
      if (size > limitBytes) {
        body.destroy()
        const start = Buffer.concat(chunks).subarray(0, SHOWN_BYTES).toString('utf8')
        throw new EndpointAnswerError('too-large', status, contentType, start, limitBytes)
      }
    }
    const data = Buffer.concat(chunks)
    // ECR speaks JSON, STS XML: an HTML page (a proxy's 502, a captive portal) is not AWS talking.
    if (contentType !== '' && !/json|xml/i.test(contentType) && data.length > 0 && !isJsonObject(data)) {
      throw new EndpointAnswerError(
        'not-aws',
        status,
        contentType,
        data.subarray(0, SHOWN_BYTES).toString('utf8'),
        limitBytes,
      )
    }
    response.body = Readable.from([data])
    return result
  }
}

/** A JSON object under another content type (moto answers CloudWatch Logs and CodeBuild as text/html). */
function isJsonObject(data: Buffer): boolean {
  if (data[0] !== 0x7b) return false
  try {
    return typeof JSON.parse(data.toString('utf8')) === 'object'
  } catch {
    return false
  }
}

async function firstBytes(body: Readable): Promise<string> {
  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const text = (typeof chunk === 'string' ? Buffer.from(chunk) : chunk).subarray(0, SHOWN_BYTES)
      return text.toString('utf8')
    }
    return ''
  } finally {
    body.destroy()
  }
}

/** Drops everything: the SDK's warnings (a slow request, several credential sources) are not for users' stderr. */
export const QUIET_LOGGER = {
  trace: (): void => undefined,
  debug: (): void => undefined,
  info: (): void => undefined,
  warn: (): void => undefined,
  error: (): void => undefined,
}
