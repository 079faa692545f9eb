import {describe, expect, it} from 'vitest'

import {
  buildArgs,
  containerizeArgs,
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
