// A client run as the versioned run report (vectors/schema/report.schema.json),
// so every reporter — console, TAP, JUnit, JSON, HTML — renders it unchanged.
// A client case runs over the transport the kit's scripted server listened on
// (TCP unless --transport says otherwise).
import { randomBytes } from 'node:crypto'
import type { CaseResult } from '../engine/case-types.js'
import { type KnownFailure, knownFailureFor } from '../engine/known-failures.js'
import { globMatch } from '../engine/glob.js'
import { outcomeOf, requirementRows, staleCount, summarize } from '../engine/suite-report.js'
import type { SpecIndex } from '../load/spec-index.js'
import { failingRequirements, failureGroups } from '../report/failure-groups.js'
import { type Problem, REPORT_VERSION, type Report } from '../report/report-types.js'
import type { ClientCaseResult } from './client-runner.js'
import type { ClientScenario } from './client-scenarios.js'

/** A client case as the reports show any case. */
export function toCaseResult(r: ClientCaseResult, s: ClientScenario): CaseResult {
  const verdict = r.verdict === 'skip' ? 'skipped' : r.verdict
  return {
    id: r.id,
    title: r.title,
    transport: r.transport,
    verdict,
    level: r.level,
    requirements: r.requirements,
    features: s.features ?? [],
    durationMs: r.durationMs,
    ...(verdict === 'skipped' || verdict === 'error' ? { reason: r.message ?? '' } : {}),
    ...(verdict === 'fail'
      ? {
          failure: {
            step: `steps[${r.step ?? 0}]`,
            ...(r.step !== undefined ? { stepJson: s.steps[r.step] } : {}),
            message: r.message ?? '',
          },
        }
      : {}),
    transcript: r.transcript,
  }
}

/**
 * Listed failures become expected failures; a listed case that passes, or a
 * line that matches no client scenario, is a problem that fails the run.
 * Lines may carry a `tcp:` or `ws:` prefix; a `ws:` line matches nothing unless the run used WebSocket.
 */
export function applyClientKnownFailures(
  results: CaseResult[],
  known: KnownFailure[],
  scenarios: ClientScenario[],
  file: string,
  problems: Problem[],
  transports: Array<'tcp' | 'ws'> = ['tcp'],
): void {
  const stale = new Set<KnownFailure>()
  for (const r of results) {
    const k = knownFailureFor(known, r.id, r.transport as 'tcp' | 'ws')
    if (!k) continue
    if (r.verdict === 'fail') {
      r.verdict = 'expected-failure'
      r.reason = `listed in ${file}:${k.line} (${k.text})`
    } else if (r.verdict === 'pass') {
      stale.add(k)
      r.reason = `passes but is listed in ${file}:${k.line}`
    }
  }
  for (const k of stale)
    problems.push({
      kind: 'stale-known-failure',
      line: k.line,
      text: k.text,
      message: `${file}:${k.line}: '${k.text}' lists cases that now pass: remove the line`,
    })
  for (const k of known)
    if (
      (k.transport !== null && !transports.includes(k.transport as 'tcp' | 'ws')) ||
      !scenarios.some((s) => globMatch(k.glob, s.id))
    )
      problems.push({
        kind: 'unmatched-known-failure',
        line: k.line,
        text: k.text,
        message: `${file}:${k.line}: '${k.text}' matches no client case: remove the line`,
      })
}

export interface ClientReportInput {
  command: string
  results: CaseResult[]
  problems: Problem[]
  spec: SpecIndex
  startedAt: Date
  durationMs: number
  options: Report['options']
  /** The adapter never started: exit 3, like an unreachable server. */
  unreachable?: boolean
  /** What the kit's server listened on (default tcp only). */
  transports?: Array<'tcp' | 'ws'>
}

export function clientReport(i: ClientReportInput): Report {
  for (const r of i.results)
    if (r.verdict === 'error') i.problems.push({ kind: 'harness-error', message: `${r.id}: ${r.reason ?? ''}` })
  const summary = summarize(i.results, staleCount(i.problems), i.durationMs)
  const judged = outcomeOf(summary, i.options.strict, 0)
  const { outcome, exitCode } = i.unreachable ? { outcome: 'unreachable' as const, exitCode: 3 as const } : judged
  if (i.options.transcripts === 'failing')
    for (const r of i.results) if (r.verdict === 'pass' || r.verdict === 'skipped') r.transcript = []
  return {
    version: REPORT_VERSION,
    kit: { name: 'imwire', version: '' },
    runId: randomBytes(4).readUInt32BE().toString(36),
    startedAt: i.startedAt.toISOString(),
    target: { mode: 'client', command: i.command, addresses: {} },
    transports: i.transports ?? ['tcp'],
    features: {},
    options: i.options,
    outcome,
    exitCode,
    summary,
    failureGroups: failureGroups(i.results),
    failingRequirements: failingRequirements(i.results),
    problems: i.problems,
    serverCrashes: [],
    requirements: requirementRows(i.results, i.spec),
    cases: i.results,
  }
}
