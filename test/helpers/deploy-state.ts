import {chmodSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {type PushFlags, resolvePushConfig} from '../../src/config/push-config.js'
import {DeployState} from '../../src/pipeline/state.js'
import type {SecretRegistry} from '../../src/secrets.js'
import type {
  Authorization,
  AwsClients,
  EcrManifest,
  Identity,
  ImageFacts,
  RepositoryFacts,
  RepositorySettings,
  TagPointers,
} from '../../src/systems/aws/index.js'
import type {ImageSource} from '../../src/systems/image-source.js'
import {MEDIA_TYPES} from '../../src/systems/media-types.js'
import {fakeBin, makeProject} from './cli.js'

export const ACCOUNT = '123456789012'
export const REGISTRY = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`
export const PASSWORD = 'fake-ecr-password-0123456789'
export const DIGEST = `sha256:${'ab'.repeat(32)}`
/** The manifest the fake ECR's BatchGetImage answers with. */
export const MANIFEST = '{"schemaVersion":2,"fake":"BatchGetImage"}'

/** A value, an error to throw, or a function of the call's signal (answers that change or hang). */
type Answer<T> = T | Error | ((signal?: AbortSignal) => T | Promise<T>)

async function answer<T>(value: Answer<T>, signal?: AbortSignal): Promise<T> {
  if (value instanceof Error) throw value
  if (typeof value === 'function') return (value as (signal?: AbortSignal) => T | Promise<T>)(signal)
  return value
}

/** An answer that never comes: the call ends only when its signal aborts (a closed network). */
export const hang = <T>(signal?: AbortSignal): Promise<T> =>
  new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(new Error(`aborted: ${String(signal.reason)}`)), {
      once: true,
    })
  })

/**
 * A stand-in for `AwsClients` with the methods the steps call. Each answer is a value, an error
 * to throw, or a function (for answers that change from call to call); every call is recorded.
 */
export class FakeAws {
  readonly calls: string[] = []
  identityAnswer: Answer<Identity> = {account: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`}
  repositoryAnswer: Answer<RepositoryFacts> = {
    uri: `${REGISTRY}/modela/v1`,
    mutability: 'MUTABLE',
    created: false,
  }
  /** What DescribeImages finds, per tag. */
  images = new Map<string, ImageFacts>()
  imagesAnswer: Answer<Map<string, ImageFacts>> | undefined
  retagAnswer: Answer<void> = undefined
  authorizationAnswer: Answer<Omit<Authorization, 'password'> & {password?: string}> = {
    registry: REGISTRY,
    username: 'AWS',
  }
  passwords = [PASSWORD]
  closed = false
  lifecycleAnswer: Answer<void> = undefined
  /** The policy texts PutLifecyclePolicy was given. */
  readonly lifecyclePolicies: string[] = []

  async identity(signal?: AbortSignal): Promise<Identity> {
    this.calls.push('identity')
    return answer(this.identityAnswer, signal)
  }

  async repository(
    name: string,
    account: string,
    create: RepositorySettings | undefined,
    signal?: AbortSignal,
  ): Promise<RepositoryFacts> {
    this.calls.push(
      `repository ${name} ${account}${create === undefined ? '' : ` create ${create.mutability}`}`,
    )
    return answer(this.repositoryAnswer, signal)
  }

  async putLifecyclePolicy(
    repository: string,
    account: string,
    policyText: string,
    signal?: AbortSignal,
  ): Promise<void> {
    this.calls.push(`putLifecyclePolicy ${repository} ${account}`)
    this.lifecyclePolicies.push(policyText)
    return answer(this.lifecycleAnswer, signal)
  }

  async imagesByTag(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, ImageFacts>> {
    this.calls.push(`imagesByTag ${repository} ${tags.join(',')}`)
    if (this.imagesAnswer !== undefined) return answer(this.imagesAnswer, signal)
    return new Map([...this.images].filter(([tag]) => tags.includes(tag)))
  }

  /** The tags read back in one call (verify). */
  async imagesOfTags(
    repository: string,
    tags: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, ImageFacts>> {
    this.calls.push(`imagesOfTags ${repository} ${tags.join(',')}`)
    if (this.imagesAnswer !== undefined) return answer(this.imagesAnswer, signal)
    return new Map([...this.images].filter(([tag]) => tags.includes(tag)))
  }

  /** PutImage under a tag (its answer: `retagAnswer`); the tag then names the digest. */
  async putManifest(
    repository: string,
    digest: string,
    tag: string,
    manifest: EcrManifest,
    signal?: AbortSignal,
  ): Promise<void> {
    this.calls.push(
      `putManifest ${repository} ${digest} ${tag}${manifest.manifest === MANIFEST ? '' : " (the check's manifest)"}`,
    )
    await answer(this.retagAnswer, signal)
    this.images.set(tag, {digest, sizeBytes: 1234, pushedAt: '2026-01-01T00:00:00.000Z', tags: [tag]})
  }

  /** Each call hands out the next password (a fresh token after an expiry), registered as ECR's is. */
  async authorization(secrets: SecretRegistry, signal?: AbortSignal): Promise<Authorization> {
    this.calls.push('authorization')
    const base = await answer(this.authorizationAnswer, signal)
    const password = this.passwords.length > 1 ? this.passwords.shift()! : this.passwords[0]!
    secrets.add(password)
    return {...base, password}
  }

  close(): void {
    this.closed = true
  }

  /** BatchGetImage's digests per tag (the tag step's one read; verify's when DescribeImages is denied). */
  digestsAnswer: Answer<Map<string, string>> | undefined

  async tagPointers(
    repository: string,
    tags: readonly string[],
    manifestOf?: string,
    signal?: AbortSignal,
  ): Promise<TagPointers> {
    this.calls.push(
      `tagPointers ${repository} ${tags.join(',')}${manifestOf === undefined ? '' : ` + ${manifestOf}`}`,
    )
    const digests =
      this.digestsAnswer !== undefined
        ? await answer(this.digestsAnswer, signal)
        : new Map(
            [...this.images].filter(([tag]) => tags.includes(tag)).map(([tag, facts]) => [tag, facts.digest]),
          )
    return {
      digests,
      manifest:
        manifestOf === undefined ? undefined : {manifest: MANIFEST, mediaType: MEDIA_TYPES.ociManifest},
    }
  }

  /** What the check step reads the pushed image through (ECR BatchGetImage + GetDownloadUrlForLayer). */
  imageSourceAnswer: Answer<ImageSource> = new Error('no image source in this test')

  async imageSource(repository: string, registryId?: string): Promise<ImageSource> {
    this.calls.push(`imageSource ${repository} ${registryId ?? ''}`.trimEnd())
    return answer(this.imageSourceAnswer)
  }

  get asClients(): AwsClients {
    return this as unknown as AwsClients
  }
}

export interface StepFixture {
  state: DeployState
  aws: FakeAws
  root: string
  bin: ReturnType<typeof fakeBin>
  /** The fake tool's environment knobs (FAKE_FAIL, FAKE_TRANSIENT...), read by the children. */
  env: Record<string, string>
}

/**
 * A DeployState for one target of a fresh project, with python, podman and docker being the
 * recording fake tool (test/fixtures/bin/fake-tool.js, really spawned) and AWS a `FakeAws`.
 */
export function stepFixture(
  options: {flags?: PushFlags; env?: Record<string, string>; files?: Record<string, string>} = {},
): StepFixture {
  const root = makeProject(options.files)
  const bin = fakeBin()
  const env: Record<string, string> = {
    PATH: `${bin.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: root,
    FAKE_LOG: bin.log,
    FAKE_PASSWORD: PASSWORD,
    MLDEPLOY_PYTHON: path.join(bin.dir, 'python'),
    ...options.env,
  }
  const config = resolvePushConfig('modelA/V1', {'skip-disk-check': true, ...options.flags}, env, root)
  const aws = new FakeAws()
  const state = new DeployState(config, {value: 'us-east-1', source: 'test'}, aws.asClients)
  return {state, aws, root, bin, env}
}

/** The state as the preflight leaves it: account known, a login token fetched. */
export async function afterPreflight(fixture: StepFixture): Promise<StepFixture> {
  fixture.state.account = {value: ACCOUNT, source: 'STS GetCallerIdentity'}
  fixture.state.authorization = await fixture.aws.authorization(fixture.state.secrets)
  fixture.aws.calls.length = 0
  return fixture
}

/** A tiny executable Node script (a stand-in made for one test), returned by path. */
export function scriptTool(dir: string, name: string, body: string): string {
  const file = path.join(dir, name)
  // fakeBin's tools are symlinks to the shared fake tool: replace the link, never write through it.
  rmSync(file, {force: true})
  writeFileSync(file, `#!${process.execPath}\n${body}\n`)
  chmodSync(file, 0o755)
  return file
}
