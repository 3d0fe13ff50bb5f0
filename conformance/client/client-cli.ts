// `imwire conformance client`: run, list or explain the client scenarios
// (vectors/client) against a client's adapter, with the server runner's
// selection flags, known-failures file, reporters and exit codes.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { CliArgs } from '../args.js'
import type { CaseResult } from '../engine/case-types.js'
import { globMatch } from '../engine/glob.js'
import { loadKnownFailures } from '../engine/known-failures.js'
import { type KitPaths, kitVersion } from '../engine/paths.js'
import { UsageError } from '../engine/target.js'
import { loadSpecIndex } from '../load/spec-index.js'
import { ConsoleReporter } from '../report/console.js'
import type { Problem, Report } from '../report/report-types.js'
import { AdapterSession, commandLauncher, type Launcher } from './adapter-session.js'
import { runClientScenario, waitsOnSilence } from './client-runner.js'
import { applyClientKnownFailures, clientReport, toCaseResult } from './client-report.js'
import { type ClientScenario, loadClientScenarios } from './client-scenarios.js'

export interface ClientCliIo {
  stdout: { write(s: string): boolean; isTTY?: boolean }
  stderr: { write(s: string): boolean; isTTY?: boolean }
}

/** The bundled reference client's adapter, from the built CLI. */
export function referenceAdapterCommand(paths: KitPaths): string {
  return `'${process.execPath}' '${paths.bundledCli}' client-adapter --state {statedir}`
}

/** How long a starting adapter may take to say Started (ms, before --time-scale): a JVM or npx is slow. */
const ADAPTER_START_MS = 10_000

/** Starts the adapter once on a scratch directory: does it speak the driver protocol at all? */
async function probeAdapter(launcher: Launcher, timeScale: number): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'imwire-client-probe-'))
  const stderr: string[] = []
  const a = new AdapterSession(
    launcher(dir, (t) => stderr.push(t)),
    () => performance.now(),
    () => {},
  )
  try {
    await a.started(Math.round(ADAPTER_START_MS * timeScale))
    return null
  } catch (err) {
    const tail = stderr.join('').trim().split('\n').slice(-10).join('\n')
    return `${(err as Error).message}${tail ? `\nadapter stderr:\n${tail}` : ''}`
  } finally {
    await a.stop(Math.round(5000 * timeScale)).catch(() => a.kill())
    rmSync(dir, { recursive: true, force: true })
  }
}

export function loadClientSuite(paths: KitPaths): ClientScenario[] {
  const loaded = loadClientScenarios(
    join(paths.root, 'vectors', 'client'),
    join(paths.root, 'vectors', 'schema', 'client.schema.json'),
  )
  if (loaded.errors.length > 0)
    throw new UsageError(`client vectors: ${loaded.errors.map((e) => `${e.file}: ${e.message}`).join('; ')}`)
  return loaded.scenarios
}

