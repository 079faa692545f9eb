import {AwsError} from '../errors.js'
import type {AwsClients} from '../systems/aws/index.js'
import type {CheckOutcome} from './checks.js'

/**
 * Doctor's lifecycle check: a repository without a lifecycle policy grows with every push (each
 * adds an image under its bento version and a content tag). Never a failure: the push works.
 */
export async function lifecycleOutcome(
  clients: AwsClients,
  repository: string,
  account: string,
  signal: AbortSignal,
): Promise<CheckOutcome> {
  let text: string | undefined
  try {
    text = await clients.lifecyclePolicy(repository, account, signal)
  } catch (error) {
    if (error instanceof AwsError && error.reason === 'not-found')
      return {status: 'skip', message: `Repository ${repository} does not exist (see ECR above).`}
    if (error instanceof AwsError && error.reason === 'access-denied')
      return {
        status: 'warn',
        message: `Whether ${repository} has a lifecycle policy is unknown: ecr:GetLifecyclePolicy is denied.`,
        fix: 'Allow ecr:GetLifecyclePolicy (a read) on the repository to have it checked.',
        ...(error.detail === undefined ? {} : {detail: error.detail}),
        data: {repository, rules: null},
      }
    throw error
  }
  if (text === undefined)
    return {
      status: 'warn',
      message: `Repository ${repository} has no lifecycle policy: every push adds an image and none ever expires.`,
      fix: 'Attach one: the default of README "Repository growth" with aws ecr put-lifecycle-policy (repositories --create-repository makes get it).',
      data: {repository, rules: 0},
    }
  const rules = ruleCount(text)
  return {
    status: 'pass',
    message: `Repository ${repository} has a lifecycle policy${rules === null ? '' : ` (${rules} rule${rules === 1 ? '' : 's'})`}.`,
    data: {repository, rules},
  }
}

function ruleCount(text: string): number | null {
  try {
    const rules = (JSON.parse(text) as {rules?: unknown}).rules
    return Array.isArray(rules) ? rules.length : null
  } catch {
    return null
  }
}
