// Runs one scenario against one transport and judges it: set up the case,
// run its steps within the scenario budget, turn what was thrown into a
// verdict, close every connection. The steps themselves run in
// step-runner.ts.
import { type CaseFailure, type CaseResult, HarnessError, StepFailure, TimingInconclusive } from './case-types.js'
import { lagProbe } from './lag-probe.js'
import { LatencyLog } from './latency.js'
import type { ScenarioConnection } from './scenario-connection.js'
import { CaseNames, CaseState, Scope } from './scope.js'
import type { CaseEnv, StepContext } from './step-context.js'
import { Located, StepRunner } from './step-runner.js'
import { TemplateError } from './templating.js'
import { Transcript } from './transcript.js'

export type { CaseEnv, ServerControl, StepContext } from './step-context.js'

class CaseTimeout extends Error {}

export async function runCase(env: CaseEnv): Promise<CaseResult> {
  const s = env.scenario
  // 1. set up: fresh names, empty state, the budget
  const transcript = new Transcript({ whole: env.wholeTranscript === true })
  const names = new CaseNames(s, env.runId, env.caseIndex, env.secret)
  const conns = new Map<string, ScenarioConnection>()
  const started = performance.now()
  const budget = s.timeoutMs * env.timeScale
  const deadline = started + budget
  const ctx: StepContext = {
    env,
    names,
    state: new CaseState(),
    transcript,
    conns,
    scale: (ms) => ms * env.timeScale,
    left: () => Math.max(0, deadline - performance.now()),
    latency: new LatencyLog(),
    conn(name) {
      const c = conns.get(name)
      if (!c) throw new HarnessError(`connection '${name}' is not open`)
      return c
    },
  }
  const runner = new StepRunner(ctx)
  lagProbe.acquire()

  // 2. run the steps against the budget
  let judged: Judged = { verdict: 'pass' }
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaseTimeout()), budget)
    })
    await Promise.race([runner.run(s.steps, 'steps', new Scope(names, ctx.state)), timeout])
  } catch (err) {
    // 3. judge what was thrown
    judged = judge(err, env, budget)
    const answers = ctx.latency.summary()
    // A timeout says how slow the server was meanwhile: a stalled server is named, not hidden.
    if (judged.verdict === 'fail' && judged.failure && answers && /within .*\d+ ms|budget/.test(judged.failure.message))
      judged.failure.message += `; server answers took ${answers.medianMs} ms median in this case (${answers.answers} answers, max ${answers.maxMs} ms)`
    const f = judged.failure as CaseFailure
    transcript.event('', judged.verdict === 'inconclusive' ? 'inconclusive' : 'failed', `${f.step}: ${f.message}`)
  } finally {
    // 4. clean up
    runner.done = true
    lagProbe.release()
    clearTimeout(timer)
    for (const c of conns.values()) c.dispose()
  }
  const latency = ctx.latency.summary()
  return {
    id: s.id,
    title: s.title,
    transport: env.transport,
    verdict: judged.verdict,
    level: s.level,
    requirements: s.requirements,
    features: s.features,
    durationMs: Math.round(performance.now() - started),
    ...(judged.reason !== undefined ? { reason: judged.reason } : {}),
    ...(judged.failure !== undefined ? { failure: judged.failure } : {}),
    ...(latency ? { latency } : {}),
    ...(env.nodes && env.nodes.log.length > 0 ? { nodes: env.nodes.log } : {}),
    transcript: transcript.finish(),
  }
}

interface Judged {
  verdict: CaseResult['verdict']
  reason?: string
  failure?: CaseFailure
}

/** A thrown error as a verdict: the server's fault (fail) or the harness's (error). */
function judge(err: unknown, env: CaseEnv, budget: number): Judged {
  const located = err instanceof Located ? err : null
  const cause = located ? located.cause : err
  const where = located ? { step: located.path, stepJson: located.step } : { step: '(scenario)' }
  if (cause instanceof CaseTimeout)
    return {
      verdict: 'fail',
      failure: {
        step: '(scenario)',
        message: `scenario did not finish within its budget of ${Math.round(budget)} ms (timeoutMs ${env.scenario.timeoutMs} × time-scale ${env.timeScale})`,
      },
    }
  if (cause instanceof TimingInconclusive)
    return { verdict: 'inconclusive', reason: cause.message, failure: { ...where, message: cause.message } }
  if (cause instanceof StepFailure)
    return { verdict: 'fail', failure: { ...where, message: cause.message, ...cause.detail } }
  const reason =
    cause instanceof HarnessError || cause instanceof TemplateError
      ? `harness error: ${cause.message}`
      : `runner bug: ${(cause as Error)?.stack ?? String(cause)}`
  return { verdict: 'error', reason, failure: { ...where, message: reason } }
}
