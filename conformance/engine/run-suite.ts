// The whole run: load and select scenarios, find or start the server, probe
// it, run every (scenario, transport) case in parallel (restart cases one at
// a time at the end, alone), apply the known-failures list, build the report.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { otherTransport, type TransportKind } from '../drivers/transport.js'
import type { Scenario } from '../load/scenario-types.js'
import { loadSpecIndex, type SpecIndex } from '../load/spec-index.js'
import { loadScenarios } from '../load/vector-loader.js'
import { type Problem, type Report, REPORT_VERSION, type RequirementRow, type Summary } from '../report/report-types.js'
import { runCase } from './case-runner.js'
import type { CaseResult } from './case-types.js'
import { globMatch } from './glob.js'
import { type KnownFailure, knownFailureFor, loadKnownFailures, matchesAny } from './known-failures.js'
import { kitPaths, kitVersion } from './paths.js'
import { probe } from './probe.js'
import { longestFirst } from './schedule.js'
import { newRunId } from './scope.js'
import { FixedTarget, parseTarget, SpawnedTarget, type Target, UsageError } from './target.js'

export interface SuiteOptions {
  /** tcp://HOST:PORT and/or ws://HOST:PORT/PATH. */
  targets?: string[]
  /** Server command printing `{"event":"listening",...}`; placeholders {datadir} {secret} {port} {tcp_port} {ws_port}. */
  spawn?: string
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
const PROBE_TIMEOUT_MS = 5_000
const SPAWN_TIMEOUT_MS = 20_000

interface Job {
  scenario: Scenario
  transport: TransportKind
  index: number
  skip?: string
}

export async function runSuite(options: SuiteOptions = {}): Promise<Report> {
  const started = performance.now()
  const startedAt = new Date().toISOString()
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
    startedAt,
    options: {
      jobs,
      timeScale,
      strict: options.strict === true,
      cases: options.cases ?? [],
      requirements: options.requirements ?? [],
      level: options.level ?? null,
      knownFailures: typeof options.knownFailures === 'string' ? options.knownFailures : null,
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
    options.tokenSecret ??
    process.env.IMWIRE_TOKEN_SECRET ??
    (options.targets?.length ? undefined : randomBytes(18).toString('base64url'))
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
    const features: Report['features'] = {}
    for (const k of available) {
      const p = await probe(target, k, secret, runId, PROBE_TIMEOUT_MS * timeScale)
      features[k] = p.features
      if (p.status === 'unreachable')
        problems.push({ kind: 'unreachable', message: `${k}: ${p.detail ?? 'unreachable'}` })
      else if (p.status === 'unauthorized')
        problems.push({ kind: 'unauthorized', message: `${k}: ${p.detail ?? 'unauthorized'}` })
      else if (p.status === 'no-welcome')
        problems.push({
          kind: 'no-welcome',
          message: `${k}: probe handshake failed: ${p.detail ?? ''} (running the suite anyway)`,
        })
    }
    if (problems.some((p) => p.kind === 'unreachable'))
      return { ...early('unreachable', 3, target.info()), transports: available, features }
    if (problems.some((p) => p.kind === 'unauthorized'))
      return { ...early('harness-error', 2, target.info()), transports: available, features }

    // 4. cases
    const all: Job[] = []
    for (const s of selected) {
      for (const k of available) {
        if ((s.needs.includes('tcp-only') && k !== 'tcp') || (s.needs.includes('ws-only') && k !== 'ws')) continue
        const job: Job = { scenario: s, transport: k, index: all.length }
        const missing = s.features.filter((f) => !(features[k] ?? []).includes(f))
        if (missing.length > 0) job.skip = `the server's Welcome over ${k} does not enable ${missing.join(', ')}`
        else if (s.needs.includes('two-transports') && target.addresses()[otherTransport(k)] === undefined)
          job.skip = `needs the target's ${otherTransport(k)} address too (a connection on the other transport)`
        else if (s.needs.includes('restart') && !target.canRestart)
          job.skip = 'needs a server the runner can restart (use --spawn, or the bundled server)'
        all.push(job)
      }
    }
    options.onStart?.({ total: all.length, transports: available, features, target: target.info() })
    const results = new Array<CaseResult>(all.length)
    let finished = 0
    const runJob = async (job: Job, on: Target) => {
      options.onCaseStart?.(job.scenario.id, job.transport)
      const result = job.skip
        ? skipped(job)
        : await runCase({
            scenario: job.scenario,
            transport: job.transport,
            caseIndex: job.index,
            runId,
            secret,
            timeScale,
            open: (kind, ms, o) => on.open(kind, ms, o),
            server: on.canRestart ? on : null,
            crashMark: () => on.crashes.length,
            diedSince: (mark, ms) => on.diedSince(mark, ms),
          })
      results[job.index] = result
      finished++
      options.onCaseEnd?.(result, finished, all.length)
    }
    // Restart cases stop the server, so they never share it with other cases:
    // the bundled server gets a second instance of its own for them (it
    // listens on ephemeral ports); a --spawn command may use fixed ports, so
    // there they run one at a time after the others.
    const exclusive = all.filter((j) => !j.skip && j.scenario.needs.includes('restart'))
    const shared = longestFirst(all.filter((j) => !exclusive.includes(j)))
    const separate = exclusive.length > 0 && target.info().mode === 'bundled'
    const restartTarget = separate ? await openTarget(options, paths.bundledCli, secret, timeScale, started) : target
    try {
      const restartCases = async () => {
        for (const j of exclusive) await runJob(j, restartTarget)
      }
      if (separate) await Promise.all([pool(shared, jobs, (j) => runJob(j, target)), restartCases()])
      else {
        await pool(shared, jobs, (j) => runJob(j, target))
        await restartCases()
      }
    } finally {
      if (separate) await restartTarget.stop()
    }
    await target.stop()
    const crashes = separate ? [...target.crashes, ...restartTarget.crashes] : target.crashes

    // 5. known failures
    applyKnownFailures(results, known, scenarios, problems, options.knownFailures)
    for (const c of crashes)
      problems.push({
        kind: 'server-crash',
        message: `the server process ${c.detail} at ${c.at} ms and was started again [ERR-5]${c.stderrTail ? `\n${c.stderrTail}` : ''}`,
      })
    for (const r of results)
      if (r.verdict === 'error')
        problems.push({ kind: 'harness-error', message: `${r.transport} ${r.id}: ${r.reason ?? ''}` })

    const summary = summarize(
      results,
      problems.filter((p) => p.kind === 'stale-known-failure' || p.kind === 'unmatched-known-failure').length,
      performance.now() - started,
    )
    const failing =
      summary.mustFailed > 0 ||
      (options.strict === true && summary.shouldFailed > 0) ||
      summary.staleKnownFailures > 0 ||
      crashes.length > 0
    const outcome: Report['outcome'] = summary.errors > 0 ? 'harness-error' : failing ? 'failures' : 'conformant'
    return {
      ...base,
      target: target.info(),
      transports: available,
      features,
      outcome,
      exitCode: outcome === 'harness-error' ? 2 : outcome === 'failures' ? 1 : 0,
      summary,
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

async function openTarget(
  o: SuiteOptions,
  bundledCli: string,
  secret: string,
  timeScale: number,
  runStarted: number,
): Promise<Target> {
  if (o.targets?.length && o.spawn) throw new UsageError('use either --target or --spawn, not both')
  if (o.targets?.length) {
    const a = {}
    for (const t of o.targets) Object.assign(a, parseTarget(t))
    return new FixedTarget(a)
  }
  const common = {
    secret,
    startTimeoutMs: SPAWN_TIMEOUT_MS * timeScale,
    runStarted,
    ...(o.serverLog ? { logFile: o.serverLog } : {}),
  }
  if (o.spawn) return SpawnedTarget.start({ ...common, command: o.spawn, mode: 'spawn' })
  if (!existsSync(bundledCli))
    throw new UsageError(
      `the bundled reference server is not built (${bundledCli} is missing): run \`npm run build\`, or use --target / --spawn`,
    )
  const argv = [
    process.execPath,
    bundledCli,
    'serve',
    '--tcp',
    '127.0.0.1:0',
    '--ws',
    '127.0.0.1:0/imwire',
    '--data-dir',
    '{datadir}',
    '--token-secret',
    '{secret}',
  ]
  return SpawnedTarget.start({ ...common, command: argv, mode: 'bundled' })
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
}

function skipped(job: Job): CaseResult {
  const s = job.scenario
  return {
    id: s.id,
    title: s.title,
    transport: job.transport,
    verdict: 'skipped',
    level: s.level,
    requirements: s.requirements,
    features: s.features,
    durationMs: 0,
    reason: job.skip as string,
    transcript: [],
  }
}

function applyKnownFailures(
  results: CaseResult[],
  known: KnownFailure[],
  scenarios: Scenario[],
  problems: Problem[],
  source: SuiteOptions['knownFailures'],
): void {
  const file = typeof source === 'string' ? source : 'known failures'
  const stale = new Set<KnownFailure>()
  for (const r of results) {
    const k = knownFailureFor(known, r.id, r.transport)
    if (!k) continue
    if (r.verdict === 'fail') {
      r.verdict = 'expected-failure'
      r.reason = `listed in ${file}:${k.line} (${k.text})`
    } else if (r.verdict === 'pass') {
      stale.add(k)
      r.reason = `passes but is listed in ${file}:${k.line}`
    }
  }
  for (const k of stale) {
    const passing = results
      .filter((r) => r.verdict === 'pass' && knownFailureFor(known, r.id, r.transport) === k)
      .map((r) => `${r.transport}:${r.id}`)
    problems.push({
      kind: 'stale-known-failure',
      line: k.line,
      text: k.text,
      message: `${file}:${k.line}: '${k.text}' lists cases that now pass (${passing.join(', ')}): remove the line`,
    })
  }
  // "Matches no case of the suite": the whole suite, not this run's transports or selection, so
  // a `ws:` line is not stale in a `--transport tcp` run.
  const pairs = scenarios.flatMap((s) =>
    (['tcp', 'ws'] as const)
      .filter((t) => !(s.needs.includes('tcp-only') && t !== 'tcp') && !(s.needs.includes('ws-only') && t !== 'ws'))
      .map((t) => ({ id: s.id, transport: t })),
  )
  for (const k of known) {
    if (!matchesAny(k, pairs))
      problems.push({
        kind: 'unmatched-known-failure',
        line: k.line,
        text: k.text,
        message: `${file}:${k.line}: '${k.text}' matches no case of the suite: remove the line`,
      })
  }
}

function summarize(results: CaseResult[], stale: number, durationMs: number): Summary {
  const count = (v: CaseResult['verdict']) => results.filter((r) => r.verdict === v).length
  return {
    total: results.length,
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skipped'),
    expectedFailures: count('expected-failure'),
    errors: count('error'),
    mustFailed: results.filter((r) => r.verdict === 'fail' && r.level === 'MUST').length,
    shouldFailed: results.filter((r) => r.verdict === 'fail' && r.level === 'SHOULD').length,
    staleKnownFailures: stale,
    durationMs: Math.round(durationMs),
  }
}

function requirementRows(results: CaseResult[], spec: SpecIndex): RequirementRow[] {
  const rows = new Map<string, RequirementRow>()
  for (const r of results) {
    for (const id of r.requirements) {
      let row = rows.get(id)
      if (!row) {
        const req = spec.requirements.get(id)
        row = {
          id,
          level: req?.level ?? '',
          text: req?.text ?? '',
          cases: 0,
          passed: 0,
          failed: 0,
          skipped: 0,
          expectedFailures: 0,
          errors: 0,
        }
        rows.set(id, row)
      }
      row.cases++
      if (r.verdict === 'pass') row.passed++
      else if (r.verdict === 'fail') row.failed++
      else if (r.verdict === 'skipped') row.skipped++
      else if (r.verdict === 'expected-failure') row.expectedFailures++
      else row.errors++
    }
  }
  return [...rows.values()].sort((a, b) => compareIds(a.id, b.id))
}

export function compareIds(a: string, b: string): number {
  const [pa, na] = a.split('-')
  const [pb, nb] = b.split('-')
  return pa === pb ? Number(na) - Number(nb) : (pa ?? '').localeCompare(pb ?? '')
}
