// The whole run, in phases: 1. load and select scenarios, 2. find or start
// the server, 3. probe each transport, 4. run every (scenario, transport) case
// in parallel (restart cases apart), 5. apply the known-failures list,
// 6. build the report. Each phase lives in its own module.
import { randomBytes } from 'node:crypto'
import { UsageError } from '../../src/cli/usage-error.js'
import type { TransportKind } from '../drivers/transport.js'
import type { Scenario } from '../load/scenario-types.js'
import { loadSpecIndex } from '../load/spec-index.js'
import { loadScenarios } from '../load/vector-loader.js'
import { failingRequirements, failureGroups, slowServer } from '../report/failure-groups.js'
import { type Problem, REPORT_VERSION, type Report } from '../report/report-types.js'
import { planJobs, runJobs } from './case-jobs.js'
import type { CaseResult } from './case-types.js'
import { globMatch } from './glob.js'
import { applyKnownFailures, type KnownFailure, loadKnownFailures } from './known-failures.js'
import { openTarget } from './open-target.js'
import { kitPaths, kitVersion } from './paths.js'
import { probeTransports } from './probe.js'
import { newRunId } from './scope.js'
import { outcomeOf, requirementRows, staleCount, summarize } from './suite-report.js'
import type { Target } from './target.js'

export interface SuiteOptions {
  /** tcp://HOST:PORT and/or ws://HOST:PORT/PATH. */
  targets?: string[]
  /** Server command printing `{"event":"listening",...}`; placeholders {datadir} {secret} {port} {tcp_port} {ws_port} {node}. */
  spawn?: string
  /** With `spawn`: start N nodes of the command and judge them as one cluster (--nodes). */
  nodes?: number
  /** With neither targets nor spawn: the bundled cluster of N reference nodes on a throw-away PostgreSQL and Redis (--cluster). */
  cluster?: number
  /** The bundled cluster's node command (argv, placeholders {postgres} {redis} {node} {secret} {datadir}); tests inject their own. */
  clusterCommand?: string[]
  /** With neither targets nor spawn: the bundled reference server (needs `npm run build`). */
  tokenSecret?: string
  /** Restrict to these transports. */
  transports?: TransportKind[]
  jobs?: number
  /** Case id globs (any). */
  cases?: string[]
  requirements?: string[]
  level?: 'MUST' | 'SHOULD'
  timeScale?: number
  /** SHOULD failures fail the run too. */
  strict?: boolean
  /** Stop starting cases after this many failures (the rest are reported as skipped). */
  maxFailures?: number
  /** Keep the wire transcript of every case in the report, not only of failing and inconclusive ones. */
  allTranscripts?: boolean
  /**
   * Keep transcripts whole: no shortened strings, full hex, no entry limit,
   * so that they can be replayed exactly (the model test replays every
   * case's transcript through the model). Heavy; off by default.
   */
  wholeTranscripts?: boolean
  /** Path of a known-failures file, or parsed entries. */
  knownFailures?: string | KnownFailure[]
  vectorsDir?: string
  specPath?: string
  /** Preloaded scenarios (skips loading vectors; the broken-server self-test uses this). */
  scenarios?: Scenario[]
  /** Append the spawned server's stderr here. */
  serverLog?: string
  onCaseStart?: (id: string, transport: TransportKind) => void
  onCaseEnd?: (result: CaseResult, done: number, total: number) => void
  onStart?: (info: {
    total: number
    transports: TransportKind[]
    features: Report['features']
    target: Report['target']
  }) => void
}

export { UsageError }

const DEFAULT_JOBS = 8

/**
 * The test-token secret of a server the runner starts. Hex, never base64url: a secret starting
 * with '-' reads as an option in `--token-secret {secret}` (node:util parseArgs refuses it, and
 * the server exited at start in about one run of 64).
 */
export function newTokenSecret(): string {
  return randomBytes(18).toString('hex')
}

