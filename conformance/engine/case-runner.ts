// Runs one scenario against one transport and judges it. Control flow
// (repeat, parallel, timeouts, failure capture) lives here; the verbs that
// talk to the server are in step-io.ts and step-expect.ts.
import type { OpenOptions, Transport, TransportKind } from '../drivers/transport.js'
import type { Scenario, Step } from '../load/scenario-types.js'
import { verbOf } from '../load/scenario-types.js'
import { deepEquals, match } from '../judge/matcher.js'
import { type CaseFailure, type CaseResult, HarnessError, StepFailure } from './case-types.js'
import type { Connection } from './connection.js'
import { CaseNames, CaseState, Scope } from './scope.js'
import { execIo } from './step-io.js'
import { execExpect } from './step-expect.js'
import { resolveTemplates, TemplateError, toBigInt } from './templating.js'
import { Transcript } from './transcript.js'

export interface ServerControl {
  restart(mode: 'kill' | 'graceful'): Promise<void>
}

export interface CaseEnv {
  scenario: Scenario
  transport: TransportKind
  caseIndex: number
  runId: string
  secret: string
  timeScale: number
  /** Open a transport to the target as it is now (addresses change across restarts). */
  open(kind: TransportKind, timeoutMs: number, options?: OpenOptions): Promise<Transport>
  server: ServerControl | null
  /**
   * Crashes of a spawned server recorded so far, and whether it died after
   * such a mark (see Target.diedSince). Absent: the runner cannot tell.
   */
  crashMark?: () => number
  diedSince?: (mark: number, waitMs: number) => Promise<boolean>
}

/** What step implementations get. */
export interface StepContext {
  env: CaseEnv
  names: CaseNames
  state: CaseState
  transcript: Transcript
  conns: Map<string, Connection>
  scale(ms: number): number
  /** Milliseconds left in the scenario budget. */
  left(): number
  conn(name: string): Connection
}

class CaseTimeout extends Error {}

export async function runCase(env: CaseEnv): Promise<CaseResult> {
  const s = env.scenario
  const transcript = new Transcript()
  const names = new CaseNames(s, env.runId, env.caseIndex, env.secret)
  const state = new CaseState()
  const conns = new Map<string, Connection>()
  const started = performance.now()
  const budget = s.timeoutMs * env.timeScale
  const deadline = started + budget
  let failure: CaseFailure | undefined
  let verdict: CaseResult['verdict'] = 'pass'
  let reason: string | undefined
  let done = false
  const ctx: StepContext = {
    env,
    names,
    state,
    transcript,
    conns,
    scale: (ms) => ms * env.timeScale,
    left: () => Math.max(0, deadline - performance.now()),
    conn(name) {
      const c = conns.get(name)
      if (!c) throw new HarnessError(`connection '${name}' is not open`)
      return c
    },
  }
  const exec = async (steps: Step[], prefix: string, scope: Scope): Promise<void> => {
    for (let i = 0; i < steps.length; i++) {
      if (done) return
      const step = steps[i] as Step
      const path = `${prefix}[${i}]`
      try {
        await execStep(step, path, scope)
      } catch (err) {
        if (err instanceof Located) throw err
        throw new Located(err, path, step)
      }
    }
  }
  const execStep = async (step: Step, path: string, scope: Scope): Promise<void> => {
    const verb = verbOf(step)
    transcript.event(
      '',
      'step',
      `${path} ${verb}${typeof step[verb] === 'string' ? ` ${step[verb] as string}` : ''}${step.comment ? ` — ${step.comment as string}` : ''}`,
    )
    switch (verb) {
      case 'repeat': {
        const as = (step.as as string | undefined) ?? 'i'
        const n = toBigInt(resolveTemplates(step.repeat, scope))
        if (n === null || n < 0n || n > 10_000n)
          throw new HarnessError(`repeat count ${JSON.stringify(step.repeat)} is not an integer from 0 to 10000`)
        for (let i = 0; i < Number(n); i++)
          await exec(step.steps as Step[], `${path}.repeat(${as}=${i})`, scope.withLoop(as, i))
        return
      }
      case 'parallel': {
        const branches = step.parallel as Step[][]
        await Promise.all(branches.map((b, j) => exec(b, `${path}.parallel[${j}]`, scope)))
        return
      }
      case 'sleep':
        await new Promise((r) => setTimeout(r, Math.min(ctx.scale(step.sleep as number), ctx.left())))
        return
      case 'set':
        for (const [k, v] of Object.entries(step.set as object)) state.vars.set(k, resolveTemplates(v, scope))
        return
      case 'assert':
        runAssert(step.assert as Record<string, unknown>, scope, ctx)
        return
      case 'restartServer': {
        if (!env.server) throw new HarnessError('restartServer without a restartable server (should have been skipped)')
        const mode = ((step.restartServer as { mode?: string }).mode ?? 'kill') as 'kill' | 'graceful'
        transcript.event('', 'restart', `server restart (${mode})`)
        try {
          await env.server.restart(mode)
        } catch (err) {
          throw new StepFailure(`the server did not come back after the restart: ${(err as Error).message}`)
        }
        transcript.event('', 'restart', 'server listening again')
        return
      }
      case 'expect':
      case 'expectSet':
      case 'expectNothing':
      case 'expectClose':
      case 'expectOpen':
        await execExpect(verb, step, scope, ctx)
        return
      default:
        await execIo(verb, step, scope, ctx)
    }
  }
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaseTimeout()), budget)
    })
    await Promise.race([exec(s.steps, 'steps', new Scope(names, state)), timeout])
  } catch (err) {
    const located = err instanceof Located ? err : null
    const cause = located ? located.cause : err
    const where = located ? { step: located.path, stepJson: located.step } : { step: '(scenario)' }
    if (cause instanceof CaseTimeout) {
      verdict = 'fail'
      failure = {
        step: '(scenario)',
        message: `scenario did not finish within its budget of ${Math.round(budget)} ms (timeoutMs ${s.timeoutMs} × time-scale ${env.timeScale})`,
      }
    } else if (cause instanceof StepFailure) {
      verdict = 'fail'
      failure = { ...where, message: cause.message, ...cause.detail }
    } else if (cause instanceof HarnessError || cause instanceof TemplateError) {
      verdict = 'error'
      reason = `harness error: ${cause.message}`
      failure = { ...where, message: reason }
    } else {
      verdict = 'error'
      reason = `runner bug: ${(cause as Error)?.stack ?? String(cause)}`
      failure = { ...where, message: reason }
    }
    transcript.event('', 'failed', `${failure.step}: ${failure.message}`)
  } finally {
    done = true
    clearTimeout(timer)
    for (const c of conns.values()) c.dispose()
  }
  return {
    id: s.id,
    title: s.title,
    transport: env.transport,
    verdict,
    level: s.level,
    requirements: s.requirements,
    features: s.features,
    durationMs: Math.round(performance.now() - started),
    ...(reason !== undefined ? { reason } : {}),
    ...(failure !== undefined ? { failure } : {}),
    transcript: transcript.finish(),
  }
}

