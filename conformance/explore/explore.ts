// The explorer: random multi-user, multi-device, two-transport histories
// against a server, every frame judged by the model (conformance/model). On
// a disagreement the action list is shrunk (delta debugging), replayed to
// confirm, and written as a session vector.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nodesOfTargets } from '../engine/cluster-target.js'
import { FixedTarget, SpawnedTarget, type Target, UsageError } from '../engine/target.js'
import type { Violation } from '../model/expectation.js'
import { type Action, generateActions } from './actions.js'
import { type RunResult, runActions } from './run-actions.js'
import { traceToScenario } from './vector-writer.js'

export interface ExploreOptions {
  /** First seed; run i uses seed + i. Random when absent. */
  seed?: number
  /** Actions per run. */
  steps?: number
  /** Wall-clock budget for the whole exploration, ms. */
  budgetMs?: number
  /** At most this many runs (default: as many as the budget allows). */
  runs?: number
  /** Address mode: tcp://..., ws://... */
  targets?: string[]
  tokenSecret?: string
  /** Spawn mode: a command printing the listening line ({datadir}, {secret} placeholders). */
  spawn?: string
  /** Bundled server: extra `imwire serve` arguments (e.g. ["--memory"]). */
  serveArgs?: string[]
  /** Whether the server keeps its state across restarts (false for an in-memory store). */
  durable?: boolean
  /** Restart the server during runs (needs spawn or bundled). Default: when possible. */
  restarts?: boolean
  /** Where to write the shrunk vector (default: none). */
  vectorOut?: string
  /** Time spent shrinking at most, ms. */
  shrinkBudgetMs?: number
  log?: (line: string) => void
}

export interface ExploreFinding {
  seed: number
  violation: Violation
  actions: Action[]
  shrunk: Action[]
  /** The shrunk list failed again when replayed. */
  confirmed: boolean
  vectorPath?: string
  vector?: unknown
  foundAfterMs: number
}

export interface ExploreResult {
  runs: number
  steps: number
  wallMs: number
  seeds: number[]
  finding: ExploreFinding | null
}

const BUNDLED = ['dist/src/cli/main.js']

export async function explore(o: ExploreOptions): Promise<ExploreResult> {
  const started = Date.now()
  const log = o.log ?? (() => {})
  const seed0 = o.seed ?? randomBytes(4).readUInt32BE(0) % 1_000_000
  const steps = o.steps ?? 60
  const budgetMs = o.budgetMs ?? 60_000
  const secret = o.tokenSecret ?? process.env.IMWIRE_TOKEN_SECRET ?? randomBytes(12).toString('hex')
  const target = await openTarget(o, secret)
  const durable = o.durable ?? !(o.serveArgs ?? []).includes('--memory')
  const restarts = (o.restarts ?? true) && target.canRestart && durable
  const seeds: number[] = []
  let runs = 0
  let totalSteps = 0
  let finding: ExploreFinding | null = null
  const run = (actions: Action[]) =>
    runActions(actions, { target, secret, namespace: `ex-${randomBytes(3).toString('hex')}`, durable })
  try {
    log(
      `imwire explore: seed ${seed0}, ${steps} steps per run, budget ${Math.round(budgetMs / 1000)} s, restarts ${restarts ? 'on' : 'off'}`,
    )
    for (let i = 0; Date.now() - started < budgetMs && (o.runs === undefined || i < o.runs); i++) {
      const seed = seed0 + i
      seeds.push(seed)
      const actions = generateActions(seed, steps, { restarts })
      const r = await run(actions)
      runs++
      totalSteps += r.actionsRun
      if (!r.violation) continue
      const v = r.violation
      log(`seed ${seed}: ${v.requirement} on ${v.conn}: ${v.message} (action ${r.at + 1} of ${actions.length})`)
      const foundAfterMs = Date.now() - started
      const { list, last } = await shrink(actions.slice(0, r.at + 1), v, run, o.shrinkBudgetMs ?? 120_000, log)
      const confirm = await run(list)
      const confirmed = confirm.violation?.requirement === v.requirement
      const final = confirmed ? confirm : last
      finding = { seed, violation: final.violation ?? v, actions, shrunk: list, confirmed, foundAfterMs }
      const vector = traceToScenario(final, {
        seed,
        requirement: (final.violation ?? v).requirement,
        message: (final.violation ?? v).message,
      })
      finding.vector = vector
      if (o.vectorOut) {
        mkdirSync(o.vectorOut, { recursive: true })
        const path = join(o.vectorOut, `explore-${seed}.json`)
        writeFileSync(path, `${JSON.stringify(vector, null, 2)}\n`)
        finding.vectorPath = path
      }
      log(
        `shrunk to ${list.length} action(s)${confirmed ? ', confirmed' : ', NOT confirmed on replay'}${finding.vectorPath ? `; vector ${finding.vectorPath}` : ''}`,
      )
      break
    }
  } finally {
    await target.stop()
  }
  const wallMs = Date.now() - started
  log(
    `imwire explore: ${runs} run(s), ${totalSteps} steps, ${(wallMs / 1000).toFixed(1)} s, ${finding ? 'DISAGREEMENT' : 'no disagreement'} (seed ${seed0})`,
  )
  return { runs, steps: totalSteps, wallMs, seeds, finding }
}

