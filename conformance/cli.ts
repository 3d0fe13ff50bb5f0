// `imwire conformance`: run the suite, list, explain, coverage.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseArgs, type ReporterSpec, USAGE } from './args.js'
import { computeCoverage, loadCodecVectorRefs, renderCoverage } from './commands/coverage.js'
import { renderExplain, renderList } from './commands/list-explain.js'
import { KnownFailuresError } from './engine/known-failures.js'
import { kitPaths, kitVersion } from './engine/paths.js'
import { runSuite } from './engine/run-suite.js'
import { stopSpawnedServers } from './engine/target.js'
import { UsageError } from '../src/cli/usage-error.js'
import { loadSpecIndex } from './load/spec-index.js'
import { loadScenarios } from './load/vector-loader.js'
import { ConsoleReporter } from './report/console.js'
import { renderHtml } from './report/html.js'
import { renderJunit } from './report/junit.js'
import type { Report } from './report/report-types.js'
import { renderTap } from './report/tap.js'
import { globMatch } from './engine/glob.js'
import { runExploreCli } from './explore/explore-cli.js'
import { loadClientSuite, runClientCli } from './client/client-cli.js'

export interface CliIo {
  stdout: { write(s: string): boolean; isTTY?: boolean }
  stderr: { write(s: string): boolean; isTTY?: boolean }
}

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const stopOnSignal = onInterrupt(io)
  try {
    return await run(argv, io)
  } catch (err) {
    if (err instanceof UsageError || err instanceof KnownFailuresError) {
      io.stderr.write(`imwire conformance: ${err.message}\n`)
      return 2
    }
    io.stderr.write(`imwire conformance: harness error: ${(err as Error)?.stack ?? String(err)}\n`)
    return 2
  } finally {
    stopOnSignal()
  }
}

/** Exit status of a process stopped by a signal, as shells report it: 128 + its number. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const

/**
 * On Ctrl-C (SIGINT) or SIGTERM: stop every server this run started (each is
 * in its own process group, out of the terminal's reach), wait for them, and
 * exit 130 / 143. Returns the function that removes the handlers.
 */
