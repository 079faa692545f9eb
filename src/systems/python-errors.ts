import path from 'node:path'

import {ChildError} from '../errors.js'
import {LastLines, Needle, OutputBlock} from '../output-block.js'
import type {ChildResult} from '../process.js'
import {SHOWN_TAIL_LINES} from './child.js'

/**
 * The real cause of a failed Python child (create_bento_model.py, bentoml build). Python prints
 * the exception chain oldest first, so the last line is often a consequence (bentoml's
 * `UnboundLocalError: ... 'local_path'`) while the cause (`RESOURCE_DOES_NOT_EXIST: Registered
 * Model with name=churn not found`) sits above it. Fixtures: test/fixtures/python/.
 */
export interface RootCause {
  message: string
  /** Where it happened: the innermost frame in the user's own files, else the innermost frame. */
  file?: string
  line?: number
  hint?: string
}

interface Frame {
  file: string
  line: number
}

interface Traceback {
  start: number
  end: number
  frames: Frame[]
  /** `module.Type: message`, the first line after the frames. */
  exception: string | undefined
}

const TRACEBACK = /^\s*Traceback \(most recent call last\):\s*$/
const FRAME = /^\s*File "(.+)", line (\d+)(?:, in .*)?$/
const CHAIN =
  /^\s*(?:During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)\s*$/
/** Library and standard-library files: the user cannot act on a line there. */
const LIBRARY = /(?:[\\/](?:site|dist)-packages[\\/]|[\\/]lib[\\/]python\d[^\\/]*[\\/]|^<)/

interface KnownCause {
  test: RegExp
  /**
   * Text that every match of `test` contains (case-sensitive, or in any ASCII case when `anyCase`
   * is set, written in lower case): a block without any is skipped.
   */
  hints: string[]
  anyCase?: true
  explain(match: RegExpExecArray, lines: readonly string[]): Omit<RootCause, 'file' | 'line'>
}

const TRACKING_HINT = 'Turn on the VPN and check MLFLOW_TRACKING_URI (mldeploy doctor checks both).'

/** Causes recognised anywhere in the output, most specific first. */
const KNOWN: KnownCause[] = [
  {
    test: /RESOURCE_DOES_NOT_EXIST: (.+?)\s*$/,
    hints: ['RESOURCE_DOES_NOT_EXIST'],
    explain: (match) => ({
      message: `MLflow: RESOURCE_DOES_NOT_EXIST: ${match[1]}`,
      hint: 'The tracking server in MLFLOW_TRACKING_URI has no such model or run: check the model URI in create_bento_model.py (models:/<name>/<version>, runs:/<run-id>/model) and MLFLOW_TRACKING_URI.',
    }),
  },
  {
    test: /((?:Registered Model with name|Run with id)=\S+ not found)/i,
    // Not just '=': a log full of key=value pairs would be looked at line by line.
    hints: ['registered model with name=', 'run with id='],
    anyCase: true,
    explain: (match) => ({
      message: `MLflow: ${match[1]}`,
      hint: 'Check the model URI in create_bento_model.py and that MLFLOW_TRACKING_URI names the right server.',
    }),
  },
  {
    test: /\[Errno 111\] Connection refused|ConnectionRefusedError|Connection refused/,
    hints: ['Connection'],
    explain: (_match, lines) => ({
      message: `Cannot reach ${serverOf(lines) ?? 'the MLflow tracking server'}: connection refused.`,
      hint: TRACKING_HINT,
    }),
  },
  {
    test: /NameResolutionError|Temporary failure in name resolution|Name or service not known|nodename nor servname/,
    hints: [
      'NameResolutionError',
      'Temporary failure in name resolution',
      'Name or service not known',
      'nodename nor servname',
    ],
    explain: (_match, lines) => ({
      message: `Cannot resolve the host of ${serverOf(lines) ?? 'the MLflow tracking server'}.`,
      hint: TRACKING_HINT,
    }),
  },
  {
    test: /No module named '([^']+)'/,
    hints: ["No module named '"],
    explain: (match) => {
      const module = match[1]!
      const top = module.split('.')[0]!
      return {
        message: `No module named '${module}'.`,
        hint: `Install ${top} in the project environment (e.g. pipenv install ${top}) or point --python at the one that has it; a module of the target's own folder must sit next to service.py.`,
      }
    },
  },
]

