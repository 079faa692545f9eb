import {describe, expect, it} from 'vitest'

import {
  BENTO_VERSION,
  bentoGetArgs,
  bentomlEnv,
  buildArgs,
  containerizeArgs,
  containerizeOptions,
  judgeBentomlProbe,
  MIN_BENTOML_VERSION,
  modelGetArgs,
  parseBuildTag,
  splitBentoTag,
  tagFromLine,
  versionAtLeast,
} from '../../../src/systems/bentoml.js'

// Shapes of real `bentoml build` output (BentoML 1.4): a banner, the success line, next steps.
// The fixtures captured from real runs on this machine are checked in bentoml-fixtures.test.ts.
const BANNER = [
  '██████╗ ███████╗███╗   ██╗████████╗ ██████╗ ███╗   ███╗██╗',
  '██████╔╝███████╗██║ ╚████║   ██║   ╚██████╔╝██║ ╚═╝ ██║███████╗',
]
const NEXT_STEPS = [
  '',
  'Next steps:',
  '',
  '* Deploy to BentoCloud:',
  '    $ bentoml deploy iris_classifier:3mhfqxq5lsoaaaab -n ${DEPLOYMENT_NAME}',
]
const TAG = 'iris_classifier:3mhfqxq5lsoaaaab'

describe('parseBuildTag', () => {
  it('reads the plain success line', () => {
    const output = [...BANNER, '', `Successfully built Bento(tag="${TAG}").`, ...NEXT_STEPS].join('\n')
    expect(parseBuildTag(output)).toBe(TAG)
  })

  it('reads the line when FORCE_COLOR split it into coloured spans', () => {
    const output = `\u001b[32mSuccessfully built Bento(tag=\u001b[0m\u001b[32m"\u001b[0m\u001b[1;32m${TAG}\u001b[0m\u001b[32m"\u001b[0m\u001b[32m)\u001b[0m\u001b[32m.\u001b[0m\n`
    expect(parseBuildTag(output)).toBe(TAG)
  })

  it('reads a long tag that rich wrapped at 80 columns, mid-word and at a space', () => {
    const long = 'a-very-long-service-name-for-the-fraud-detector-of-the-team:3mhfqxq5lsoaaaab'
    const line = `Successfully built Bento(tag="${long}").`
    const midWord = [line.slice(0, 80), line.slice(80)].join('\n')
    expect(parseBuildTag(midWord)).toBe(long)
    const atSpace = ['Successfully built', `Bento(tag="${long.slice(0, 50)}`, `${long.slice(50)}").`].join(
      '\n',
    )
    expect(parseBuildTag(atSpace)).toBe(long)
    // rich pads each wrapped line with spaces to the terminal width.
    const padded = [`${line.slice(0, 60)}   `, `  ${line.slice(60)}  `].join('\n')
    expect(parseBuildTag(padded)).toBe(long)
  })

  it('prefers the -o tag line, even with the service printing around it', () => {
    const output = [
      'loading model iris',
      `__tag__:${TAG}`,
      'service says: Successfully built Bento(tag="x:y")',
    ].join('\n')
    expect(parseBuildTag(output)).toBe(TAG)
  })

  it('ignores a service print that looks like a tag line but is not one', () => {
    expect(tagFromLine('print: __tag__:not a tag')).toBeUndefined()
    expect(tagFromLine('__tag__:Upper:CASE')).toBeUndefined()
    expect(tagFromLine(`  __tag__:${TAG}  `)).toBe(TAG)
  })

  it('finds nothing in quiet output', () => {
    expect(parseBuildTag('')).toBeUndefined()
    expect(parseBuildTag('some service output\nanother line\n')).toBeUndefined()
  })

  it('rejects a tag that breaks the bento tag rules', () => {
    expect(parseBuildTag('Successfully built Bento(tag="Bad Tag:1").')).toBeUndefined()
  })
})

describe('bentoml arguments', () => {
  it('builds with -o tag and an optional version', () => {
    expect(buildArgs()).toEqual(['-m', 'bentoml', 'build', '-o', 'tag'])
    expect(buildArgs('v1')).toEqual(['-m', 'bentoml', 'build', '-o', 'tag', '--version', 'v1'])
  })

  it('containerizes with one -t per image and the platform as an --opt', () => {
    expect(containerizeArgs('s:v', 'docker', ['r/a:1', 'r/a:2'], 'linux/amd64')).toEqual([
      '-m',
      'bentoml',
      'containerize',
      's:v',
      '--backend',
      'docker',
      '-t',
      'r/a:1',
      '-t',
      'r/a:2',
      '--opt',
      'platform=linux/amd64',
    ])
  })

  it('splits tags and compares versions', () => {
    expect(splitBentoTag(TAG)).toEqual({name: 'iris_classifier', version: '3mhfqxq5lsoaaaab'})
    expect(versionAtLeast('1.4.25', '1.4.25')).toBe(true)
    expect(versionAtLeast('1.4.30', '1.4.25')).toBe(true)
    expect(versionAtLeast('1.10.0', '1.4.25')).toBe(true)
    expect(versionAtLeast('1.4.24', '1.4.25')).toBe(false)
    expect(versionAtLeast('1.3.99', '1.4.25')).toBe(false)
  })
})

