import {AwsError} from '../../errors.js'
import {errorName} from './errors.js'
import {type EcrApi, errorText} from './session.js'
import {ecrModule} from './sdk.js'

/** ECR repositories: the facts of one (created when asked), and a listing that proves access. */
export type TagMutability = 'MUTABLE' | 'IMMUTABLE'

export interface RepositorySettings {
  mutability: TagMutability
  scanOnPush: boolean
}

export interface RepositoryFacts {
  uri: string
  mutability: string
  created: boolean
}

/**
 * The repository's facts; a missing one is created when `create` says how, else it is a
 * not-found error naming repository, account and region.
 */
export async function repositoryFacts(
  api: EcrApi,
  repository: string,
  account: string,
  create: RepositorySettings | undefined,
  signal?: AbortSignal,
): Promise<RepositoryFacts> {
  const {CreateRepositoryCommand, DescribeRepositoriesCommand} = await ecrModule()
  const client = await api.client()
  try {
    const out = await client.send(
      new DescribeRepositoriesCommand({repositoryNames: [repository], registryId: account}),
      api.options(signal),
    )
    const found = out.repositories?.[0]
    return {
      uri: found?.repositoryUri ?? '',
      mutability: found?.imageTagMutability ?? 'MUTABLE',
      created: false,
    }
  } catch (error) {
    if (errorName(error) !== 'RepositoryNotFoundException') {
      throw api.fail(error, 'ecr:DescribeRepositories', `Checking ECR repository ${repository}`)
    }
    if (create === undefined) {
      throw new AwsError(
        'not-found',
        'ecr:DescribeRepositories',
        `ECR repository ${repository} does not exist in account ${account}, region ${api.region}.`,
        {
          hint: `Create it with --create-repository, or pick another with --repository.`,
          detail: api.redact(errorText(error)),
          cause: error,
        },
      )
    }
  }
  try {
    const out = await client.send(
      new CreateRepositoryCommand({
        repositoryName: repository,
        imageTagMutability: create.mutability,
        imageScanningConfiguration: {scanOnPush: create.scanOnPush},
      }),
      api.options(signal),
    )
    return {uri: out.repository?.repositoryUri ?? '', mutability: create.mutability, created: true}
  } catch (error) {
    // Another run created it in the meantime: that is what we wanted.
    if (errorName(error) === 'RepositoryAlreadyExistsException')
      return repositoryFacts(api, repository, account, undefined, signal)
    throw api.fail(error, 'ecr:CreateRepository', `Creating ECR repository ${repository}`)
  }
}

/** A read that hands out nothing: proves ECR answers and the credentials may list repositories. */
export async function repositoryNames(
  api: EcrApi,
  maxResults: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const {DescribeRepositoriesCommand} = await ecrModule()
  const client = await api.client()
  try {
    const out = await client.send(new DescribeRepositoriesCommand({maxResults}), api.options(signal))
    return (out.repositories ?? []).flatMap((repository) => repository.repositoryName ?? [])
  } catch (error) {
    throw api.fail(error, 'ecr:DescribeRepositories', 'Listing ECR repositories (DescribeRepositories)')
  }
}

/** Attach a lifecycle policy (ECR's JSON) to a repository, replacing any it has. */
export async function putLifecyclePolicy(
  api: EcrApi,
  repository: string,
  account: string,
  policyText: string,
  signal?: AbortSignal,
): Promise<void> {
  const {PutLifecyclePolicyCommand} = await ecrModule()
  const client = await api.client()
  try {
    await client.send(
      new PutLifecyclePolicyCommand({
        repositoryName: repository,
        registryId: account,
        lifecyclePolicyText: policyText,
      }),
      api.options(signal),
    )
  } catch (error) {
    throw api.fail(error, 'ecr:PutLifecyclePolicy', `Attaching a lifecycle policy to ${repository}`)
  }
}

/** The repository's lifecycle policy text; undefined when it has none. */
export async function lifecyclePolicy(
  api: EcrApi,
  repository: string,
  account: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const {GetLifecyclePolicyCommand} = await ecrModule()
  const client = await api.client()
  try {
    const out = await client.send(
      new GetLifecyclePolicyCommand({repositoryName: repository, registryId: account}),
      api.options(signal),
    )
    return out.lifecyclePolicyText ?? ''
  } catch (error) {
    if (errorName(error) === 'LifecyclePolicyNotFoundException') return undefined
    throw api.fail(error, 'ecr:GetLifecyclePolicy', `Reading the lifecycle policy of ${repository}`)
  }
}
