import {readFileSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {MLDEPLOY_PACKAGE_PATH, mldeployPackageRoot} from '../../codebuild/package.js'
import {deterministicZip} from '../../codebuild/zip.js'
import {ChildError} from '../../errors.js'
import type {CodeBuildState} from '../../pipeline/codebuild-state.js'
import {note, type PlannedCommand, type Step} from '../../pipeline/step.js'
import {runChild} from '../../process.js'

const PACK_TIMEOUT_MS = 5 * 60_000

function packCommand(state: CodeBuildState): PlannedCommand {
  const folder = state.workDir ?? '<private folder>'
  return {
    command: 'npm',
    args: ['pack', '--ignore-scripts', '--pack-destination', folder],
    cwd: mldeployPackageRoot(),
    // npm on Node >= 22 leaves a compile cache in the temp folder: the private one goes at the end.
    env: {TMPDIR: folder},
  }
}

/** The target folder, the environment files and this very mldeploy, in one deterministic zip. */
export const packageStep: Step<CodeBuildState> = {
  id: 'package',
  title: 'Package the sources and mldeploy (deterministic zip)',
  failure: 'preflight',
  describe: (state) => ({
    actions: [
      note(`zip of ${state.listing.length} files: ${state.listing.join(', ')}`),
      ...(state.source.omitted.length === 0
        ? []
        : [
            note(
              `left out of the .env files (secrets): ${state.source.omitted.map((each) => `${each.file} ${each.key}`).join(', ')}`,
            ),
          ]),
    ],
    commands: [packCommand(state)],
  }),
  async run(state, io) {
    const command = packCommand(state)
    io.output(`$ npm ${command.args.join(' ')}`)
    const result = await runChild({
      ...command,
      baseEnv: state.config.childEnv,
      secrets: state.secrets,
      signal: io.signal,
      timeoutMs: PACK_TIMEOUT_MS,
    })
    if (result.exitCode !== 0)
      throw new ChildError(
        'exit',
        `npm pack of mldeploy failed (exit ${result.exitCode ?? result.signal ?? result.spawnErrorCode}).`,
        {
          hint: 'Check that npm is on PATH and the mldeploy installation is complete.',
          detail: result.tail.join('\n'),
        },
      )
    const tarball = readdirSync(state.workDir!).find((name) => name.endsWith('.tgz'))
    if (tarball === undefined) throw new ChildError('exit', 'npm pack wrote no .tgz file.')
    const packed = readFileSync(path.join(state.workDir!, tarball))
    state.zip = deterministicZip([...state.source.entries, {path: MLDEPLOY_PACKAGE_PATH, data: packed}])
    io.output(
      `${state.zip.listing.length} files, ${state.zip.bytes.length} bytes, sha256 ${state.zip.sha256}`,
    )
  },
}

/** The zip under its content-addressed key; the same content already there is not sent again. */
export const uploadStep: Step<CodeBuildState> = {
  id: 'upload',
  title: 'Upload the package to S3',
  failure: 'push',
  describe: (state) => ({
    actions: [
      {text: `S3 HeadObject s3://${state.bucketName}/${state.sourceKey}`, calls: ['aws:s3:HeadObject']},
      {
        text: `S3 PutObject s3://${state.bucketName}/${state.sourceKey}`,
        calls: ['aws:s3:PutObject'],
        when: 'the key is not there yet (same content, same key: no second upload)',
      },
    ],
    commands: [],
  }),
  async run(state, io) {
    const zip = state.zip!
    const bucket = state.bucket
    state.uploadSkipped = await bucket.has(state.sourceKey, io.signal)
    if (state.uploadSkipped) {
      io.output(`s3://${state.bucketName}/${state.sourceKey} is already there: not uploaded again`)
      return
    }
    await bucket.put(state.sourceKey, zip.bytes, zip.sha256, io.signal)
    io.output(`uploaded s3://${state.bucketName}/${state.sourceKey}`)
  },
}