describe('bentoml calls', () => {
  it('runs bentoml wide, colourless, unbuffered and without usage statistics', () => {
    expect(bentomlEnv()).toEqual({
      COLUMNS: '10000',
      BENTOML_DO_NOT_TRACK: 'true',
      NO_COLOR: '1',
      PYTHONUNBUFFERED: '1',
    })
  })

  it('containerizes without a platform when none is given', () => {
    expect(containerizeArgs('s:v', 'podman', ['r/a:1'])).toEqual([
      '-m',
      'bentoml',
      'containerize',
      's:v',
      '--backend',
      'podman',
      '-t',
      'r/a:1',
    ])
  })

  it('passes labels as --opt label=K=V, and turns attestations off for buildx only', () => {
    expect(containerizeOptions({labels: {a: '1', 'org.x': 'y=z'}, dockerBuildx: true})).toEqual([
      '--opt',
      'label=a=1',
      '--opt',
      'label=org.x=y=z',
      '--opt',
      'provenance=false',
      '--opt',
      'sbom=false',
    ])
    expect(containerizeOptions({dockerBuildx: false})).toEqual([])
    expect(containerizeOptions({})).toEqual([])
  })

  it('looks bentos and models up as JSON', () => {
    expect(bentoGetArgs('s:v')).toEqual(['-m', 'bentoml', 'get', 's:v', '-o', 'json'])
    expect(modelGetArgs('m:v')).toEqual(['-m', 'bentoml', 'models', 'get', 'm:v', '-o', 'json'])
  })

  it('reads a tag line with colours and trailing spaces, and nothing else', () => {
    expect(tagFromLine(`\u001b[1m__tag__:${TAG}\u001b[0m  `)).toBe(TAG)
    expect(tagFromLine(`  __tag__:${TAG}`)).toBe(TAG)
    expect(tagFromLine(`x__tag__:${TAG}`)).toBeUndefined()
    expect(tagFromLine(`__tag__:${TAG} extra`)).toBeUndefined()
    expect(tagFromLine('__tag__:')).toBeUndefined()
  })

  it('accepts bento versions of 1 to 63 characters that start and end alphanumeric', () => {
    expect(BENTO_VERSION.test('a')).toBe(true)
    expect(BENTO_VERSION.test(`a${'b'.repeat(61)}c`)).toBe(true)
    expect(BENTO_VERSION.test(`a${'b'.repeat(62)}c`)).toBe(false)
    expect(BENTO_VERSION.test('a-')).toBe(false)
    expect(BENTO_VERSION.test('x1:v')).toBe(false)
  })

  it('compares versions by their first three numbers, pre-release suffixes ignored', () => {
    expect(versionAtLeast('2', '1.4.25')).toBe(true)
    expect(versionAtLeast('1.4', '1.4.25')).toBe(false)
    expect(versionAtLeast('1.4.25rc1', '1.4.25')).toBe(true)
    expect(versionAtLeast('1.4.25-dev', '1.4.26')).toBe(false)
    expect(versionAtLeast('1.4.26+local.9', '1.4.25')).toBe(true)
    expect(versionAtLeast('1.4.24.9', '1.4.25')).toBe(false)
    expect(versionAtLeast('0.x.0', '0.0.1')).toBe(false)
  })
})

describe('judgeBentomlProbe', () => {
  it('passes a recent bentoml with its version', () => {
    expect(judgeBentomlProbe('python3', {exitCode: 0, tail: ['10.0.0']})).toEqual({
      ok: true,
      version: '10.0.0',
    })
    expect(judgeBentomlProbe('python3', {exitCode: 0, tail: ['1.4.30 ']})).toEqual({
      ok: true,
      version: '1.4.30',
    })
    expect(judgeBentomlProbe('python3', {exitCode: 0, tail: [MIN_BENTOML_VERSION]})).toEqual({
      ok: true,
      version: MIN_BENTOML_VERSION,
    })
  })

  it('says bentoml is missing when the probe fails or prints no version', () => {
    const missing = {
      ok: false,
      message: 'bentoml is not installed in /venv/bin/python.',
      hint: `Install it in that environment (pip install "bentoml>=${MIN_BENTOML_VERSION}") or pick another with --python.`,
    }
    expect(
      judgeBentomlProbe('/venv/bin/python', {
        exitCode: 1,
        tail: ['Traceback (most recent call last):', 'PackageNotFoundError: bentoml'],
      }),
    ).toEqual({...missing, detail: 'Traceback (most recent call last):\nPackageNotFoundError: bentoml'})
    expect(judgeBentomlProbe('/venv/bin/python', {exitCode: 0, tail: ['not a version']})).toEqual({
      ...missing,
      detail: 'not a version',
    })
    expect(judgeBentomlProbe('/venv/bin/python', {exitCode: 0, tail: ['v1.4.30']})).toEqual({
      ...missing,
      detail: 'v1.4.30',
    })
    expect(judgeBentomlProbe('/venv/bin/python', {exitCode: 0, tail: []})).toEqual({...missing, detail: ''})
    expect(judgeBentomlProbe('/venv/bin/python', {exitCode: undefined, tail: ['1.4.30']})).toMatchObject({
      ok: false,
      message: missing.message,
    })
  })

  it('refuses a bentoml older than the minimum, naming both versions', () => {
    expect(judgeBentomlProbe('python3', {exitCode: 0, tail: ['warming up', '1.3.0']})).toEqual({
      ok: false,
      message: `bentoml 1.3.0 in python3 is older than ${MIN_BENTOML_VERSION}.`,
      hint: `Upgrade it (pip install -U "bentoml>=${MIN_BENTOML_VERSION}"): older versions break containerize.`,
      version: '1.3.0',
    })
  })
})