export async function runSuite(options: SuiteOptions = {}): Promise<Report> {
  const started = performance.now()
  const paths = kitPaths({
    ...(options.vectorsDir ? { vectorsDir: options.vectorsDir } : {}),
    ...(options.specPath ? { specPath: options.specPath } : {}),
  })
  const runId = newRunId()
  const timeScale = options.timeScale ?? 1
  const jobs = Math.max(1, options.jobs ?? DEFAULT_JOBS)
  const problems: Problem[] = []
  const base = {
    version: REPORT_VERSION,
    kit: { name: 'imwire', version: kitVersion(paths.root) },
    runId,
    startedAt: new Date().toISOString(),
    options: {
      jobs,
      timeScale,
      strict: options.strict === true,
      cases: options.cases ?? [],
      requirements: options.requirements ?? [],
      level: options.level ?? null,
      knownFailures: typeof options.knownFailures === 'string' ? options.knownFailures : null,
      maxFailures: options.maxFailures ?? null,
      transcripts: options.allTranscripts ? ('all' as const) : ('failing' as const),
    },
  }
  const early = (
    outcome: Report['outcome'],
    exitCode: Report['exitCode'],
    target: Report['target'] = { mode: 'address', addresses: {} },
  ): Report => ({
    ...base,
    target,
    transports: [],
    features: {},
    outcome,
    exitCode,
    summary: summarize([], 0, performance.now() - started),
    failureGroups: [],
    failingRequirements: [],
    problems,
    serverCrashes: [],
    requirements: [],
    cases: [],
  })

  // 1. vectors and spec
  const spec = loadSpecIndex(paths.specPath)
  let scenarios = options.scenarios
  if (!scenarios) {
    const loaded = loadScenarios({ dir: paths.vectorsDir, schemaPath: paths.schemaPath, spec })
    for (const e of loaded.errors)
      problems.push({ kind: 'load-error', message: `${e.file}${e.where ? ` ${e.where}` : ''}: ${e.message}` })
    if (loaded.errors.length > 0) return early('harness-error', 2)
    scenarios = loaded.scenarios
  }
  const known =
    typeof options.knownFailures === 'string' ? loadKnownFailures(options.knownFailures) : (options.knownFailures ?? [])
  const selected = scenarios.filter((s) => selectedBy(s, options))
  if (selected.length === 0)
    throw new UsageError('no scenario matches the selection (--case / --requirement / --level)')

  // 2. target
  const secret =
    options.tokenSecret ?? process.env.IMWIRE_TOKEN_SECRET ?? (options.targets?.length ? undefined : newTokenSecret())
  if (secret === undefined)
    throw new UsageError(
      "--target needs --token-secret (or IMWIRE_TOKEN_SECRET): the secret of the server's test-token scheme [AUTH-1]",
    )
  let target: Target
  try {
    target = await openTarget(options, paths.bundledCli, secret, timeScale, started)
  } catch (err) {
    if (err instanceof UsageError) throw err
    problems.push({ kind: 'unreachable', message: (err as Error).message })
    return early('unreachable', 3, { mode: options.spawn ? 'spawn' : 'bundled', addresses: {} })
  }
  try {
    // 3. probe each transport
    const available = (['tcp', 'ws'] as const).filter(
      (k) => target.addresses()[k] !== undefined && (!options.transports || options.transports.includes(k)),
    )
    if (available.length === 0) throw new UsageError('no target address for the selected transports')
    const features = await probeTransports(target, available, secret, runId, timeScale, problems)
    if (problems.some((p) => p.kind === 'unreachable'))
      return { ...early('unreachable', 3, target.info()), transports: available, features }
    if (problems.some((p) => p.kind === 'unauthorized'))
      return { ...early('harness-error', 2, target.info()), transports: available, features }

    // 4. cases
    const all = planJobs(selected, available, features, target)
    options.onStart?.({ total: all.length, transports: available, features, target: target.info() })
    const { results, restartTarget } = await runJobs(all, target, {
      runId,
      secret,
      timeScale,
      jobs,
      ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
      // A bundled cluster runs its restart cases on itself, after the others: a
      // second PostgreSQL, Redis and N nodes for a few cases cost more than they save.
      openRestartTarget:
        target.info().mode === 'bundled' && !target.info().nodes
          ? () => openTarget(options, paths.bundledCli, secret, timeScale, started)
          : null,
      ...(options.onCaseStart ? { onCaseStart: options.onCaseStart } : {}),
      ...(options.onCaseEnd ? { onCaseEnd: options.onCaseEnd } : {}),
      ...(options.wholeTranscripts ? { wholeTranscripts: true } : {}),
    })
    await target.stop()
    const crashes = [...target.crashes, ...(restartTarget?.crashes ?? [])]

    // 5. known failures, crashes and harness errors
    applyKnownFailures(results, known, scenarios, problems, options.knownFailures)
    for (const c of crashes)
      problems.push({
        kind: 'server-crash',
        message: `the server process${c.node !== undefined ? ` of node ${c.node}` : ''} ${c.detail} at ${c.at} ms and was started again [ERR-5]${c.stderrTail ? `\n${c.stderrTail}` : ''}`,
      })
    for (const r of results)
      if (r.verdict === 'error')
        problems.push({ kind: 'harness-error', message: `${r.transport} ${r.id}: ${r.reason ?? ''}` })

    // 6. report: passing cases drop their transcripts unless asked (a full run's would weigh 12 MB)
    const summary = summarize(results, staleCount(problems), performance.now() - started)
    const slow = slowServer(results)
    if (!options.allTranscripts)
      for (const r of results) if (r.verdict === 'pass' || r.verdict === 'skipped') r.transcript = []
    return {
      ...base,
      target: target.info(),
      transports: available,
      features,
      ...outcomeOf(summary, options.strict === true, crashes.length),
      summary,
      failureGroups: failureGroups(results),
      failingRequirements: failingRequirements(results),
      ...(slow ? { slowServer: slow } : {}),
      problems,
      serverCrashes: crashes,
      requirements: requirementRows(results, spec),
      cases: results,
    }
  } finally {
    await target.stop()
  }
}

function selectedBy(s: Scenario, o: SuiteOptions): boolean {
  if (o.cases?.length && !o.cases.some((g) => globMatch(g, s.id))) return false
  if (o.requirements?.length && !s.requirements.some((r) => o.requirements?.includes(r))) return false
  if (o.level && s.level !== o.level) return false
  return true
}