async function openTarget(o: ExploreOptions, secret: string): Promise<Target> {
  if (o.targets && o.targets.length > 0) {
    const nodes = nodesOfTargets(o.targets)
    // The explorer's model judges one server's connections; clusters are judged by the suite.
    if (nodes.length > 1)
      throw new UsageError(
        'explore takes one address per transport; run `imwire conformance` with several --target addresses to judge a cluster',
      )
    return new FixedTarget(nodes[0] as NonNullable<(typeof nodes)[0]>)
  }
  const command = o.spawn ?? [
    process.execPath,
    ...BUNDLED,
    'serve',
    '--tcp',
    '127.0.0.1:0',
    '--ws',
    '127.0.0.1:0/imwire',
    '--token-secret',
    '{secret}',
    '--log-level',
    'silent',
    ...((o.serveArgs ?? []).includes('--memory') ? [] : ['--data-dir', '{datadir}']),
    ...(o.serveArgs ?? []),
  ]
  return SpawnedTarget.start({
    command,
    mode: o.spawn ? 'spawn' : 'bundled',
    secret,
    startTimeoutMs: 90_000,
    runStarted: performance.now(),
  })
}

/**
 * Delta debugging (ddmin) over the action list: drop chunks while the same
 * requirement still breaks. Bounded by time; the best list so far wins.
 */
async function shrink(
  actions: Action[],
  v: Violation,
  run: (a: Action[]) => Promise<RunResult>,
  budgetMs: number,
  log: (s: string) => void,
): Promise<{ list: Action[]; last: RunResult }> {
  const started = Date.now()
  let list = actions
  let last: RunResult | null = null
  const fails = async (cand: Action[]) => {
    const r = await run(cand)
    if (r.violation?.requirement === v.requirement) {
      last = r
      return true
    }
    return false
  }
  let n = 2
  while (list.length >= 2 && Date.now() - started < budgetMs) {
    const chunk = Math.ceil(list.length / n)
    let reduced = false
    for (let i = 0; i < list.length && Date.now() - started < budgetMs; i += chunk) {
      const cand = [...list.slice(0, i), ...list.slice(i + chunk)]
      if (cand.length > 0 && (await fails(cand))) {
        list = cand
        n = Math.max(n - 1, 2)
        reduced = true
        break
      }
    }
    if (!reduced) {
      if (chunk === 1) break
      n = Math.min(n * 2, list.length)
    }
  }
  log(`shrinking: ${actions.length} -> ${list.length} actions in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return { list, last: last ?? (await run(list)) }
}
