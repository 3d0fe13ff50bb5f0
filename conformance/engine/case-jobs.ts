// Phase 4 of a run: one job per (scenario, transport), skipped up front when
// the server lacks a feature or the harness cannot restart it; then the
// parallel pool, longest cases first, with restart cases kept apart.
import { otherTransport, type TransportKind } from '../drivers/transport.js'
import type { Scenario } from '../load/scenario-types.js'
import type { Report } from '../report/report-types.js'
import { runCase } from './case-runner.js'
import { NodePlacement } from './node-placement.js'
import type { CaseResult } from './case-types.js'
import { longestFirst } from './schedule.js'
import type { Target } from './target.js'

export interface Job {
  scenario: Scenario
  transport: TransportKind
  index: number
  skip?: string
}

export function planJobs(
  selected: Scenario[],
  available: TransportKind[],
  features: Report['features'],
  target: Pick<Target, 'canRestart' | 'addresses'>,
): Job[] {
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
  return all
}

export interface RunJobsOptions {
  runId: string
  secret: string
  timeScale: number
  jobs: number
  /** Stop starting cases once this many have failed (the rest are skipped with the reason). */
  maxFailures?: number
  /** A second server for the restart cases (bundled mode), or null to run them after the others. */
  openRestartTarget: (() => Promise<Target>) | null
  onCaseStart?: (id: string, transport: TransportKind) => void
  onCaseEnd?: (result: CaseResult, done: number, total: number) => void
  /** Transcripts kept whole (see SuiteOptions.wholeTranscripts). */
  wholeTranscripts?: boolean
}

/** Runs every job; returns results in job order and the restart server's crashes. */
export async function runJobs(
  all: Job[],
  target: Target,
  o: RunJobsOptions,
): Promise<{ results: CaseResult[]; restartTarget: Target | null }> {
  const results = new Array<CaseResult>(all.length)
  let finished = 0
  let failures = 0
  const stopped = () => o.maxFailures !== undefined && failures >= o.maxFailures
  const runJob = async (job: Job, on: Target) => {
    const skip = job.skip ?? (stopped() ? `not run: --max-failures ${o.maxFailures} reached` : undefined)
    if (skip === undefined) o.onCaseStart?.(job.scenario.id, job.transport)
    const nodes = placementFor(job, on)
    const result =
      skip !== undefined
        ? skipped(job, skip)
        : await runCase({
            scenario: job.scenario,
            transport: job.transport,
            caseIndex: job.index,
            runId: o.runId,
            secret: o.secret,
            timeScale: o.timeScale,
            open: (kind, ms, opts, node) => on.open(kind, ms, opts, node),
            wsAddress: (node) => (node === undefined ? on.addresses().ws : on.info().nodes?.[node]?.ws),
            ...(nodes ? { nodes } : {}),
            server: on.canRestart ? on : null,
            crashMark: () => on.crashes.length,
            diedSince: (mark, ms) => on.diedSince(mark, ms),
            ...(o.wholeTranscripts ? { wholeTranscript: true } : {}),
          })
    if (result.verdict === 'fail' || result.verdict === 'error') failures++
    results[job.index] = result
    finished++
    o.onCaseEnd?.(result, finished, all.length)
  }
  // Restart cases stop the server, so they never share it with other cases:
  // the bundled server gets a second instance of its own for them (it
  // listens on ephemeral ports); a --spawn command may use fixed ports, so
  // there they run one at a time after the others.
  const exclusive = all.filter((j) => !j.skip && j.scenario.needs.includes('restart'))
  const shared = longestFirst(all.filter((j) => !exclusive.includes(j)))
  const restartTarget = exclusive.length > 0 && o.openRestartTarget ? await o.openRestartTarget() : null
  try {
    const restartCases = async () => {
      for (const j of exclusive) await runJob(j, restartTarget ?? target)
    }
    if (restartTarget) await Promise.all([pool(shared, o.jobs, (j) => runJob(j, target)), restartCases()])
    else {
      await pool(shared, o.jobs, (j) => runJob(j, target))
      await restartCases()
    }
  } finally {
    if (restartTarget) await restartTarget.stop()
  }
  return { results, restartTarget }
}

/** A cluster target's placement for one case: its start advances with the case's index in the run. */
export function placementFor(job: Pick<Job, 'index'>, on: Pick<Target, 'info'>): NodePlacement | undefined {
  const count = on.info().nodes?.length ?? 1
  if (count < 2) return undefined
  return new NodePlacement(count, job.index % count, (node, kind) => on.info().nodes?.[node]?.[kind])
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
}

function skipped(job: Job, reason: string): CaseResult {
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
    reason,
    transcript: [],
  }
}