class Located extends Error {
  constructor(
    override readonly cause: unknown,
    readonly path: string,
    readonly step: Step,
  ) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

function runAssert(a: Record<string, unknown>, scope: Scope, ctx: StepContext): void {
  const [kind, rawArg] = Object.entries(a)[0] as [string, unknown]
  if (kind === 'dense') {
    const d = rawArg as { conn: string; conversation: string; from?: unknown; to?: unknown }
    const conv = String(resolveTemplates(d.conversation, scope))
    const from = toBigInt(resolveTemplates(d.from ?? 1, scope)) ?? 1n
    const to = d.to === undefined ? null : toBigInt(resolveTemplates(d.to, scope))
    const seqs = ctx
      .conn(d.conn)
      .received.filter((f) => f.body.case === 'deliver' && f.body.value.message?.conversationId === conv)
      .map((f) => (f.body.case === 'deliver' ? (f.body.value.message?.seq ?? 0n) : 0n))
    const expected: string[] = []
    const last = to ?? (seqs.length > 0 ? from + BigInt(seqs.length) - 1n : from - 1n)
    for (let q = from; q <= last; q++) expected.push(q.toString())
    const actual = seqs.map(String)
    if (!deepEquals(expected, actual)) {
      throw new StepFailure(
        `Deliver seqs for ${conv} on ${d.conn} are not the dense run ${from}..${last} [DLV-1] [ORD-1]`,
        { expected, actual },
      )
    }
    return
  }
  const arg = resolveTemplates(rawArg, scope)
  switch (kind) {
    case 'equal': {
      const vals = arg as unknown[]
      if (!vals.every((v) => deepEquals(vals[0], v)))
        throw new StepFailure('values differ', { expected: vals[0], actual: vals })
      return
    }
    case 'notEqual': {
      const vals = arg as unknown[]
      for (let i = 0; i < vals.length; i++)
        for (let j = i + 1; j < vals.length; j++)
          if (deepEquals(vals[i], vals[j])) throw new StepFailure(`values ${i} and ${j} are equal`, { actual: vals })
      return
    }
    case 'increasing': {
      const vals = (arg as unknown[]).map((v) => toBigInt(v))
      for (let i = 1; i < vals.length; i++) {
        const a0 = vals[i - 1]
        const a1 = vals[i]
        if (a0 === null || a1 === null || a0 === undefined || a1 === undefined || !(a1 > a0))
          throw new StepFailure('values are not strictly increasing', { actual: arg })
      }
      return
    }
    case 'match': {
      const m = arg as { value: unknown; matcher: unknown }
      const mismatches = match(m.matcher, m.value, ctx.state.captures)
      if (mismatches.length > 0)
        throw new StepFailure('value does not match', { expected: m.matcher, actual: m.value, mismatches })
      return
    }
    default:
      throw new HarnessError(`unknown assert ${kind}`)
  }
}
