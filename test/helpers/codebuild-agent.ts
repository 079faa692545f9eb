import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {GetObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {execa} from 'execa'
import {parse} from 'yaml'

import {tempDir} from './cli.js'
import type {BuildAgent} from './codebuild-stand-in.js'

/**
 * Plays the CodeBuild agent on this host for the agent test: the source zip mldeploy uploaded is
 * fetched from S3 (moto), unpacked into a fresh empty folder, and the buildspec's install and
 * build phases run with bash there, with a clean environment (a new HOME, no project checkout;
 * only `env` and what the install phase provides). A clean folder on the host, not a container:
 * no image can be pulled here to stand in for CodeBuild's.
 */
export function hostAgent(options: {motoUrl: string; env: Record<string, string>}): BuildAgent {
  return async ({id, sourceLocation, buildspec}, report) => {
    const slash = sourceLocation.indexOf('/')
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: options.motoUrl,
      forcePathStyle: true,
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    })
    const object = await s3.send(
      new GetObjectCommand({Bucket: sourceLocation.slice(0, slash), Key: sourceLocation.slice(slash + 1)}),
    )
    const zip = Buffer.from(await object.Body!.transformToByteArray())
    s3.destroy()
    report.phase('DOWNLOAD_SOURCE')
    const source = tempDir('codebuild-src')
    const zipFile = path.join(tempDir('codebuild-zip'), 'source.zip')
    writeFileSync(zipFile, zip)
    await execa('unzip', ['-q', zipFile, '-d', source])
    const spec = parse(buildspec) as {phases: Record<string, {commands: string[]}>}
    const env = {
      ...options.env,
      HOME: tempDir('codebuild-home'),
      TMPDIR: tempDir('codebuild-tmp'),
      CODEBUILD_SRC_DIR: source,
      CODEBUILD_BUILD_ID: id,
    }
    for (const phase of ['install', 'pre_build', 'build']) {
      const commands = spec.phases[phase]?.commands ?? []
      if (commands.length === 0) continue
      report.phase(phase.toUpperCase())
      for (const command of commands) {
        report.line(`[Container] Running command ${command.split('\n')[0]}`)
        const child = execa('bash', ['-c', command], {
          cwd: source,
          env,
          extendEnv: false,
          // A build has no terminal and no stdin.
          stdin: 'ignore',
          reject: false,
          all: true,
        })
        child.all?.on('data', (chunk: Buffer) => {
          for (const line of chunk.toString().split('\n')) if (line !== '') report.line(line)
        })
        const result = await child
        if (result.exitCode !== 0) {
          report.line(`[Container] Command did not exit successfully: exit status ${result.exitCode}`)
          return 'FAILED'
        }
      }
    }
    return 'SUCCEEDED'
  }
}