/** A block holding none of these has no traceback line and no known cause. */
const BLOCK_HINTS = [
  new Needle('Traceback'),
  ...KNOWN.flatMap((known) => known.hints.map((hint) => new Needle(hint, known.anyCase))),
]

/** Whether a line of the block may be a traceback's first line or name a known cause. */
export function mayMatter(block: OutputBlock): boolean {
  return BLOCK_HINTS.some((hint) => block.has(hint))
}

/** The known causes' tests, for the unit test that checks each hint against its pattern. */
export const KNOWN_TESTS = KNOWN.map((known) => ({
  test: known.test,
  hints: known.hints,
  anyCase: known.anyCase === true,
}))

/** The server an HTTP client failed to reach, as MLflow and urllib3 name it. */
function serverOf(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const url = /API request to (https?:\/\/[^/\s]+)/.exec(line)?.[1]
    if (url !== undefined) return `the MLflow tracking server at ${url}`
  }
  for (const line of lines) {
    const pool = /HTTP(S?)ConnectionPool\(host='([^']+)', port=(\d+)\)/.exec(line)
    if (pool !== null) return `${pool[1] === 'S' ? 'https' : 'http'}://${pool[2]}:${pool[3]}`
  }
  return undefined
}

function parseTracebacks(lines: readonly string[]): Traceback[] {
  const found: Traceback[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!TRACEBACK.test(lines[i]!)) continue
    const indent = lines[i]!.search(/\S/)
    const frames: Frame[] = []
    let j = i + 1
    let exception: string | undefined
    for (; j < lines.length; j++) {
      const text = lines[j]!
      const frame = FRAME.exec(text)
      if (frame !== null) {
        frames.push({file: frame[1]!, line: Number(frame[2])})
        continue
      }
      if (text.trim() === '' || text.search(/\S/) > indent) continue
      exception = text.trim()
      break
    }
    found.push({start: i, end: Math.min(j, lines.length - 1), frames, exception})
    i = j
  }
  return found
}

/** The chain that ended the process: the last traceback and those joined to it by a chain line. */
function finalChain(tracebacks: Traceback[], lines: readonly string[]): Traceback[] {
  const chain: Traceback[] = []
  for (let k = tracebacks.length - 1; k >= 0; k--) {
    const current = tracebacks[k]!
    chain.unshift(current)
    const previous = tracebacks[k - 1]
    if (previous === undefined) break
    // The exception's message may continue over a few lines before the chain line.
    if (!lines.slice(previous.end + 1, current.start).some((line) => CHAIN.test(line))) break
  }
  return chain
}

function userFrame(frames: Frame[]): Frame | undefined {
  return [...frames].reverse().find((frame) => !LIBRARY.test(frame.file))
}

