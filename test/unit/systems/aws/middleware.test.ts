import {Readable} from 'node:stream'

import {describe, expect, it} from 'vitest'

import {Ledger, withLedger} from '../../../../src/ledger.js'
import {EndpointAnswerError} from '../../../../src/systems/aws/errors.js'
import {QUIET_LOGGER, responseGuard} from '../../../../src/systems/aws/middleware.js'
import {rejectionOf} from '../../../helpers/rejection.js'

// The response guard on its own, with a small cap and answers made up here (http.test.ts runs it
// inside the SDK against misbehaving endpoints).
interface Answer {
  statusCode?: number
  headers?: Record<string, string>
  body?: unknown
}

type Guarded = (args: object) => Promise<{response: Answer; output: object}>

function guard(answer: Answer, limit = 10, commandName: string | null = 'DescribeImagesCommand') {
  const next = async () => ({response: answer, output: {}})
  const handler = (responseGuard('ecr', limit) as unknown as (n: unknown, c: unknown) => Guarded)(next, {
    ...(commandName === null ? {} : {commandName}),
  })
  return handler({})
}

const refusal = (promise: Promise<unknown>): Promise<EndpointAnswerError> =>
  rejectionOf(promise, EndpointAnswerError)

async function bodyText(result: {response: Answer}): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of result.response.body as Readable) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

describe('responseGuard', () => {
  it('records each call as aws:<service>:<Operation>, Unknown without a command name', async () => {
    const ledger = new Ledger()
    await withLedger(ledger, async () => {
      await guard({body: Readable.from([Buffer.from('{}')])})
      await guard({body: Readable.from([Buffer.from('{}')])}, 10, null)
    })
    expect(ledger.entries).toEqual([
      {kind: 'aws', call: 'aws:ecr:DescribeImages'},
      {kind: 'aws', call: 'aws:ecr:Unknown'},
    ])
  })

  it('leaves a body that is not a stream alone', async () => {
    const body = Buffer.from('<html>')
    const result = await guard({statusCode: 200, headers: {'content-type': 'text/html'}, body})
    expect(result.response.body).toBe(body)
  })

  it('reads up to the cap, in Buffer or string chunks, and hands the bytes on', async () => {
    const json = await guard({
      statusCode: 200,
      headers: {'Content-Type': 'application/x-amz-json-1.1'},
      body: Readable.from(['{"a":', '12}']),
    })
    expect(await bodyText(json)).toBe('{"a":12}')
    const exactly = await guard({body: Readable.from([Buffer.from('0123456789')])})
    expect(await bodyText(exactly)).toBe('0123456789')
  })

  it('refuses a body past the cap and stops reading it', async () => {
    const body = Readable.from([Buffer.from('01234'), Buffer.from('567890'), Buffer.from('more')])
    const error = await refusal(guard({statusCode: 200, headers: {'content-type': 'text/xml'}, body}))
    expect(error).toMatchObject({
      problem: 'too-large',
      status: 200,
      contentType: 'text/xml',
      start: '01234567890',
    })
    expect(error.message).toBe('the endpoint answered HTTP 200 (text/xml) with more than 10 B')
    expect(body.destroyed).toBe(true)
  })

  it('refuses a declared length past the cap before reading, showing the first bytes', async () => {
    const body = Readable.from(['<Error>declared', 'never read'])
    const error = await refusal(
      guard({statusCode: 200, headers: {'content-type': 'text/xml', 'content-length': '11'}, body}),
    )
    expect(error).toMatchObject({problem: 'too-large', start: '<Error>declared'})
    expect(body.destroyed).toBe(true)
    const empty = await refusal(guard({headers: {'content-length': '11'}, body: Readable.from([])}))
    expect(empty).toMatchObject({problem: 'too-large', status: 0, contentType: '', start: ''})
    // Exactly the cap is declared fine.
    const declared = await guard({headers: {'content-length': '10'}, body: Readable.from(['{"a":"bc"}'])})
    expect(await bodyText(declared)).toBe('{"a":"bc"}')
  })

  it('refuses what is neither JSON nor XML, unless it is a JSON object or empty', async () => {
    const answer = (contentType: string | undefined, text: string) =>
      guard(
        {
          statusCode: 502,
          headers: contentType === undefined ? {} : {'content-type': contentType},
          body: Readable.from([Buffer.from(text)]),
        },
        1000,
      )
    const page = await refusal(answer('text/html', '<html>502</html>'))
    expect(page).toMatchObject({
      problem: 'not-aws',
      status: 502,
      contentType: 'text/html',
      start: '<html>502</html>',
    })
    // moto answers some services' JSON as text/html.
    expect(await bodyText(await answer('text/html', '{"logEvents":[]}'))).toBe('{"logEvents":[]}')
    expect((await refusal(answer('text/plain', '[1, 2]'))).problem).toBe('not-aws')
    expect((await refusal(answer('text/plain', '{not json'))).problem).toBe('not-aws')
    expect(await bodyText(await answer('text/html', ''))).toBe('')
    // Without a content type the SDK's own parser decides.
    expect(await bodyText(await answer(undefined, '<html>'))).toBe('<html>')
    expect(await bodyText(await answer('application/xml', '<ok/>'))).toBe('<ok/>')
  })

  it('shows at most 200 bytes of a refused body', async () => {
    const text = `<html>${'x'.repeat(500)}</html>`
    const error = await refusal(
      guard({headers: {'content-type': 'text/html'}, body: Readable.from([Buffer.from(text)])}, 1000),
    )
    expect(error.start).toBe(text.slice(0, 200))
  })
})

describe('QUIET_LOGGER', () => {
  it('drops every level', () => {
    for (const level of ['trace', 'debug', 'info', 'warn', 'error'] as const)
      expect(QUIET_LOGGER[level]()).toBeUndefined()
  })
})
