// Command-line parsing for `imwire conformance`. Hand-written because
// `--out` binds to the `--reporter` before it, which needs token order.
import type { TransportKind } from './drivers/transport.js'
import { UsageError } from './engine/target.js'

export const REPORTERS = ['console', 'tap', 'junit', 'json', 'html'] as const
export type ReporterName = (typeof REPORTERS)[number]

export interface ReporterSpec {
  name: ReporterName
  /** File to write; undefined = stdout. */
  out?: string
}

export interface CliArgs {
  command: 'run' | 'list' | 'explain' | 'coverage' | 'help'
  explainId?: string
  targets: string[]
  spawn?: string
  tokenSecret?: string
  transports: TransportKind[]
  jobs?: number
  cases: string[]
  requirements: string[]
  level?: 'MUST' | 'SHOULD'
  timeScale?: number
  knownFailures?: string
  strict: boolean
  reporters: ReporterSpec[]
  quiet: boolean
  verbose: boolean
  color?: boolean
  json: boolean
  vectorsDir?: string
  specPath?: string
  serverLog?: string
}

const VALUE_FLAGS = new Set([
  '--target',
  '--spawn',
  '--token-secret',
  '--transport',
  '--jobs',
  '--case',
  '--requirement',
  '--level',
  '--time-scale',
  '--known-failures',
  '--reporter',
  '--out',
  '--vectors',
  '--spec',
  '--server-log',
])

export function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = {
    command: 'run',
    targets: [],
    transports: [],
    cases: [],
    requirements: [],
    strict: false,
    reporters: [],
    quiet: false,
    verbose: false,
    json: false,
  }
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i] as string
    let value: string | undefined
    const eq = arg.indexOf('=')
    if (arg.startsWith('--') && eq > 0 && VALUE_FLAGS.has(arg.slice(0, eq))) {
      value = arg.slice(eq + 1)
      arg = arg.slice(0, eq)
    }
    const take = (): string => {
      if (value !== undefined) return value
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${arg} needs a value`)
      return v
    }
    switch (arg) {
      case '-h':
      case '--help':
        a.command = 'help'
        break
      case '--target':
        a.targets.push(take())
        break
      case '--spawn':
        a.spawn = take()
        break
      case '--token-secret':
        a.tokenSecret = take()
        break
      case '--transport': {
        const t = take()
        if (t !== 'tcp' && t !== 'ws') throw new UsageError(`--transport ${t}: expected tcp or ws`)
        a.transports.push(t)
        break
      }
      case '--jobs':
        a.jobs = positiveInt(arg, take())
        break
      case '--case':
        a.cases.push(take())
        break
      case '--requirement':
        a.requirements.push(take())
        break
      case '--level': {
        const l = take().toUpperCase()
        if (l !== 'MUST' && l !== 'SHOULD') throw new UsageError(`--level ${l}: expected MUST or SHOULD`)
        a.level = l
        break
      }
      case '--time-scale': {
        const f = Number(take())
        if (!(f > 0 && f <= 100)) throw new UsageError('--time-scale: expected a number in (0, 100]')
        a.timeScale = f
        break
      }
      case '--known-failures':
        a.knownFailures = take()
        break
      case '--strict':
        a.strict = true
        break
      case '--reporter': {
        const v = take()
        const [name, out] = v.includes('=') ? [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)] : [v, undefined]
        if (!(REPORTERS as readonly string[]).includes(name))
          throw new UsageError(`--reporter ${name}: expected one of ${REPORTERS.join(', ')}`)
        a.reporters.push({ name: name as ReporterName, ...(out ? { out } : {}) })
        break
      }
      case '--out': {
        const last = a.reporters[a.reporters.length - 1]
        const out = take()
        if (!last) throw new UsageError('--out must follow a --reporter')
        if (last.out !== undefined)
          throw new UsageError(`--out ${out}: reporter ${last.name} already writes to ${last.out}`)
        last.out = out
        break
      }
      case '--quiet':
        a.quiet = true
        break
      case '--verbose':
      case '-v':
        a.verbose = true
        break
      case '--no-color':
        a.color = false
        break
      case '--color':
        a.color = true
        break
      case '--json':
        a.json = true
        break
      case '--vectors':
        a.vectorsDir = take()
        break
      case '--spec':
        a.specPath = take()
        break
      case '--server-log':
        a.serverLog = take()
        break
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`)
        positional.push(arg)
    }
  }
  if (a.command !== 'help' && positional.length > 0) {
    const [cmd, ...rest] = positional
    if (cmd === 'run' || cmd === 'list' || cmd === 'coverage') a.command = cmd
    else if (cmd === 'explain') {
      a.command = 'explain'
      if (rest.length !== 1) throw new UsageError('usage: imwire conformance explain CASE-ID')
      a.explainId = rest[0] as string
      rest.length = 0
    } else throw new UsageError(`unknown subcommand '${cmd}'`)
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`)
  }
  const stdoutReporters = a.reporters.filter((r) => r.out === undefined && r.name !== 'console')
  if (stdoutReporters.length > 1)
    throw new UsageError(
      `only one reporter can write to stdout (${stdoutReporters.map((r) => r.name).join(', ')}): give the others a file (--reporter NAME=FILE)`,
    )
  return a
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`${flag} ${v}: expected an integer from 1 to 256`)
  return n
}

export const USAGE = `usage: imwire conformance [run] [options]      run the suite
       imwire conformance list [selection]        list case ids, levels, requirements, features
       imwire conformance explain CASE-ID         a scenario, its requirements and their spec text
       imwire conformance coverage [--json]       requirement ids with the vectors covering them

target (default: start the bundled reference server, needs \`npm run build\`):
  --target URL          tcp://HOST:PORT or ws://HOST:PORT/PATH; repeat for both transports
  --spawn "CMD"         start the server with CMD (run by the shell); it must print one line
                        {"event":"listening","tcp":"HOST:PORT","ws":"ws://HOST:PORT/PATH"} on stdout.
                        Placeholders: {datadir} (kept across restarts) {secret} {port}/{tcp_port} {ws_port}.
                        Enables the restart cases.
  --token-secret S      secret of the server's test-token scheme [AUTH-1] (or IMWIRE_TOKEN_SECRET);
                        required with --target; random for --spawn / the bundled server
  --transport tcp|ws    only this transport (repeatable; default: every address the target has)
  --server-log FILE     append the spawned server's output to FILE

selection:
  --case GLOB           case id glob, * and ? (repeatable)
  --requirement ID      cases citing this requirement (repeatable)
  --level MUST|SHOULD   only cases of this level

run:
  --jobs N              cases in parallel (default 8)
  --time-scale F        multiply every timeout and window by F (slow machines, debuggers)
  --known-failures FILE expected failures: [tcp:|ws:]ID-GLOB per line, # comments; a listed case
                        that passes, or a line matching no case, fails the run
  --strict              SHOULD failures fail the run too (by default they are reported apart)

reports (console always, on stderr when another reporter uses stdout; --quiet turns it off):
  --reporter NAME[=FILE]  console | tap | junit | json | html; repeatable; no FILE = stdout
  --out FILE              file for the --reporter just before
  --verbose             print passing cases too; --no-color

exit codes: 0 conformant, 1 conformance failures, 2 usage or harness error, 3 target unreachable
`
