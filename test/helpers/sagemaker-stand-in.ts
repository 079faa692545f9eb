import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'

import {listenOnLoopback} from './fault-proxy.js'

/**
 * A scripted stand-in for SageMaker's hosting API and the two IAM reads deploy makes, written for
 * the tests: moto answers CreateModel/CreateEndpointConfig/CreateEndpoint and brings an endpoint to
 * InService at once, but has no UpdateEndpoint, never plays Creating, Updating, RollingBack or
 * Failed, and its IAM has no SimulatePrincipalPolicy. This speaks SageMaker's JSON 1.1 protocol
 * and IAM's and STS's query protocol (XML answers) on loopback (STS only for GetCallerIdentity:
 * moto's caller is `arn:aws:sts::…:user/moto`, a shape AWS never gives), records every request, and walks an endpoint
 * through the test's script after a Create or Update, one DescribeEndpoint per entry.
 */
export interface StatusEntry {
  status: string
  failureReason?: string
  /** Which configuration DescribeEndpoint names in this entry: the new one (default) or the previous. */
  serves?: 'new' | 'previous'
}

export interface RecordedCall {
  operation: string
  body: Record<string, unknown>
}

export interface SageMakerStandIn {
  url: string
  calls: RecordedCall[]
  /** The statuses the next Create/UpdateEndpoint plays, one per DescribeEndpoint. */
  script: StatusEntry[]
  /** Roles IAM GetRole knows, by name (their ARN, path included). */
  roles: Map<string, string>
  /** Actions SimulatePrincipalPolicy says are denied (every other one is allowed). */
  deniedActions: Set<string>
  /** Operations (`iam:SimulatePrincipalPolicy`, `sagemaker:DescribeEndpoint`) answered with AccessDenied. */
  refused: Set<string>
  /** DescribeEndpoint calls still to answer with ThrottlingException (Infinity: always). */
  throttle: number
  operations(): string[]
  /** An endpoint as if an earlier deploy made it (InService on `configName`). */
  seedEndpoint(name: string, configName: string, status?: string): void
  /** Forget every resource, call and script (between tests). */
  reset(): void
  close(): Promise<void>
}

interface Endpoint {
  name: string
  configName: string
  previous: string | undefined
  status: string
  failureReason: string | undefined
  script: StatusEntry[]
  played: number
}

