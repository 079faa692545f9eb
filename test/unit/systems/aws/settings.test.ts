import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {SecretRegistry} from '../../../../src/secrets.js'
import {
  awsSettingsFor,
  endpointFor,
  parseConfigFile,
  regionFromEnv,
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

describe('awsSettingsFor and regionFromEnv on untidy records', () => {
  it('sets nothing from an empty record but the region', () => {
    expect(awsSettingsFor({HOME: tempDir('none')})).toStrictEqual({region: 'us-east-1'})
  })

  it('trims values and treats blank ones as unset', () => {
    const settings = awsSettingsFor({
      HOME: tempDir('none'),
      AWS_PROFILE: '  ',
      AWS_REGION: ' eu-west-1 ',
      AWS_ENDPOINT_URL: '',
      AWS_ENDPOINT_URL_ECR: '   ',
      AWS_ENDPOINT_URL_S3: ' http://127.0.0.1:9 ',
      AWS_ACCESS_KEY_ID: ' AKIDTRIM ',
      AWS_SECRET_ACCESS_KEY: ' trimmed-secret ',
      AWS_SESSION_TOKEN: ' ',
      AWS_CONFIG_FILE: ' ',
      AWS_SHARED_CREDENTIALS_FILE: '',
    })
    expect(settings).toStrictEqual({
      region: 'eu-west-1',
      endpoints: {s3: 'http://127.0.0.1:9'},
      credentials: {accessKeyId: 'AKIDTRIM', secretAccessKey: 'trimmed-secret'},
    })
  })

  it('reads only variables named exactly AWS_ENDPOINT_URL_<SERVICE>', () => {
    const settings = awsSettingsFor(
      {
        MY_AWS_ENDPOINT_URL_ECR: 'http://a',
        'AWS_ENDPOINT_URL_ECR-old': 'http://b',
        AWS_ENDPOINT_URL_STS: 'http://c',
      },
      {region: 'x'},
    )
    expect(settings.endpoints).toStrictEqual({sts: 'http://c'})
  })

  it('keeps the profile of the record, and uses keys only when both are there', () => {
    const home = tempDir('none')
    expect(awsSettingsFor({HOME: home, AWS_PROFILE: 'team'}).profile).toBe('team')
    // Keys with AWS_PROFILE and no --profile: the keys win (as in the aws CLI).
    expect(
      awsSettingsFor({
        HOME: home,
        AWS_PROFILE: 'team',
        AWS_ACCESS_KEY_ID: 'AKID',
        AWS_SECRET_ACCESS_KEY: 'secret',
      }).credentials,
    ).toStrictEqual({accessKeyId: 'AKID', secretAccessKey: 'secret'})
    expect(awsSettingsFor({HOME: home, AWS_ACCESS_KEY_ID: 'AKID'}).credentials).toBeUndefined()
    expect(awsSettingsFor({HOME: home, AWS_SECRET_ACCESS_KEY: 'secret'}).credentials).toBeUndefined()
  })

  it('takes whole attempt counts from 1 and the three retry modes', () => {
    const attempts = (value: string): number | undefined =>
      awsSettingsFor({AWS_MAX_ATTEMPTS: value}, {region: 'x'}).maxAttempts
    expect(attempts('1')).toBe(1)
    expect(attempts('0')).toBeUndefined()
    expect(attempts('2.5')).toBeUndefined()
    const mode = (value: string): string | undefined =>
      awsSettingsFor({AWS_RETRY_MODE: value}, {region: 'x'}).retryMode
    expect(mode('standard')).toBe('standard')
    expect(mode('legacy')).toBe('legacy')
    expect(mode('adaptive')).toBe('adaptive')
    expect(mode('')).toBeUndefined()
  })

  it('expands a lone ~ and ~/..., nothing else', () => {
    const file = (value: string): string | undefined =>
      awsSettingsFor({HOME: '/home/u', AWS_SHARED_CREDENTIALS_FILE: value}, {region: 'x'}).credentialsFile
    expect(file('~')).toBe('/home/u')
    expect(file('~/creds')).toBe('/home/u/creds')
    expect(file('/x/~/creds')).toBe('/x/~/creds')
    expect(file('~other/creds')).toBe('~other/creds')
  })

  it('says where the region came from', () => {
    const {home} = configHome()
    expect(regionFromEnv({HOME: home, AWS_REGION: 'eu-north-1', AWS_DEFAULT_REGION: 'x'})).toEqual({
      value: 'eu-north-1',
      source: 'env AWS_REGION',
    })
    expect(regionFromEnv({HOME: home, AWS_DEFAULT_REGION: 'ca-central-1'})).toEqual({
      value: 'ca-central-1',
      source: 'env AWS_DEFAULT_REGION',
    })
    expect(regionFromEnv({HOME: home, AWS_PROFILE: 'team'})).toEqual({
      value: 'ap-southeast-2',
      source: 'AWS profile team',
    })
    expect(regionFromEnv({HOME: home, AWS_PROFILE: 'other'}, 'team')).toEqual({
      value: 'ap-southeast-2',
      source: 'AWS profile team',
    })
    expect(regionFromEnv({HOME: home})).toEqual({value: 'eu-west-1', source: 'AWS profile default'})
    expect(regionFromEnv({HOME: tempDir('none')})).toEqual({value: 'us-east-1', source: 'default'})
  })

  it('registers the secret key alone when there is no session token', () => {
    const secrets = new SecretRegistry()
    registerAwsSecrets({AWS_SECRET_ACCESS_KEY: 'only-the-secret-key'}, secrets)
    expect(secrets.redact('only-the-secret-key')).toBe('********')
  })
})

describe('parseConfigFile on untidy files', () => {
  it('skips comments, trims lines and values, and cuts inline comments after any spaces', () => {
    const text = [
      '[default]   ',
      '# region = commented-out',
      '; region = also-commented-out',
      'region = eu-west-1    # the team default   ',
      'output = json\t; inline',
      'url = http://x/#anchor',
      'justaword',
      'name = [not a section]',
    ].join('\n')
    expect(parseConfigFile(text)).toStrictEqual({
      default: {region: 'eu-west-1', output: 'json', url: 'http://x/#anchor', name: '[not a section]'},
    })
  })

  it('reads [profile NAME] only when the section starts with the word profile', () => {
    expect(parseConfigFile('[sso-profile a]\nregion = x\n[profile   b  ]\nregion = y')).toStrictEqual({
      b: {region: 'y'},
    })
  })
})
