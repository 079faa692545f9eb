import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {SecretRegistry} from '../../../../src/secrets.js'
import {
  awsSettingsFor,
  endpointFor,
  parseConfigFile,
  regionFromProfile,
  registerAwsSecrets,
  resolveRegion,
  withoutAwsCredentials,
} from '../../../../src/systems/aws/index.js'
import {tempDir} from '../../../helpers/cli.js'

const CONFIG = `# a comment
[default]
region = eu-west-1
output = json

[profile team]
region=ap-southeast-2 ; inline comment
s3 =
  region = nested-not-this

[sso-session corp]
region = us-west-2

[profile default]
output = text
`

function configHome(text = CONFIG): {home: string; file: string} {
  const home = tempDir('awshome')
  mkdirSync(path.join(home, '.aws'))
  const file = path.join(home, '.aws', 'config')
  writeFileSync(file, text)
  return {home, file}
}

describe('the AWS config file, read without the SDK', () => {
  it('parses [default] and [profile NAME], skipping nested keys and other sections', () => {
    const sections = parseConfigFile(CONFIG)
    expect(sections.default).toEqual({region: 'eu-west-1', output: 'text'})
    expect(sections.team).toEqual({region: 'ap-southeast-2', s3: ''})
    expect(Object.keys(sections)).toEqual(['default', 'team'])
  })

  it("reads the profile's region from ~/.aws/config of the target's HOME, or AWS_CONFIG_FILE", () => {
    const {home, file} = configHome()
    expect(regionFromProfile({HOME: home}, undefined)).toBe('eu-west-1')
    expect(regionFromProfile({HOME: home}, 'team')).toBe('ap-southeast-2')
    expect(regionFromProfile({HOME: home}, 'missing')).toBeUndefined()
    const other = tempDir('awsconfig')
    expect(regionFromProfile({HOME: other, AWS_CONFIG_FILE: file}, 'team')).toBe('ap-southeast-2')
    expect(regionFromProfile({HOME: other}, 'team')).toBeUndefined()
  })

  it('keeps the order: resolved region (flag, AWS_REGION, AWS_DEFAULT_REGION) > profile > default', async () => {
    const {home} = configHome()
    const env = {HOME: home}
    expect(
      await resolveRegion({
        region: {value: 'sa-east-1', source: 'flag --region'},
        profile: undefined,
        childEnv: env,
      }),
    ).toEqual({value: 'sa-east-1', source: 'flag --region'})
    expect(
      await resolveRegion({
        region: undefined,
        profile: {value: 'team', source: 'flag --profile'},
        childEnv: env,
      }),
    ).toEqual({value: 'ap-southeast-2', source: 'AWS profile team'})
    expect(await resolveRegion({region: undefined, profile: undefined, childEnv: env})).toEqual({
      value: 'eu-west-1',
      source: 'AWS profile default',
    })
    expect(
      await resolveRegion({region: undefined, profile: undefined, childEnv: {HOME: tempDir('none')}}),
    ).toEqual({value: 'us-east-1', source: 'default'})
    expect(awsSettingsFor({HOME: home, AWS_DEFAULT_REGION: 'ca-central-1'}).region).toBe('ca-central-1')
    expect(
      awsSettingsFor({HOME: home, AWS_DEFAULT_REGION: 'ca-central-1', AWS_REGION: 'eu-north-1'}).region,
    ).toBe('eu-north-1')
    expect(awsSettingsFor({HOME: home, AWS_PROFILE: 'team'}).region).toBe('ap-southeast-2')
  })
})

describe('awsSettingsFor: one target, its own environment record', () => {
  it('takes endpoints, keys, retries and files from the record, never from process.env', () => {
    const settings = awsSettingsFor(
      {
        AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
        AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:2',
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://127.0.0.1:3',
        AWS_ACCESS_KEY_ID: 'AKIDTARGET',
        AWS_SECRET_ACCESS_KEY: 'target-secret',
        AWS_SESSION_TOKEN: 'target-session',
        AWS_MAX_ATTEMPTS: '5',
        AWS_RETRY_MODE: 'adaptive',
        AWS_CONFIG_FILE: '/cfg',
        AWS_SHARED_CREDENTIALS_FILE: '/creds',
      },
      {region: 'eu-west-3', quick: true},
    )
    expect(settings).toEqual({
      region: 'eu-west-3',
      quick: true,
      endpoint: 'http://127.0.0.1:1',
      endpoints: {sts: 'http://127.0.0.1:2', cloudwatch_logs: 'http://127.0.0.1:3'},
      credentials: {
        accessKeyId: 'AKIDTARGET',
        secretAccessKey: 'target-secret',
        sessionToken: 'target-session',
      },
      maxAttempts: 5,
      retryMode: 'adaptive',
      configFile: '/cfg',
      credentialsFile: '/creds',
    })
    expect(endpointFor(settings, 'ecr')).toBe('http://127.0.0.1:1')
    expect(endpointFor(settings, 'STS')).toBe('http://127.0.0.1:2')
    expect(endpointFor(awsSettingsFor({}, {region: 'x'}), 'ecr')).toBeUndefined()
  })

  it('keys in the record beat AWS_PROFILE (as in the aws CLI); an explicit --profile beats keys', () => {
    const env = {AWS_PROFILE: 'team', AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret'}
    expect(awsSettingsFor(env, {region: 'x', profile: 'team'}).credentials?.accessKeyId).toBe('AKID')
    const flagged = awsSettingsFor(env, {region: 'x', profile: 'other'})
    expect(flagged.credentials).toBeUndefined()
    expect(flagged.profile).toBe('other')
  })

  it('ignores nonsense retry settings and expands ~ in file paths with the record HOME', () => {
    const settings = awsSettingsFor(
      {HOME: '/home/u', AWS_MAX_ATTEMPTS: 'many', AWS_RETRY_MODE: 'sometimes', AWS_CONFIG_FILE: '~/cfg'},
      {region: 'x'},
    )
    expect(settings.maxAttempts).toBeUndefined()
    expect(settings.retryMode).toBeUndefined()
    expect(settings.configFile).toBe('/home/u/cfg')
  })
})

describe('AWS secrets', () => {
  it('registers the secret key and session token of the target', () => {
    const secrets = new SecretRegistry()
    registerAwsSecrets(
      {
        AWS_ACCESS_KEY_ID: 'AKIDVISIBLE',
        AWS_SECRET_ACCESS_KEY: 'the-secret-key',
        AWS_SESSION_TOKEN: 'the-session-token',
      },
      secrets,
    )
    expect(secrets.redact('AKIDVISIBLE the-secret-key the-session-token')).toBe(
      'AKIDVISIBLE ******** ********',
    )
  })

  it('withoutAwsCredentials removes the keys only', () => {
    expect(
      withoutAwsCredentials({
        PATH: '/bin',
        AWS_REGION: 'x',
        AWS_ACCESS_KEY_ID: 'a',
        AWS_SECRET_ACCESS_KEY: 'b',
        AWS_SESSION_TOKEN: 'c',
      }),
    ).toEqual({PATH: '/bin', AWS_REGION: 'x'})
  })
})
