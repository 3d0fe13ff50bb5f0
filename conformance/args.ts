// Command-line parsing for `imwire conformance` with node:util parseArgs;
// its tokens keep the order that binds `--out` to the `--reporter` before it.
import { parseArgs as parseArgsUtil } from 'node:util'
import { UsageError } from '../src/cli/usage-error.js'
import type { TransportKind } from './drivers/transport.js'
import { MAX_NODES } from './engine/open-target.js'

export const REPORTERS = ['console', 'tap', 'junit', 'json', 'html'] as const
export type ReporterName = (typeof REPORTERS)[number]

export interface ReporterSpec {
  name: ReporterName
  /** File to write; undefined = stdout. */
  out?: string
}

export interface CliArgs {
  command: 'run' | 'list' | 'explain' | 'coverage' | 'help' | 'version'
  /** `imwire conformance client ...`: judge a client instead of a server. */
  clientSuite: boolean
  /** --client CMD: the client's adapter; undefined = the bundled reference client's. */
  client?: string
  explainId?: string
  targets: string[]
  spawn?: string
  /** --nodes N with --spawn: a cluster of N nodes of the command. */
  nodes?: number
  /** --cluster N: the bundled cluster (PostgreSQL, Redis, N reference nodes). */
  cluster?: number
  tokenSecret?: string
  transports: TransportKind[]
  jobs?: number
  cases: string[]
  requirements: string[]
  level?: 'MUST' | 'SHOULD'
  timeScale?: number
  knownFailures?: string
  strict: boolean
  maxFailures?: number
  reporters: ReporterSpec[]
  summaryOnly: boolean
  allTranscripts: boolean
  quiet: boolean
  verbose: boolean
  color?: boolean
  json: boolean
  vectorsDir?: string
  specPath?: string
  serverLog?: string
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  target: { type: 'string', multiple: true },
  spawn: { type: 'string' },
  nodes: { type: 'string' },
  cluster: { type: 'string' },
  client: { type: 'string' },
  'token-secret': { type: 'string' },
  transport: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  case: { type: 'string', multiple: true },
  requirement: { type: 'string', multiple: true },
  level: { type: 'string' },
  'time-scale': { type: 'string' },
  'known-failures': { type: 'string' },
  strict: { type: 'boolean' },
  'max-failures': { type: 'string' },
  reporter: { type: 'string', multiple: true },
  out: { type: 'string', multiple: true },
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  'summary-only': { type: 'boolean' },
  'all-transcripts': { type: 'boolean' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  json: { type: 'boolean' },
  vectors: { type: 'string' },
  spec: { type: 'string' },
  'server-log': { type: 'string' },
} as const

export function parseArgs(argv: string[]): CliArgs {
  let parsed: ReturnType<typeof parseArgsOf>
  try {
    parsed = parseArgsOf(argv)
  } catch (err) {
    // node:util reports unknown options and missing values with its own error codes.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''))
  }
  const { values: v, positionals, tokens } = parsed
  const clientSuite = positionals[0] === 'client'
  if (clientSuite) positionals.shift()
  if (v.client !== undefined && !clientSuite)
    throw new UsageError('--client belongs to `imwire conformance client` (the client suite)')
  const a: CliArgs = {
    command: v.help ? 'help' : v.version ? 'version' : 'run',
    clientSuite,
    ...(v.client !== undefined ? { client: v.client } : {}),
    targets: v.target ?? [],
    transports: (v.transport ?? []).map((t) => {
      if (t !== 'tcp' && t !== 'ws') throw new UsageError(`--transport ${t}: expected tcp or ws`)
      return t
    }),
    cases: v.case ?? [],
    requirements: v.requirement ?? [],
    strict: v.strict === true,
    reporters: reportersOf(tokens),
    quiet: v.quiet === true,
    verbose: v.verbose === true,
    summaryOnly: v['summary-only'] === true,
    allTranscripts: v['all-transcripts'] === true,
    json: v.json === true,
    ...(v.spawn !== undefined ? { spawn: v.spawn } : {}),
    ...(v.nodes !== undefined ? { nodes: positiveInt('--nodes', v.nodes, MAX_NODES) } : {}),
    ...(v.cluster !== undefined ? { cluster: positiveInt('--cluster', v.cluster, MAX_NODES) } : {}),
    ...(v['token-secret'] !== undefined ? { tokenSecret: v['token-secret'] } : {}),
    ...(v.jobs !== undefined ? { jobs: positiveInt('--jobs', v.jobs) } : {}),
    ...(v['max-failures'] !== undefined
      ? { maxFailures: positiveInt('--max-failures', v['max-failures'], 100_000) }
      : {}),
    ...(v['known-failures'] !== undefined ? { knownFailures: v['known-failures'] } : {}),
    ...(v.vectors !== undefined ? { vectorsDir: v.vectors } : {}),
    ...(v.spec !== undefined ? { specPath: v.spec } : {}),
    ...(v['server-log'] !== undefined ? { serverLog: v['server-log'] } : {}),
  }
  if (v['no-color']) a.color = false
  else if (v.color) a.color = true
  if (v.level !== undefined) {
    const l = v.level.toUpperCase()
    if (l !== 'MUST' && l !== 'SHOULD') throw new UsageError(`--level ${l}: expected MUST or SHOULD`)
    a.level = l
  }
  if (v['time-scale'] !== undefined) {
    const f = Number(v['time-scale'])
    if (!(f > 0 && f <= 100)) throw new UsageError('--time-scale: expected a number in (0, 100]')
    a.timeScale = f
  }
  if (clientSuite) {
    const server = ['target', 'spawn', 'nodes', 'cluster', 'token-secret', 'server-log', 'jobs'] as const
    for (const o of server)
      if (v[o] !== undefined) throw new UsageError(`--${o} is for servers; a client run takes --client "CMD"`)
    if (v.client !== undefined && !v.client.includes('{statedir}'))
      throw new UsageError(
        '--client "CMD": the command must contain {statedir}, the state directory the client keeps across restarts',
      )
  }
  if (a.nodes !== undefined && a.spawn === undefined)
    throw new UsageError(
      '--nodes goes with --spawn (several --target addresses form a cluster by themselves; --cluster N for the bundled one)',
    )
  if (a.cluster !== undefined && (a.spawn !== undefined || a.targets.length > 0))
    throw new UsageError('--cluster starts the bundled cluster: use it without --target and --spawn')
  if (a.command === 'run' && positionals.length > 0) {
    const [cmd, ...rest] = positionals
    if (cmd === 'run' || cmd === 'list' || cmd === 'coverage') a.command = cmd
    else if (cmd === 'explain') {
      a.command = 'explain'
      if (rest.length !== 1) throw new UsageError('usage: imwire conformance explain [tcp:|ws:]CASE-ID')
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

function parseArgsOf(argv: string[]) {
  return parseArgsUtil({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true })
}

/** `--out FILE` binds to the `--reporter` just before it: token order, which parseArgs keeps in `tokens`. */
function reportersOf(tokens: ReturnType<typeof parseArgsOf>['tokens']): ReporterSpec[] {
  const out: ReporterSpec[] = []
  for (const t of tokens) {
    if (t.kind !== 'option' || t.value === undefined) continue
    if (t.name === 'reporter') {
      const v = t.value
      const [name, file] = v.includes('=') ? [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)] : [v, undefined]
      if (!(REPORTERS as readonly string[]).includes(name))
        throw new UsageError(`--reporter ${name}: expected one of ${REPORTERS.join(', ')}`)
      out.push({ name: name as ReporterName, ...(file ? { out: file } : {}) })
    } else if (t.name === 'out') {
      const last = out[out.length - 1]
      if (!last) throw new UsageError('--out must follow a --reporter')
      if (last.out !== undefined)
        throw new UsageError(`--out ${t.value}: reporter ${last.name} already writes to ${last.out}`)
      last.out = t.value
    }
  }
  return out
}

function positiveInt(flag: string, v: string, max = 256): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag} ${v}: expected an integer from 1 to ${max}`)
  return n
}

export const USAGE = `usage: imwire conformance [run] [options]      run the suite
       imwire conformance list [selection]        list case ids, levels, requirements, features
       imwire conformance explain [tcp:|ws:]ID    a scenario, its requirements and their spec text
       imwire conformance --version               the kit's version
       imwire conformance coverage [--json]       requirement ids with the vectors covering them
       imwire conformance client [run|list|explain ID] [--client "CMD"] [options]
                                                  judge a client: the kit plays the server

client (imwire conformance client; docs: conformance/client-driver.md):
  --client "CMD"        start the client's adapter with CMD (run by the shell); it speaks the
                        driver protocol on stdin/stdout. Placeholder: {statedir} (required; the
                        same directory when a case restarts the client). Default: the bundled
                        reference client's adapter. Selection, --time-scale, --known-failures,
                        --strict and every reporter work as for servers.

target (default: start the bundled reference server, needs \`npm run build\`):
  --target URL          tcp://HOST:PORT or ws://HOST:PORT/PATH; repeat for both transports. Several
                        addresses of a transport are one cluster, node i = the i-th of each transport:
                        every case spreads its connections over the nodes, round robin
  --spawn "CMD"         start the server with CMD (run by the shell); it must print one line
                        {"event":"listening","tcp":"HOST:PORT","ws":"ws://HOST:PORT/PATH"} on stdout.
                        Placeholders: {datadir} (kept across restarts) {secret} {port}/{tcp_port} {ws_port}
                        {node}. Enables the restart cases.
  --nodes N             with --spawn: start N nodes of CMD ({node} = 1..N, each its own {datadir} and
                        ports) and judge them as one cluster; a restart stops every node, then starts
                        every node
  --cluster N           the bundled cluster: a throw-away PostgreSQL and Redis and N reference nodes
                        (serve --postgres URL --redis URL --node-id {node}), all stopped at the end;
                        --cluster 1 is one node on PostgreSQL and Redis
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
  --time-scale F        stretch the harness's own waits and budgets by F (slow machines, debuggers);
                        protocol time bounds ([HS-8], [HB-2]) are checked as written, ± 50 ms
  --max-failures N      stop starting cases after N failures (the rest are reported as skipped)
  --known-failures FILE expected failures: [tcp:|ws:]ID-GLOB per line, # comments; a listed case
                        that passes, or a line matching no case, fails the run
  --strict              SHOULD failures fail the run too (by default they are reported apart)

reports (console always, on stderr when another reporter uses stdout; --quiet turns it off):
  --reporter NAME[=FILE]  console | tap | junit | json | html; repeatable; no FILE = stdout
  --out FILE              file for the --reporter just before
  --verbose             print passing cases and every failure with its transcript; --no-color
  --summary-only        console: causes and the summary, no failure details
  --all-transcripts     JSON/HTML keep the transcript of every case (default: failing and
                        inconclusive cases only)

exit codes: 0 conformant, 1 conformance failures, 2 usage or harness error, 3 target unreachable
(inconclusive cases, whose timing the runner's own lag kept it from judging, change no exit code)
`