function onInterrupt(io: CliIo): () => void {
  let stopping = false
  const handler = (signal: keyof typeof SIGNAL_EXIT) => {
    // A second Ctrl-C while servers are stopping waits for the first (bounded by halt()).
    if (stopping) return
    stopping = true
    stopSpawnedServers().then(
      (n) => {
        io.stderr.write(`imwire conformance: interrupted (${signal}); stopped ${n} server(s) it had started\n`)
        process.exit(SIGNAL_EXIT[signal])
      },
      () => process.exit(SIGNAL_EXIT[signal]),
    )
  }
  const onInt = () => handler('SIGINT')
  const onTerm = () => handler('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  return () => {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'explore') return runExploreCli(argv.slice(1), io)
  const args = parseArgs(argv)
  if (args.command === 'help') {
    io.stdout.write(USAGE)
    return 0
  }
  if (args.command === 'version') {
    io.stdout.write(`${kitVersion(kitPaths().root)}\n`)
    return 0
  }
  const paths = kitPaths({
    ...(args.vectorsDir ? { vectorsDir: args.vectorsDir } : {}),
    ...(args.specPath ? { specPath: args.specPath } : {}),
  })
  if (args.clientSuite)
    return runClientCli(args, paths, io, (report) => {
      for (const spec of args.reporters) if (spec.name !== 'console') emit(spec, report, io)
    })
  if (args.command !== 'run') {
    const spec = loadSpecIndex(paths.specPath)
    const loaded = loadScenarios({ dir: paths.vectorsDir, schemaPath: paths.schemaPath, spec })
    if (loaded.errors.length > 0) {
      for (const e of loaded.errors) io.stderr.write(`${e.file}${e.where ? ` ${e.where}` : ''}: ${e.message}\n`)
      io.stderr.write(`imwire conformance: ${loaded.errors.length} vector error(s)\n`)
      return 2
    }
    if (args.command === 'list') {
      const sel = loaded.scenarios.filter(
        (s) =>
          (!args.cases.length || args.cases.some((g) => globMatch(g, s.id))) &&
          (!args.requirements.length || s.requirements.some((r) => args.requirements.includes(r))) &&
          (!args.level || s.level === args.level),
      )
      io.stdout.write(
        args.json
          ? `${JSON.stringify(
              sel.map(({ id, title, level, requirements, features, needs }) => ({
                id,
                title,
                level,
                requirements,
                features,
                needs,
              })),
              null,
              2,
            )}\n`
          : renderList(sel),
      )
      return 0
    }
    if (args.command === 'explain') {
      // Failures print `tcp:ID` / `ws:ID`: the transport prefix names the same scenario.
      const id = (args.explainId ?? '').replace(/^(tcp|ws):/, '')
      const s = loaded.scenarios.find((x) => x.id === id)
      if (!s) {
        const near = loaded.scenarios.filter((x) => x.id.includes(id)).map((x) => x.id)
        io.stderr.write(
          `imwire conformance: no case '${args.explainId}'${near.length ? `; did you mean: ${near.slice(0, 5).join(', ')}` : ''}\n`,
        )
        return 2
      }
      io.stdout.write(args.json ? `${JSON.stringify(s, null, 2)}\n` : renderExplain(s, spec))
      return 0
    }
    const cov = computeCoverage(
      spec,
      loaded.scenarios,
      loadCodecVectorRefs(paths.codecVectorsDir),
      loadClientSuite(paths),
    )
    io.stdout.write(args.json ? `${JSON.stringify(cov, null, 2)}\n` : renderCoverage(cov))
    return cov.ok ? 0 : 1
  }

  const toStdout = args.reporters.some((r) => r.out === undefined && r.name !== 'console')
  const consoleOut = toStdout ? io.stderr : io.stdout
  const consoleReporter = args.quiet
    ? null
    : new ConsoleReporter(consoleOut, {
        verbose: args.verbose,
        summaryOnly: args.summaryOnly,
        ...(args.color !== undefined ? { color: args.color } : {}),
      })
  const report = await runSuite({
    targets: args.targets,
    ...(args.spawn ? { spawn: args.spawn } : {}),
    ...(args.nodes !== undefined ? { nodes: args.nodes } : {}),
    ...(args.cluster !== undefined ? { cluster: args.cluster } : {}),
    ...(args.tokenSecret ? { tokenSecret: args.tokenSecret } : {}),
    ...(args.transports.length ? { transports: args.transports } : {}),
    ...(args.jobs ? { jobs: args.jobs } : {}),
    cases: args.cases,
    requirements: args.requirements,
    ...(args.level ? { level: args.level } : {}),
    ...(args.timeScale ? { timeScale: args.timeScale } : {}),
    strict: args.strict,
    ...(args.maxFailures !== undefined ? { maxFailures: args.maxFailures } : {}),
    allTranscripts: args.allTranscripts,
    ...(args.knownFailures ? { knownFailures: args.knownFailures } : {}),
    ...(args.vectorsDir ? { vectorsDir: args.vectorsDir } : {}),
    ...(args.specPath ? { specPath: args.specPath } : {}),
    ...(args.serverLog ? { serverLog: args.serverLog } : {}),
    ...(consoleReporter
      ? {
          onStart: (i) => consoleReporter.onStart(i),
          onCaseStart: (id, t) => consoleReporter.onCaseStart(id, t),
          onCaseEnd: (r, d, n) => consoleReporter.onCaseEnd(r, d, n),
        }
      : {}),
  })
  if (consoleReporter) consoleReporter.onEnd(report)
  else for (const p of report.problems) io.stderr.write(`${p.kind}: ${p.message}\n`)
  for (const spec of args.reporters) if (spec.name !== 'console') emit(spec, report, io)
  return report.exitCode
}

export function renderReport(name: ReporterSpec['name'], report: Report): string {
  switch (name) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`
    case 'tap':
      return renderTap(report)
    case 'junit':
      return renderJunit(report)
    case 'html':
      return renderHtml(report)
    default:
      throw new UsageError(`reporter ${name} renders live only`)
  }
}

function emit(spec: ReporterSpec, report: Report, io: CliIo): void {
  const text = renderReport(spec.name, report)
  if (spec.out === undefined) {
    io.stdout.write(text)
    return
  }
  mkdirSync(dirname(spec.out), { recursive: true })
  writeFileSync(spec.out, text)
}
