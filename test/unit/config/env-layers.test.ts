import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {EnvLayers, parseEnvFile} from '../../../src/config/env-layers.js'
import {loadEnvLayers} from '../../../src/config/target-layers.js'
import {tempDir} from '../../helpers/cli.js'

function project(files: Record<string, string>): {root: string; target: string} {
  const root = tempDir('env')
  const target = path.join(root, 'deploy/m/v1')
  mkdirSync(target, {recursive: true})
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(root, file), text)
  return {root, target}
}

describe('EnvLayers', () => {
  it('the process first, then the stage files, then the plain ones, the target before the root', () => {
    const {root, target} = project({
      '.env': 'A=root\nB=root\nC=root\nD=root\n',
      'deploy/m/v1/.env': 'B=target\nC=target\n',
      '.env.prod': 'C=root-prod\n',
      'deploy/m/v1/.env.prod': 'D=target-prod\n',
    })
    const layers = loadEnvLayers({A: 'process'}, root, target, 'prod')
    expect(layers.files.map((file) => file.shown)).toEqual([
      'deploy/m/v1/.env.prod',
      '.env.prod',
      'deploy/m/v1/.env',
      '.env',
    ])
    expect(layers.get('A')).toEqual({value: 'process', source: 'env A'})
    expect(layers.get('B')).toEqual({value: 'target', source: 'deploy/m/v1/.env B'})
    expect(layers.get('C')).toEqual({value: 'root-prod', source: '.env.prod C'})
    expect(layers.get('D')).toEqual({value: 'target-prod', source: 'deploy/m/v1/.env.prod D'})
    expect(layers.get('E')).toBeUndefined()
    // Children get the same precedence.
    expect(layers.childEnv()).toMatchObject({A: 'process', B: 'target', C: 'root-prod', D: 'target-prod'})
  })

  it('an empty value counts as unset, in the process and in files', () => {
    const {root, target} = project({'.env': 'A=\nB=from-file\n', 'deploy/m/v1/.env': 'B=\n'})
    const layers = loadEnvLayers({A: '', B: ''}, root, target)
    expect(layers.get('A')).toBeUndefined()
    expect(layers.get('B')).toEqual({value: 'from-file', source: '.env B'})
  })

  it('without a target, only the root; a folder named .env is not a file', () => {
    const {root} = project({'.env': 'A=1\n'})
    mkdirSync(path.join(root, 'deploy/m/v1/.env'))
    expect(loadEnvLayers({}, root, undefined).files.map((file) => file.shown)).toEqual(['.env'])
    expect(loadEnvLayers({}, root, path.join(root, 'deploy/m/v1')).files.map((file) => file.shown)).toEqual([
      '.env',
    ])
  })

  it('childEnv leaves out variables the process has undefined', () => {
    const layers = new EnvLayers({A: undefined, B: 'b'}, [])
    expect(layers.childEnv()).toEqual({B: 'b'})
  })
})

describe('parseEnvFile', () => {
  it('reads export, colon and quoted values, comments and blank lines', () => {
    const {root} = project({
      '.env': '# comment\n\nexport A=1\nB: two\n  C = "three"\nD=\'multi\nline\'\nE.F-G=x\n',
    })
    expect(parseEnvFile(path.join(root, '.env'))).toEqual({
      A: '1',
      B: 'two',
      C: 'three',
      D: 'multi\nline',
      'E.F-G': 'x',
    })
  })

  it('refuses a line that is not KEY=value, naming file and line', () => {
    const {root} = project({'.env': 'A=1\nthis is not a setting\n'})
    const file = path.join(root, '.env')
    expect(() => parseEnvFile(file)).toThrow(`${file}:2 is not a KEY=value line: "this is not a setting".`)
    const {root: other} = project({'.env': '1A=x\n'})
    expect(() => parseEnvFile(path.join(other, '.env'))).toThrow(':1 is not a KEY=value line')
  })

  it('refuses a quote that never closes, naming the line it opens on', () => {
    for (const quote of ['"', "'", '`']) {
      const {root} = project({'.env': `A=1\nB=${quote}open\nC=3\n`})
      const file = path.join(root, '.env')
      expect(() => parseEnvFile(file), quote).toThrow(`${file}:2 opens a ${quote} quote that never closes.`)
    }
  })

  it('a line inside an open quote is part of the value, whatever it looks like', () => {
    const {root} = project({'.env': 'A="first\nnot a key line\nlast"\nB=2\n'})
    expect(parseEnvFile(path.join(root, '.env'))).toEqual({A: 'first\nnot a key line\nlast', B: '2'})
  })

  it('an unreadable file is bad input', () => {
    expect(() => parseEnvFile('/nonexistent/.env')).toThrow('Cannot read /nonexistent/.env:')
  })
})