export async function runClientCli(
  args: CliArgs,
  paths: KitPaths,
  io: ClientCliIo,
  emit: (report: Report) => void,
): Promise<number> {
  const scenarios = loadClientSuite(paths)
  const selected = scenarios.filter(
    (s) =>
      (!args.cases.length || args.cases.some((g) => globMatch(g, s.id))) &&
      (!args.requirements.length || s.requirements.some((r) => args.requirements.includes(r))) &&
      (!args.level || s.level === args.level),
  )
  if (args.command === 'coverage') throw new UsageError('coverage covers both suites: imwire conformance coverage')
  if (args.command === 'list') {
    io.stdout.write(
      args.json
        ? `${JSON.stringify(
            selected.map(({ id, title, level, requirements, features }) => ({
              id,
              title,
              level,
              requirements,
              features: features ?? [],
            })),
            null,
            2,
          )}\n`
        : selected.map((s) => `${s.id}  ${s.level}  [${s.requirements.join(' ')}]\n`).join(''),
    )
    return 0
  }
  if (args.command === 'explain') {
    const id = (args.explainId ?? '').replace(/^(tcp|ws):/, '')
    const s = scenarios.find((x) => x.id === id)
    if (!s) {
      const near = scenarios.filter((x) => x.id.includes(id)).map((x) => x.id)
      throw new UsageError(
        `no client case '${id}'${near.length ? `; did you mean: ${near.slice(0, 5).join(', ')}` : ''}`,
      )
    }
    if (args.json) io.stdout.write(`${JSON.stringify(s, null, 2)}\n`)
    else {
      const spec = loadSpecIndex(paths.specPath)
      const lines = [
        `${s.id} (${s.level})`,
        s.title,
        ...(s.description ? ['', s.description] : []),
        '',
        'requirements:',
      ]
      for (const r of s.requirements) lines.push(`  [${r}] ${spec.requirements.get(r)?.text ?? '(not in spec.md)'}`)
      lines.push('', 'steps:', ...s.steps.map((st, i) => `  steps[${i}] ${JSON.stringify(st)}`))
      io.stdout.write(`${lines.join('\n')}\n`)
    }
    return 0
  }
  if (selected.length === 0)
    throw new UsageError('no client scenario matches the selection (--case / --requirement / --level)')

  const timeScale = args.timeScale ?? 1
  const command = args.client ?? referenceAdapterCommand(paths)
  const known = args.knownFailures ? loadKnownFailures(args.knownFailures) : []
  const toStdout = args.reporters.some((r) => r.out === undefined && r.name !== 'console')
  const consoleReporter = args.quiet
    ? null
    : new ConsoleReporter(toStdout ? io.stderr : io.stdout, {
        verbose: args.verbose,
        summaryOnly: args.summaryOnly,
        ...(args.color !== undefined ? { color: args.color } : {}),
      })
  const startedAt = new Date()
  const t0 = performance.now()
  const problems: Problem[] = []
  const results: CaseResult[] = []
  const launcher = commandLauncher(command)
  const options: Report['options'] = {
    jobs: 1,
    timeScale,
    strict: args.strict,
    cases: args.cases,
    requirements: args.requirements,
    level: args.level ?? null,
    knownFailures: args.knownFailures ?? null,
    maxFailures: args.maxFailures ?? null,
    transcripts: args.allTranscripts ? 'all' : 'failing',
  }
  const target = { mode: 'client' as const, command, addresses: {} }
  // --transport picks what the kit's server listens on; TCP unless told.
  const transports: Array<'tcp' | 'ws'> = args.transports.length > 0 ? args.transports : ['tcp']
  const runs = transports.flatMap((transport) => selected.map((s) => ({ s, transport })))
  const unreachable = await probeAdapter(launcher, timeScale)
  if (unreachable !== null) problems.push({ kind: 'unreachable', message: `the client's adapter: ${unreachable}` })
  else {
    consoleReporter?.onStart({ total: runs.length, transports, features: {}, target })
    let failures = 0
    // Cases that only wait for the client's own silence deadlines run in a
    // second lane from the start (waitsOnSilence); the rest one at a time.
    const beside = new Map(
      (() => {
        let lane: Promise<unknown> = Promise.resolve()
        return runs
          .filter((x) => waitsOnSilence(x.s))
          .map(({ s, transport }) => {
            const r = lane.then(() => runClientScenario(s, { launcher, timeScale, transport }))
            lane = r
            return [`${transport}:${s.id}`, r] as const
          })
      })(),
    )
    for (const [i, { s, transport }] of runs.entries()) {
      if (args.maxFailures !== undefined && failures >= args.maxFailures) {
        results.push({
          ...toCaseResult(
            {
              id: s.id,
              title: s.title,
              level: s.level,
              requirements: s.requirements,
              transport,
              verdict: 'skip',
              message: `--max-failures ${args.maxFailures} reached`,
              durationMs: 0,
              transcript: [],
            },
            s,
          ),
        })
        continue
      }
      consoleReporter?.onCaseStart(s.id, transport)
      // Cases run one at a time: their timing checks want a quiet machine, not parallel cases.
      const r = toCaseResult(
        await (beside.get(`${transport}:${s.id}`) ?? runClientScenario(s, { launcher, timeScale, transport })),
        s,
      )
      if (r.verdict === 'fail') failures++
      results.push(r)
      consoleReporter?.onCaseEnd(r, i + 1, runs.length)
    }
  }
  if (problems.length === 0 && args.knownFailures)
    applyClientKnownFailures(results, known, scenarios, args.knownFailures, problems, transports)
  const report = clientReport({
    command,
    results,
    problems,
    spec: loadSpecIndex(paths.specPath),
    startedAt,
    durationMs: performance.now() - t0,
    options,
    transports,
    ...(unreachable !== null ? { unreachable: true } : {}),
  })
  report.kit.version = kitVersion(paths.root)
  if (consoleReporter) consoleReporter.onEnd(report)
  else for (const p of report.problems) io.stderr.write(`${p.kind}: ${p.message}\n`)
  emit(report)
  return report.exitCode
}