function shown(file: string, cwd: string | undefined): string {
  if (cwd === undefined || !path.isAbsolute(file)) return file
  const relative = path.relative(cwd, file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

/**
 * The root cause in a Python child's output: a well-known cause anywhere (MLflow's missing model
 * or run, a tracking server that refuses connections, a missing module), else the first exception
 * of the chain that ended the process, with the file and line of the user's code where there is
 * one. Undefined when the output holds neither.
 */
export function rootCause(lines: readonly string[], options: {cwd?: string} = {}): RootCause | undefined {
  const chain = finalChain(parseTracebacks(lines), lines)
  // The first traceback of the chain with a frame in the user's files says where, else the innermost frame.
  let where: Frame | undefined
  for (const traceback of chain) {
    where = userFrame(traceback.frames)
    if (where !== undefined) break
  }
  where ??= chain[0]?.frames.at(-1)
  const location = where === undefined ? {} : {file: shown(where.file, options.cwd), line: where.line}
  for (const known of KNOWN) {
    for (const line of lines) {
      const match = known.test.exec(line)
      if (match !== null) return {...known.explain(match, lines), ...location}
    }
  }
  const first = chain[0]?.exception
  if (first === undefined) return undefined
  return {message: first.length > 300 ? `${first.slice(0, 297)}...` : first, ...location}
}

/** `SyntaxError: invalid syntax (service.py, line 56)`. */
export function formatRootCause(cause: RootCause): string {
  if (cause.file === undefined) return cause.message
  const where = cause.line === undefined ? cause.file : `${cause.file}, line ${cause.line}`
  return `${cause.message.replace(/\.$/, '')} (${where})`
}

/** Caps on what the scanner holds: a chain longer than this is cut at its end, not its start. */
const MAX_CHAIN_LINES = 3000
const MAX_KNOWN_LINES = 50
const AFTER_LINES = 40

/**
 * Keeps, from output streaming by, what `rootCause` needs and the child runner's short tail would
 * lose: the lines of the last exception chain from its first `Traceback`, the lines that name a
 * known cause, and the last lines after the chain. Memory stays bounded whatever the log's size.
 */
export class PythonOutputScanner {
  private chain: string[] = []
  private known: string[] = []
  private after = new LastLines(AFTER_LINES)
  private capturing = false
  private lastNonBlank = ''

  readonly push = (line: string): void => {
    if (KNOWN.some((known) => known.test.test(line)) && this.known.length < MAX_KNOWN_LINES)
      this.known.push(line)
    if (TRACEBACK.test(line)) {
      // A new traceback joins the chain only after a chain line; otherwise a new chain starts.
      if (!(this.capturing && CHAIN.test(this.lastNonBlank))) this.chain = []
      this.capturing = true
      this.after.clear()
    }
    if (this.capturing && this.chain.length < MAX_CHAIN_LINES) this.chain.push(line)
    else {
      this.after.push(OutputBlock.ofText(line))
    }
    if (line.trim() !== '') this.lastNonBlank = line
  }

  /**
   * A block of whole lines at once (a child's chunk). A block in which no line can be a traceback
   * or a known cause (none of their hints is in it), outside a chain, only moves the last lines
   * along: a 500 MB build log is not decoded nor tested line by line, and a plain substring
   * search of its bytes is far cheaper than the patterns.
   */
  readonly pushBlock = (block: OutputBlock): void => {
    if (this.capturing || mayMatter(block)) {
      for (const line of block.lines()) this.push(line)
      return
    }
    // No lastNonBlank here: it is only read while capturing, and this path runs only before that.
    this.after.push(block)
  }

  /** What was kept, in output order: known-cause lines, the chain, then the last lines. */
  lines(): string[] {
    const inChain = new Set(this.chain)
    return [...this.known.filter((line) => !inChain.has(line)), ...this.chain, ...this.after.lines()]
  }
}

/**
 * For runPlanned's `explain`: a failed Python child as a ChildError whose line names the root
 * cause (the step's exit class is unchanged), or undefined to keep the default message.
 */
export function explainPythonFailure(
  scanned: readonly string[],
  result: ChildResult,
  context: {doing: string; cwd?: string},
): ChildError | undefined {
  const cause = rootCause(scanned, context.cwd === undefined ? {} : {cwd: context.cwd})
  if (cause === undefined) return undefined
  const why = result.signal === undefined ? `exit code ${result.exitCode}` : `signal ${result.signal}`
  return new ChildError(
    result.signal === undefined ? 'exit' : 'signal',
    `${context.doing} failed (${why}): ${formatRootCause(cause)}`,
    {
      ...(cause.hint === undefined ? {} : {hint: cause.hint}),
      detail: result.tail.slice(-SHOWN_TAIL_LINES).join('\n'),
      ...(result.exitCode === undefined ? {} : {exitCode: result.exitCode}),
      ...(result.signal === undefined ? {} : {signal: result.signal}),
    },
  )
}
