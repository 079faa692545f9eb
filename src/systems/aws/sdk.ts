/**
 * The AWS SDK's modules, each loaded the first time a call needs it (a dry run or `--help` never
 * loads them). They are CommonJS: bundled and split into their own chunk (scripts/bundle.mjs),
 * such a module is imported as its `default` export only, while Node's own import also names
 * every export. Taking the exports from `default` when there is one works for both.
 */
const exportsOf = <T>(module: T): T => (module as {default?: T}).default ?? module

export const ecrModule = (): Promise<typeof import('@aws-sdk/client-ecr')> =>
  import('@aws-sdk/client-ecr').then(exportsOf)

export const stsModule = (): Promise<typeof import('@aws-sdk/client-sts')> =>
  import('@aws-sdk/client-sts').then(exportsOf)

export const credentialProviderModule = (): Promise<typeof import('@aws-sdk/credential-provider-node')> =>
  import('@aws-sdk/credential-provider-node').then(exportsOf)