const ACCOUNT = '123456789012'
const REGION = 'us-east-1'
/** Who STS GetCallerIdentity says calls: an assumed role, whose role has a path. */
export const CALLER_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci-session`
export const CALLER_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/ci/deployer`
export const EXECUTION_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/sagemaker-execution`

export async function startSageMakerStandIn(): Promise<SageMakerStandIn> {
  const calls: RecordedCall[] = []
  const models = new Map<string, Record<string, unknown>>()
  const configs = new Map<string, Record<string, unknown>>()
  const endpoints = new Map<string, Endpoint>()
  const state = {
    script: [{status: 'Creating'}, {status: 'InService'}] as StatusEntry[],
    roles: new Map<string, string>(),
    deniedActions: new Set<string>(),
    refused: new Set<string>(),
    throttle: 0,
    callerArn: CALLER_ARN,
  }
  const arn = (kind: string, name: string) =>
    `arn:aws:sagemaker:${REGION}:${ACCOUNT}:${kind}/${name.toLowerCase()}`

  const json = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, {'content-type': 'application/x-amz-json-1.1'})
    response.end(JSON.stringify(body))
  }
  const fail = (response: ServerResponse, type: string, message: string, status = 400): void =>
    json(response, status, {__type: type, message})

  const view = (endpoint: Endpoint) => ({
    EndpointName: endpoint.name,
    EndpointArn: arn('endpoint', endpoint.name),
    EndpointConfigName: endpoint.configName,
    EndpointStatus: endpoint.status,
    ...(endpoint.failureReason === undefined ? {} : {FailureReason: endpoint.failureReason}),
    CreationTime: 1_700_000_000,
    LastModifiedTime: 1_700_000_000,
  })

  const play = (endpoint: Endpoint): void => {
    if (endpoint.played >= endpoint.script.length) return
    const entry = endpoint.script[endpoint.played]!
    endpoint.played++
    endpoint.status = entry.status
    endpoint.failureReason = entry.failureReason
    if (entry.serves === 'previous' && endpoint.previous !== undefined)
      endpoint.configName = endpoint.previous
  }

  const sagemaker = (operation: string, body: Record<string, unknown>, response: ServerResponse): void => {
    if (state.refused.has(`sagemaker:${operation}`))
      return fail(response, 'AccessDeniedException', `not authorized to perform: sagemaker:${operation}`)
    switch (operation) {
      case 'CreateModel': {
        const name = String(body.ModelName)
        if (models.has(name))
          return fail(
            response,
            'ValidationException',
            `Cannot create already existing model "${arn('model', name)}".`,
          )
        models.set(name, body)
        return json(response, 200, {ModelArn: arn('model', name)})
      }
      case 'DescribeModel': {
        const name = String(body.ModelName)
        const model = models.get(name)
        if (model === undefined)
          return fail(response, 'ValidationException', `Could not find model "${arn('model', name)}".`)
        return json(response, 200, {
          ModelName: name,
          ModelArn: arn('model', name),
          PrimaryContainer: model.PrimaryContainer,
          ExecutionRoleArn: model.ExecutionRoleArn,
          CreationTime: 1_700_000_000,
        })
      }
      case 'CreateEndpointConfig': {
        const name = String(body.EndpointConfigName)
        if (configs.has(name))
          return fail(
            response,
            'ValidationException',
            `Cannot create already existing endpoint configuration "${arn('endpoint-config', name)}".`,
          )
        configs.set(name, body)
        return json(response, 200, {EndpointConfigArn: arn('endpoint-config', name)})
      }
      case 'DescribeEndpointConfig': {
        const name = String(body.EndpointConfigName)
        const config = configs.get(name)
        if (config === undefined)
          return fail(
            response,
            'ValidationException',
            `Could not find endpoint configuration "${arn('endpoint-config', name)}".`,
          )
        return json(response, 200, {
          EndpointConfigName: name,
          EndpointConfigArn: arn('endpoint-config', name),
          ProductionVariants: config.ProductionVariants,
          CreationTime: 1_700_000_000,
        })
      }
      case 'CreateEndpoint': {
        const name = String(body.EndpointName)
        if (endpoints.has(name))
          return fail(
            response,
            'ValidationException',
            `Cannot create already existing endpoint "${arn('endpoint', name)}".`,
          )
        endpoints.set(name, {
          name,
          configName: String(body.EndpointConfigName),
          previous: undefined,
          status: 'Creating',
          failureReason: undefined,
          script: [...state.script],
          played: 0,
        })
        return json(response, 200, {EndpointArn: arn('endpoint', name)})
      }
      case 'UpdateEndpoint': {
        const name = String(body.EndpointName)
        const endpoint = endpoints.get(name)
        if (endpoint === undefined)
          return fail(response, 'ValidationException', `Could not find endpoint "${arn('endpoint', name)}".`)
        if (endpoint.status !== 'InService')
          return fail(
            response,
            'ValidationException',
            `Cannot update in-progress endpoint "${arn('endpoint', name)}".`,
          )
        endpoint.previous = endpoint.configName
        endpoint.configName = String(body.EndpointConfigName)
        endpoint.status = 'Updating'
        endpoint.failureReason = undefined
        endpoint.script = [...state.script]
        endpoint.played = 0
        return json(response, 200, {EndpointArn: arn('endpoint', name)})
      }
      case 'DescribeEndpoint': {
        if (state.throttle > 0) {
          state.throttle--
          return fail(response, 'ThrottlingException', 'Rate exceeded')
        }
        const name = String(body.EndpointName)
        const endpoint = endpoints.get(name)
        if (endpoint === undefined)
          return fail(response, 'ValidationException', `Could not find endpoint "${name}".`)
        const shown = view(endpoint)
        play(endpoint)
        return json(response, 200, shown)
      }
      default:
        return fail(response, 'UnknownOperationException', `The stand-in does not know ${operation}.`)
    }
  }

  const xml = (response: ServerResponse, status: number, body: string): void => {
    response.writeHead(status, {'content-type': 'text/xml'})
    response.end(body)
  }
  const iamError = (response: ServerResponse, code: string, message: string, status = 403): void =>
    xml(
      response,
      status,
      `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>1</RequestId></ErrorResponse>`,
    )

  const iam = (params: URLSearchParams, response: ServerResponse): void => {
    const action = params.get('Action') ?? ''
    if (state.refused.has(`iam:${action}`))
      return iamError(response, 'AccessDenied', `User is not authorized to perform: iam:${action}`)
    if (action === 'GetCallerIdentity') {
      // An assumed-role session, as CI's OIDC role gives: deploy maps it to its role for IAM.
      return xml(
        response,
        200,
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${state.callerArn}</Arn><UserId>AROA0000:ci</UserId><Account>${ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      )
    }
    if (action === 'GetRole') {
      const name = params.get('RoleName') ?? ''
      const found = state.roles.get(name)
      if (found === undefined)
        return iamError(response, 'NoSuchEntity', `The role with name ${name} cannot be found.`, 404)
      return xml(
        response,
        200,
        `<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><RoleName>${name}</RoleName><RoleId>AROA0000</RoleId><Arn>${found}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument></Role></GetRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetRoleResponse>`,
      )
    }
    if (action === 'SimulatePrincipalPolicy') {
      const actions = [...params.entries()]
        .filter(([key]) => key.startsWith('ActionNames.member.'))
        .map(([, value]) => value)
      const resource = params.get('ResourceArns.member.1') ?? '*'
      const members = actions
        .map(
          (each) =>
            `<member><EvalActionName>${each}</EvalActionName><EvalResourceName>${resource}</EvalResourceName><EvalDecision>${state.deniedActions.has(each) ? 'implicitDeny' : 'allowed'}</EvalDecision></member>`,
        )
        .join('')
      return xml(
        response,
        200,
        `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>${members}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>`,
      )
    }
    return iamError(response, 'InvalidAction', `The stand-in does not know ${action}.`, 400)
  }

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const target = String(request.headers['x-amz-target'] ?? '')
      if (target.startsWith('SageMaker.')) {
        const operation = target.slice('SageMaker.'.length)
        const body = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>
        calls.push({operation: `sagemaker:${operation}`, body})
        return sagemaker(operation, body, response)
      }
      const params = new URLSearchParams(text)
      const action = params.get('Action') ?? '?'
      const service = action === 'GetCallerIdentity' ? 'sts' : 'iam'
      calls.push({operation: `${service}:${action}`, body: Object.fromEntries(params.entries())})
      return iam(params, response)
    })
  })
  const port = await listenOnLoopback(server)
  const standIn: SageMakerStandIn = {
    url: `http://127.0.0.1:${port}`,
    calls,
    get script() {
      return state.script
    },
    set script(value) {
      state.script = value
    },
    roles: state.roles,
    deniedActions: state.deniedActions,
    refused: state.refused,
    get throttle() {
      return state.throttle
    },
    set throttle(value) {
      state.throttle = value
    },
    operations: () => calls.map((each) => each.operation),
    seedEndpoint(name, configName, status = 'InService') {
      endpoints.set(name, {
        name,
        configName,
        previous: undefined,
        status,
        failureReason: undefined,
        script: [],
        played: 0,
      })
    },
    reset() {
      for (const map of [models, configs, endpoints]) map.clear()
      calls.length = 0
      state.script = [{status: 'Creating'}, {status: 'InService'}]
      state.roles.clear()
      state.deniedActions.clear()
      state.refused.clear()
      state.throttle = 0
      // The two roles every deploy looks up: the caller's (with its path) and the execution role.
      state.roles.set('deployer', CALLER_ROLE_ARN)
      state.roles.set('sagemaker-execution', EXECUTION_ROLE_ARN)
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return standIn
}
