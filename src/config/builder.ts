import {usageError} from '../errors.js'
import type {Backend} from '../systems/backend.js'

/**
 * Where containerize, login and push run (issue 13). `local`: the backend on this machine.
 * The remote engines name an engine the team already runs; `codebuild` runs the whole build
 * (import to push) in an AWS CodeBuild project, with the docker backend.
 */
export type Builder =
  | {kind: 'local'}
  | {kind: 'docker-host'; url: string}
  | {kind: 'docker-context'; name: string}
  | {kind: 'podman-url'; url: string}
  | {kind: 'podman-connection'; name: string}
  | {kind: 'codebuild'}

export const BUILDER_FORMS = [
  'local',
  'docker-host:<url>',
  'docker-context:<name>',
  'podman-url:<url>',
  'podman-connection:<name>',
  'codebuild',
] as const

export const DEFAULT_BUILDER = 'local'

// Engine URLs the backends themselves accept: docker's -H and podman's --url.
const ENGINE_URL = /^(?:unix|tcp|ssh):\/\/\S+$/
// docker context / podman system connection names.
const ENGINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$/

/** Parses a --builder / MLDEPLOY_BUILDER value; throws a usage error naming the forms it accepts. */
export function parseBuilder(raw: string, source: string): Builder {
  const value = raw.trim()
  const bad = (what: string, fix: string) =>
    usageError(`Builder ${JSON.stringify(value.slice(0, 80))} (from ${source}) ${what}.`, fix)
  if (value === 'local' || value === 'codebuild') return {kind: value}
  const colon = value.indexOf(':')
  const kind = colon < 0 ? value : value.slice(0, colon)
  const argument = colon < 0 ? '' : value.slice(colon + 1)
  switch (kind) {
    case 'docker-host':
    case 'podman-url':
      if (!ENGINE_URL.test(argument))
        throw bad(
          'needs an engine URL',
          `Use ${kind}:unix:///path/to.sock, ${kind}:tcp://host:port or ${kind}:ssh://user@host.`,
        )
      return {kind, url: argument}
    case 'docker-context':
    case 'podman-connection':
      if (!ENGINE_NAME.test(argument))
        throw bad(
          'needs a name',
          `Use ${kind}:<name> (see \`${kind === 'docker-context' ? 'docker context ls' : 'podman system connection list'}\`).`,
        )
      return {kind, name: argument}
    default:
      throw bad('is not a builder', `Use one of: ${BUILDER_FORMS.join(', ')}.`)
  }
}

/** The backend a builder needs, when it needs one; undefined: any backend. */
export function backendOfBuilder(builder: Builder): Backend | undefined {
  switch (builder.kind) {
    case 'docker-host':
    case 'docker-context':
    case 'codebuild':
      return 'docker'
    case 'podman-url':
    case 'podman-connection':
      return 'podman'
    case 'local':
      return undefined
  }
}

/** How messages and the dry run name a builder. */
export function describeBuilder(builder: Builder): string {
  switch (builder.kind) {
    case 'local':
    case 'codebuild':
      return builder.kind
    case 'docker-host':
    case 'podman-url':
      return `${builder.kind}:${builder.url}`
    case 'docker-context':
    case 'podman-connection':
      return `${builder.kind}:${builder.name}`
  }
}
