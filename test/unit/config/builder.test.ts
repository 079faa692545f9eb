import {describe, expect, it} from 'vitest'

import {backendOfBuilder, describeBuilder, parseBuilder} from '../../../src/config/builder.js'
import {UsageError} from '../../../src/errors.js'

describe('parseBuilder', () => {
  it('reads every form', () => {
    expect(parseBuilder('local', 'default')).toEqual({kind: 'local'})
    expect(parseBuilder(' codebuild ', 'flag --builder')).toEqual({kind: 'codebuild'})
    expect(parseBuilder('docker-host:tcp://10.0.0.5:2375', 'x')).toEqual({
      kind: 'docker-host',
      url: 'tcp://10.0.0.5:2375',
    })
    expect(parseBuilder('podman-url:unix:///run/podman/podman.sock', 'x')).toEqual({
      kind: 'podman-url',
      url: 'unix:///run/podman/podman.sock',
    })
    expect(parseBuilder('docker-context:build-box', 'x')).toEqual({kind: 'docker-context', name: 'build-box'})
    expect(parseBuilder('podman-connection:remote.1', 'x')).toEqual({
      kind: 'podman-connection',
      name: 'remote.1',
    })
  })

  it.each([
    ['kubernetes', 'is not a builder', 'docker-host:<url>'],
    ['docker-host:', 'needs an engine URL', 'tcp://host:port'],
    ['docker-host:http://x:2375', 'needs an engine URL', 'unix://'],
    ['podman-url:/run/podman.sock', 'needs an engine URL', 'podman-url:unix://'],
    ['docker-context:', 'needs a name', 'docker context ls'],
    ['podman-connection:-x', 'needs a name', 'podman system connection list'],
    ['Local', 'is not a builder', 'codebuild'],
  ])('refuses %j with one line naming the forms', (raw, what, hint) => {
    let error: unknown
    try {
      parseBuilder(raw, 'env MLDEPLOY_BUILDER')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(UsageError)
    const message = (error as UsageError).message
    expect(message).toContain(what)
    expect(message).toContain('(from env MLDEPLOY_BUILDER)')
    expect(`${message} ${(error as UsageError).hint ?? ''}`).toContain(hint)
  })

  it('names the backend each builder needs', () => {
    expect(backendOfBuilder({kind: 'local'})).toBeUndefined()
    expect(backendOfBuilder({kind: 'codebuild'})).toBe('docker')
    expect(backendOfBuilder({kind: 'docker-host', url: 'tcp://h:1'})).toBe('docker')
    expect(backendOfBuilder({kind: 'docker-context', name: 'c'})).toBe('docker')
    expect(backendOfBuilder({kind: 'podman-url', url: 'unix:///s'})).toBe('podman')
    expect(backendOfBuilder({kind: 'podman-connection', name: 'c'})).toBe('podman')
  })

  it('describes a builder the way it was written', () => {
    for (const raw of [
      'local',
      'codebuild',
      'docker-host:ssh://me@box',
      'podman-url:unix:///run/podman.sock',
      'docker-context:ci',
      'podman-connection:box',
    ])
      expect(describeBuilder(parseBuilder(raw, 'x'))).toBe(raw)
  })

  it('a refusal lists the forms one by one and shows at most 80 characters of the value', () => {
    let error: unknown
    try {
      parseBuilder(`k${'8'.repeat(100)}`, 'flag --builder')
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({
      message: `Builder "k${'8'.repeat(79)}" (from flag --builder) is not a builder.`,
      hint: expect.stringMatching(/^Use one of: local, docker-host:<url>, .*, codebuild\.$/),
    })
  })
})
